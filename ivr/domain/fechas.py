"""Dates and times said as a Mexican operator would say them, numbers of the clock in words."""

import functools
from datetime import date, time

from babel.dates import format_date
from num2words import num2words

LOCALE = "es_MX"


# Cached: the agenda's few hundred dates and clock times are said over and over, and babel
# and num2words work each out anew (a tenth of the read-back webhook's CPU).
@functools.lru_cache(maxsize=2048)
def dia_y_fecha(d: date) -> str:
    """Say a date as "martes 2 de diciembre"."""
    return format_date(d, "EEEE d 'de' MMMM", locale=LOCALE)


def _periodo(t: time) -> str:
    if t.hour < 12:
        return "de la mañana"
    if t.hour == 12:
        return "del día"  # noon, as Mexicans say it
    if t.hour < 20:
        return "de la tarde"
    return "de la noche"


@functools.lru_cache(maxsize=2048)
def _reloj(t: time) -> str:
    # In words: a speech engine reads "10:00" as "diez cero cero" and callers hear numbers.
    hora = t.hour % 12 or 12
    palabras = "una" if hora == 1 else num2words(hora, lang="es")
    if t.minute == 0:
        return palabras
    if t.minute == 15:
        return f"{palabras} y cuarto"
    if t.minute == 30:
        return f"{palabras} y media"
    return f"{palabras} y {num2words(t.minute, lang='es')}"


def _con_articulo(t: time) -> str:
    # "la una", "las dos": only 1:xx is singular.
    articulo = "la" if t.hour % 12 == 1 else "las"
    return f"{articulo} {_reloj(t)}"


def hora(t: time) -> str:
    """Say a time on the 12-hour clock, in words: "tres y cuarto de la tarde"."""
    return f"{_reloj(t)} {_periodo(t)}"


def a_la_hora(t: time) -> str:
    """Say "at" a time: "a las diez de la mañana", "a la una y media de la tarde"."""
    return f"a {_con_articulo(t)} {_periodo(t)}"


def horario(inicio: time, fin: time) -> str:
    """Say a time range: "de las tres a las tres y cuarto de la tarde"."""
    if _periodo(inicio) == _periodo(fin):
        return f"de {_con_articulo(inicio)} a {_con_articulo(fin)} {_periodo(fin)}"
    return (f"de {_con_articulo(inicio)} {_periodo(inicio)} "
            f"a {_con_articulo(fin)} {_periodo(fin)}")
