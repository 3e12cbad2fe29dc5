"""What the voice reads of agenda data: unit names and window numbers written to be said."""

import re

from num2words import num2words

# Abbreviations a speech engine reads wrongly: "No. 4" is "no", a full stop, "cuatro".
_ABREVIATURAS = [
    (re.compile(r"\b(?:No|Núm|Num|N[°º])\.?\s*(?=\d)", re.IGNORECASE), "número "),
    (re.compile(r"#\s*(?=\d)"), "número "),
    (re.compile(r"\bAv\.\s*", re.IGNORECASE), "avenida "),
    (re.compile(r"\bCol\.\s*", re.IGNORECASE), "colonia "),
    (re.compile(r"\bEdo\.\s*", re.IGNORECASE), "estado de "),
    (re.compile(r"\bDel\.\s*", re.IGNORECASE), "delegación "),
]


def unidad(nombre: str) -> str:
    """The name of a unidad administrativa as it should be said: "UAPES No. 4" -> "UAPES
    número 4"."""
    dicho = nombre
    for patron, reemplazo in _ABREVIATURAS:
        dicho = patron.sub(reemplazo, dicho)
    return " ".join(dicho.split())


def numero(texto: str) -> str:
    """A number as written in the agenda, said: "03" -> "tres"; anything else as written."""
    limpio = texto.strip()
    return num2words(int(limpio), lang="es") if limpio.isdigit() else limpio
