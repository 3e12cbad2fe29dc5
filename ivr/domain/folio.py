"""Cancellation folios: short codes a caller can hear on a phone line and write down."""

import secrets

# Letters whose Mexican names don't sound alike on a phone line and don't look alike on paper:
# efe, hache, jota, ka, erre, doble u, equis, i griega. Left out: the "e" family (be, ce, de,
# e, ge, pe, te, ve, zeta), eme/ene and ele, ese (heard as efe), a/o/u and i (short vowels a
# line swallows; O and I look like 0 and 1), cu (heard as u, looks like O). Digits 2-9: 0 and 1
# look like O and I/L.
LETRAS = "FHJKRWXY"
DIGITOS = "23456789"
ALFABETO = LETRAS + DIGITOS
LONGITUD = 7
# Folios issued before the phone-friendly alphabet: still valid, never issued again.
ALFABETO_ANTERIOR = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def nuevo_folio(rng=None) -> str:
    """Return a random folio of 7 characters from ALFABETO, starting with a letter."""
    rng = rng or secrets
    # A leading letter keeps spreadsheets and agents' tools from reading the folio as a number.
    return rng.choice(LETRAS) + "".join(rng.choice(ALFABETO) for _ in range(LONGITUD - 1))


def es_folio(texto: str) -> bool:
    """Whether *texto* has the shape of a folio, issued now or with the earlier alphabet."""
    return (len(texto) == LONGITUD and texto[:1].isalpha()
            and (all(c in ALFABETO for c in texto)
                 or all(c in ALFABETO_ANTERIOR for c in texto)))
