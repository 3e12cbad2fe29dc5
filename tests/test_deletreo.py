"""Spelling for the text-to-speech voice."""

import pytest

from ivr.domain.deletreo import deletrear


@pytest.mark.parametrize(
    ("texto", "dicho"),
    [
        ("UC3QK2", "u, ce, tres, cu, ka, dos"),
        ("uc3qk2", "u, ce, tres, cu, ka, dos"),
        ("ABCDEFGHIJKLMN",
         "a, be grande, ce, de, e, efe, ge, hache, i, jota, ka, ele, eme, ene"),
        ("ÑOPQRSTUVWXYZ",
         "eñe, o, pe, cu, erre, ese, te, u, ve chica, doble u, equis, i griega, zeta"),
        ("0123456789", "cero, uno, dos, tres, cuatro, cinco, seis, siete, ocho, nueve"),
        ("AB-12 C", "a, be grande, uno, dos, ce"),
        ("", ""),
    ],
)
def test_deletrear(texto, dicho):
    assert deletrear(texto) == dicho


@pytest.mark.parametrize("texto", ["AB#", "Á", "A/B", "A_B"])
def test_deletrear_rechaza_lo_que_no_sabe_decir(texto):
    with pytest.raises(ValueError):
        deletrear(texto)
