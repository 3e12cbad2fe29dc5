"""Dates and times said as a Mexican operator would say them."""

from datetime import date, time

from babel.dates import format_date

LOCALE = "es_MX"


def dia_y_fecha(d: date) -> str:
    """Say a date as "martes 2 de diciembre"."""
    return format_date(d, "EEEE d 'de' MMMM", locale=LOCALE)


def _periodo(t: time) -> str:
    if t.hour < 12:
        return "de la mañana"
    if t.hour < 20:
        return "de la tarde"
    return "de la noche"


def _reloj(t: time) -> str:
    hora = t.hour % 12 or 12
    return f"{hora}:{t.minute:02d}"


def _con_articulo(t: time) -> str:
    # "la una", "las dos": only 1:xx is singular.
    articulo = "la" if t.hour % 12 == 1 else "las"
    return f"{articulo} {_reloj(t)}"


def hora(t: time) -> str:
    """Say a time on the 12-hour clock, as "3:15 de la tarde"."""
    return f"{_reloj(t)} {_periodo(t)}"


def a_la_hora(t: time) -> str:
    """Say "at" a time, as "a las 3:15 de la tarde" or "a la 1:00 de la tarde"."""
    return f"a {_con_articulo(t)} {_periodo(t)}"


def horario(inicio: time, fin: time) -> str:
    """Say a time range, as "de las 3:00 a las 3:15 de la tarde"."""
    if _periodo(inicio) == _periodo(fin):
        return f"de {_con_articulo(inicio)} a {_con_articulo(fin)} {_periodo(fin)}"
    return (f"de {_con_articulo(inicio)} {_periodo(inicio)} "
            f"a {_con_articulo(fin)} {_periodo(fin)}")
