"""Keypad (ITU E.161) forms of CURPs, RFCs and surnames, as callers type them."""

import unicodedata

_TECLADO = {
    "2": "ABC",
    "3": "DEF",
    "4": "GHI",
    "5": "JKL",
    "6": "MNO",
    "7": "PQRS",
    "8": "TUV",
    "9": "WXYZ",
}

TECLAS: dict[str, str] = {letra: tecla for tecla, letras in _TECLADO.items() for letra in letras}

_DIGITOS = frozenset("0123456789")
# Written surnames carry these ("De la O", "D'Artagnan") but the keypad has no key for them.
_IGNORADOS = frozenset(" -.'\u2019\t")


def a_teclas(texto: str) -> str:
    """Return the keys pressed to type *texto* on a phone: one key per letter, digits as is."""
    teclas = []
    # NFD splits Á into A + combining accent, Ñ into N + tilde and Ü into U + diaeresis,
    # which is how callers type them: on the key of the bare letter.
    for caracter in unicodedata.normalize("NFD", texto):
        if unicodedata.combining(caracter) or caracter in _IGNORADOS:
            continue
        if caracter in _DIGITOS:
            teclas.append(caracter)
            continue
        tecla = TECLAS.get(caracter.upper())
        if tecla is None:
            raise ValueError(f"carácter sin tecla: {caracter!r}")
        teclas.append(tecla)
    return "".join(teclas)
