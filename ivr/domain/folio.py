"""Cancellation folios: short codes a caller can write down from a spoken spelling."""

import secrets
import string

# 0/O and 1/I/L are confused when written down or read back.
ALFABETO = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")
LETRAS = "".join(c for c in ALFABETO if c.isalpha())
LONGITUD = 7


def nuevo_folio(rng=None) -> str:
    """Return a random folio of 7 characters from ALFABETO, starting with a letter."""
    rng = rng or secrets
    # A leading letter keeps spreadsheets and agents' tools from reading the folio as a number.
    return rng.choice(LETRAS) + "".join(rng.choice(ALFABETO) for _ in range(LONGITUD - 1))


def es_folio(texto: str) -> bool:
    """Whether *texto* has the shape of a folio issued by nuevo_folio."""
    return (len(texto) == LONGITUD and texto[:1] in LETRAS
            and all(c in ALFABETO for c in texto))
