"""Keypad forms of documents and surnames."""

import pytest

from ivr.domain.keypad import TECLAS, a_teclas


@pytest.mark.parametrize(
    ("texto", "teclas"),
    [
        ("GOMA850123HDFRRN09", "466285012343377609"),
        ("goma850123hdfrrn09", "466285012343377609"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999"),
        ("0123456789", "0123456789"),
        ("Muñoz", "68669"),
        ("NUÑEZ", "68639"),
        ("Güemes", "483637"),
        ("Pérez", "73739"),
        ("ÁÉÍÓÚ", "23468"),
        ("De la O", "33526"),
        ("Pérez-Gómez", "7373946639"),
        ("D'Angelo", "3264356"),
        ("D\u2019Angelo", "3264356"),
        ("G. Ochoa", "462462"),
        ("", ""),
    ],
)
def test_a_teclas(texto, teclas):
    assert a_teclas(texto) == teclas


@pytest.mark.parametrize("texto", ["GOMA#", "*", "A&B", "Ø", "ß", "١٢", "ABC_1", "A/B"])
def test_a_teclas_rechaza_caracteres_sin_tecla(texto):
    with pytest.raises(ValueError):
        a_teclas(texto)


@pytest.mark.parametrize(
    ("letra", "tecla"),
    [("A", "2"), ("C", "2"), ("F", "3"), ("I", "4"), ("L", "5"), ("O", "6"), ("S", "7"),
     ("V", "8"), ("Z", "9")],
)
def test_teclas(letra, tecla):
    assert TECLAS[letra] == tecla


def test_teclas_cubre_el_alfabeto():
    assert sorted(TECLAS) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
