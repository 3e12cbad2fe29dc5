"""Agenda data written the way the voice must say it."""

import pytest

from ivr.domain.locucion import numero, unidad


@pytest.mark.parametrize(
    ("nombre", "dicho"),
    [
        ("UAPES No. 4", "UAPES número 4"),
        ("UAPES No.4", "UAPES número 4"),
        ("UAPES Núm. 12", "UAPES número 12"),
        ("UAPES N° 7", "UAPES número 7"),
        ("Oficina #3", "Oficina número 3"),
        ("Delegación Estatal Av. Juárez", "Delegación Estatal avenida Juárez"),
        ("UAPES Norte", "UAPES Norte"),  # "No" inside a word is not an abbreviation
        ("UAPES  No.   4 ", "UAPES número 4"),
    ],
)
def test_unidad(nombre, dicho):
    assert unidad(nombre) == dicho


@pytest.mark.parametrize(("texto", "dicho"), [("03", "tres"), ("2", "dos"), ("12", "doce"),
                                              ("A3", "A3"), (" 05 ", "cinco")])
def test_numero(texto, dicho):
    assert numero(texto) == dicho
