"""Reading the agents' forms: ids that fit the database, free text without control characters."""

from __future__ import annotations

import re

from flask import request

from ivr import webhook

MAX_ID = 2**31 - 1  # the database's integer columns


def id_de(nombre: str) -> int | None:
    """An id field: ASCII digits that fit an integer column, else None."""
    valor = request.form.get(nombre, "")
    if not re.fullmatch(r"[0-9]{1,10}", valor) or int(valor) > MAX_ID:
        return None
    return int(valor)


def texto(nombre: str, maximo: int) -> str:
    """A free-text field: no control characters (PostgreSQL refuses a NUL, and its error would
    carry the text into the log), spaces collapsed, at most *maximo* long."""
    return " ".join((webhook.limpiar(request.form.get(nombre), 4 * maximo) or "").split())[:maximo]
