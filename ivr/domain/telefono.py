"""Phone numbers of the agenda: a registered Mexican number in E.164, for an SMS."""

from __future__ import annotations

import re

SEPARADORES = re.compile(r"[\s\-.()/]")
# Ten digits, national (area code + number); Mexican area codes never start with 0 or 1.
NACIONAL = re.compile(r"[2-9]\d{9}")


def movil_mx(telefono: str | None) -> str | None:
    """The agenda's `telefono` as +52 and its 10 digits ("55 1234-5634" -> "+525512345634"),
    or None when it is missing or is not a Mexican 10-digit number."""
    if not telefono:
        return None
    digitos = SEPARADORES.sub("", telefono)
    for prefijo in ("+52", "0052", "52"):
        if digitos.startswith(prefijo) and len(digitos) == len(prefijo) + 10:
            digitos = digitos[len(prefijo):]
            break
    if not NACIONAL.fullmatch(digitos):
        return None
    return "+52" + digitos
