"""How the agents' page writes dates, ages, names and phone numbers (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from ivr.models import Cita, Derechohabiente

MEXICO = ZoneInfo("America/Mexico_City")
# A cita that starts sooner than this is flagged: the caller may not make it, or it may be
# too late to give the slot to someone else.
PRONTO = timedelta(hours=36)


def utc(momento: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes: they were stored in UTC."""
    if momento is None:
        return None
    return momento if momento.tzinfo else momento.replace(tzinfo=UTC)


def hace(momento: datetime, ahora: datetime) -> str:
    """How long ago, in words: "hace 3 minutos"."""
    segundos = max(0, int((ahora - momento).total_seconds()))
    if segundos < 60:
        return "hace menos de un minuto"
    if segundos < 3600:
        minutos = segundos // 60
        return f"hace {minutos} minuto{'s' if minutos != 1 else ''}"
    if segundos < 2 * 86400:
        horas = segundos // 3600
        return f"hace {horas} hora{'s' if horas != 1 else ''}"
    return f"hace {segundos // 86400} días"


def fecha_larga(d: date) -> str:
    """ "miércoles 2 de diciembre de 2026"."""
    return format_date(d, "EEEE d 'de' MMMM 'de' y", locale="es_MX")


def fecha_corta(d: date) -> str:
    """ "mié 2 dic" (the list's column)."""
    return format_date(d, "EEE d MMM", locale="es_MX").replace(".", "")


def horas(inicio: time, fin: time | None) -> str:
    """ "15:00–15:15"."""
    return inicio.strftime("%H:%M") + (f"–{fin.strftime('%H:%M')}" if fin else "")


def pronto(cita: Cita | None, ahora: datetime) -> bool:
    """The cita is still agendada, has not started, and starts in less than 36 hours."""
    return bool(cita and cita.estado == "agendada"
                and timedelta(0) < cita.inicio - ahora < PRONTO)


def cita_corta(cita: Cita | None) -> str | None:
    """ "mié 2 dic, 15:00" (a list's column)."""
    return f"{fecha_corta(cita.fecha)}, {cita.hora_inicio.strftime('%H:%M')}" if cita else None


def nombre_completo(d: Derechohabiente) -> str:
    """Given name and both surnames."""
    return " ".join(p for p in (d.nombre, d.primer_apellido, d.segundo_apellido) if p)


def ultimos_cuatro(telefono: str | None) -> str:
    """Only the last four digits of a phone number ("…5678"), enough to match a caller."""
    digitos = "".join(c for c in telefono or "" if c.isdigit())
    return f"…{digitos[-4:]}" if len(digitos) >= 4 else ""
