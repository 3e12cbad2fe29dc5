"""Repository of the outbox: writing events, claiming the next one due, recording attempts.

Functions take the session first and never commit: writing an event belongs to the
transaction of what it tells (a cancellation); the worker commits after each attempt.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ivr.models import Cita, EventoOutbox

# Delivery is retried for this long after the event was written (or retried by hand), then
# the event is dead.
VENTANA = timedelta(hours=24)
LARGO_ERROR = 300


def encolar(sesion: Session, *, evento: str, destino: str, cita_id: int,
            cancelacion_id: int | None, cuerpo: str, ahora: datetime,
            evento_id: str | None = None) -> EventoOutbox:
    """Add an event to deliver now (in the caller's transaction); flushed, so it has its id."""
    ahora = ahora.astimezone(UTC)
    fila = EventoOutbox(evento_id=evento_id or str(uuid.uuid4()), evento=evento, destino=destino,
                        cita_id=cita_id, cancelacion_id=cancelacion_id, cuerpo=cuerpo,
                        estado="pendiente", intentos=0, creado_en=ahora,
                        proximo_intento_en=ahora, vence_en=ahora + VENTANA)
    sesion.add(fila)
    sesion.flush()
    return fila


def outbox_pendientes(sesion: Session) -> int:
    """How many events are still to be delivered (for metrics and the operator)."""
    return sesion.scalar(select(func.count()).select_from(EventoOutbox)
                         .where(EventoOutbox.estado == "pendiente")) or 0


def eventos_de_cancelacion(sesion: Session, cancelacion_id: int) -> list[EventoOutbox]:
    """The events a cancellation wrote, in the order they were written."""
    return list(sesion.scalars(select(EventoOutbox)
                               .where(EventoOutbox.cancelacion_id == cancelacion_id)
                               .order_by(EventoOutbox.id)))


def reclamar_siguiente(sesion: Session, ahora: datetime) -> EventoOutbox | None:
    """The oldest pending event that is due and not held back by an earlier pending event of
    the same cita and destination (order per cita), locked for this transaction.

    On PostgreSQL the row stays locked (FOR UPDATE SKIP LOCKED) until the caller commits or
    rolls back: other workers skip it, and if this worker dies the lock goes with its
    connection and the event is simply pending again. SQLite has no row locks: one worker.
    """
    previo = aliased(EventoOutbox)
    retenido = (select(previo.id)
                .where(previo.cita_id == EventoOutbox.cita_id,
                       previo.destino == EventoOutbox.destino,
                       previo.id < EventoOutbox.id,
                       previo.estado == "pendiente")
                .exists())
    consulta = (select(EventoOutbox)
                .where(EventoOutbox.estado == "pendiente",
                       EventoOutbox.proximo_intento_en <= ahora.astimezone(UTC),
                       ~retenido)
                .order_by(EventoOutbox.proximo_intento_en, EventoOutbox.id)
                .limit(1))
    if sesion.get_bind().dialect.name == "postgresql":
        consulta = consulta.with_for_update(skip_locked=True, of=EventoOutbox)
    return sesion.scalars(consulta).first()


def marcar_entregado(sesion: Session, fila: EventoOutbox, ahora: datetime) -> None:
    """Record a successful delivery."""
    fila.estado = "entregado"
    fila.intentos += 1
    fila.entregado_en = ahora.astimezone(UTC)
    fila.ultimo_error = None
    sesion.flush()


def marcar_fallido(sesion: Session, fila: EventoOutbox, ahora: datetime, error: str,
                   espera: timedelta) -> None:
    """Record a failed attempt: try again after `espera`, but never past the event's window;
    an attempt that fails at or after the end of the window makes it dead."""
    ahora = ahora.astimezone(UTC)
    fila.intentos += 1
    fila.ultimo_error = error[:LARGO_ERROR]
    if ahora >= _utc(fila.vence_en):
        fila.estado = "muerto"
    else:
        fila.proximo_intento_en = min(ahora + espera, _utc(fila.vence_en))
    sesion.flush()


def reintentar(sesion: Session, evento_id: int, ahora: datetime) -> EventoOutbox | None:
    """Put a dead (or pending) event back to be delivered now, with a fresh window; None when
    there is no such event, and a delivered one is left as it is."""
    fila = sesion.get(EventoOutbox, evento_id, with_for_update=_bloqueo(sesion))
    if fila is None or fila.estado == "entregado":
        return fila
    ahora = ahora.astimezone(UTC)
    fila.estado = "pendiente"
    fila.proximo_intento_en = ahora
    fila.vence_en = ahora + VENTANA
    sesion.flush()
    return fila


def listar(sesion: Session, estado: str | None = None,
           limite: int = 200) -> list[tuple[EventoOutbox, str]]:
    """Events newest first with their cita's clave, optionally only those in one state."""
    consulta = (select(EventoOutbox, Cita.clave).join(Cita, Cita.id == EventoOutbox.cita_id)
                .order_by(EventoOutbox.id.desc()).limit(limite))
    if estado:
        consulta = consulta.where(EventoOutbox.estado == estado)
    return [(fila, clave) for fila, clave in sesion.execute(consulta)]


def contar_por_estado(sesion: Session) -> dict[str, int]:
    """How many events are in each state."""
    filas = sesion.execute(select(EventoOutbox.estado, func.count())
                           .group_by(EventoOutbox.estado))
    return {estado: n for estado, n in filas}


def _bloqueo(sesion: Session) -> bool:
    return sesion.get_bind().dialect.name == "postgresql"


def _utc(momento: datetime) -> datetime:
    # SQLite gives timestamps back naive (they were stored as UTC).
    return momento if momento.tzinfo else momento.replace(tzinfo=UTC)
