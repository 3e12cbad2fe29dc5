"""Cancellation folios."""

import random

import pytest

from ivr.domain.folio import ALFABETO, es_folio, nuevo_folio


def test_alfabeto_sin_caracteres_que_se_confunden_al_oido_ni_al_escribir():
    assert ALFABETO == "FHJKRWXY23456789"
    # the "e" family, m/n/l, s (heard as f), short vowels, q, and 0/1
    assert not set(ALFABETO) & set("BCDEGPTVZMNLSAIOUQ01")


class _Primero:
    """An rng that always picks the first option, to pin the shape of the folio."""

    def choice(self, opciones):
        return opciones[0]


class _Ultimo:
    def choice(self, opciones):
        return opciones[-1]


@pytest.mark.parametrize(("rng", "folio"), [(_Primero(), "FFFFFFF"), (_Ultimo(), "Y999999")])
def test_nuevo_folio_con_rng(rng, folio):
    assert nuevo_folio(rng) == folio


def test_nuevo_folio_al_azar_tiene_forma_de_folio():
    folios = {nuevo_folio() for _ in range(200)}
    assert all(es_folio(f) for f in folios)
    assert len(folios) == 200


def test_nuevo_folio_usa_todo_el_alfabeto():
    rng = random.Random(7)
    vistos = set("".join(nuevo_folio(rng) for _ in range(500)))
    assert vistos == set(ALFABETO)


@pytest.mark.parametrize(
    ("texto", "valido"),
    [
        ("FH2J3K4", True),
        ("Y999999", True),
        ("AB2C3D4", True),  # issued with the earlier alphabet: still a folio
        ("Z999999", True),
        ("FHAB234", True),  # also all from the earlier alphabet
        ("2HJKRWX", False),  # starts with a digit
        ("2BCDEFG", False),  # starts with a digit
        ("AB0C3D4", False),
        ("ABOC3D4", False),
        ("AB1C3D4", False),
        ("ABIC3D4", False),
        ("ABLC3D4", False),
        ("ab2c3d4", False),
        ("AB2C3D", False),
        ("AB2C3D45", False),
        ("", False),
    ],
)
def test_es_folio(texto, valido):
    assert es_folio(texto) is valido
