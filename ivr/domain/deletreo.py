"""Spelling of claves and folios for the Spanish text-to-speech voice, with Mexican letter names.

B and V sound the same in Spanish: they are told apart as "be grande" and "ve chica", the way
people in Mexico spell on the phone; Y is "i griega" and W "doble u" ("ye" and "uve" are
Spain's names and a Mexican caller may not know them)."""

_NOMBRES = {
    "A": "a", "B": "be grande", "C": "ce", "D": "de", "E": "e", "F": "efe", "G": "ge", "H": "hache",
    "I": "i", "J": "jota", "K": "ka", "L": "ele", "M": "eme", "N": "ene", "Ñ": "eñe", "O": "o",
    "P": "pe", "Q": "cu", "R": "erre", "S": "ese", "T": "te", "U": "u", "V": "ve chica",
    "W": "doble u", "X": "equis", "Y": "i griega", "Z": "zeta",
    "0": "cero", "1": "uno", "2": "dos", "3": "tres", "4": "cuatro", "5": "cinco", "6": "seis",
    "7": "siete", "8": "ocho", "9": "nueve",
}
# Callers may see claves written with separators; they carry nothing to spell.
_IGNORADOS = frozenset(" -.")


def deletrear(texto: str) -> str:
    """Spell *texto* by the Spanish names of its letters and digits: "UC3" -> "u, ce, tres"."""
    nombres = []
    for caracter in texto.upper():
        if caracter in _IGNORADOS:
            continue
        nombre = _NOMBRES.get(caracter)
        if nombre is None:
            raise ValueError(f"carácter que no se puede deletrear: {caracter!r}")
        nombres.append(nombre)
    return ", ".join(nombres)
