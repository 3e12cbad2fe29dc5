"""Repository of callback requests (devoluciones de llamada): ask, list, mark as called.

Functions take the session first and never commit (the web layer commits at the request edge).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ivr.models import RESULTADOS_DEVOLUCION, Devolucion


def pedir_devolucion(session: Session, *, call_sid: str, transferencia_id: int, telefono: str,
                     ahora: datetime) -> Devolucion:
    """Record the caller's request to be called back (one per call: a repeat returns it)."""
    existente = session.scalars(select(Devolucion).where(Devolucion.call_sid == call_sid)).first()
    if existente is not None:
        return existente
    devolucion = Devolucion(call_sid=call_sid, transferencia_id=transferencia_id,
                            telefono=telefono, creada_en=ahora, estado="pendiente")
    session.add(devolucion)
    session.flush()
    return devolucion


def devoluciones(session: Session, *, solo_pendientes: bool = True) -> list[Devolucion]:
    """Callback requests in the order agents work them: pending first, oldest first (the order
    the callers asked in); then, when asked for all, the ones already called, latest first.
    Each comes with its transfer (the context: reason, who, which cita, the path)."""
    consulta = select(Devolucion).options(joinedload(Devolucion.transferencia))
    if solo_pendientes:
        consulta = consulta.where(Devolucion.estado == "pendiente")
    filas = session.scalars(consulta.order_by(Devolucion.creada_en, Devolucion.id)).all()
    pendientes = [d for d in filas if d.estado == "pendiente"]
    llamadas = sorted((d for d in filas if d.estado != "pendiente"),
                      key=lambda d: (d.llamado_en, d.id), reverse=True)
    return pendientes + llamadas


def devolucion_por_id(session: Session, devolucion_id: int) -> Devolucion | None:
    """The callback request with this id, with its transfer."""
    return session.get(Devolucion, devolucion_id, options=[joinedload(Devolucion.transferencia)])


def marcar_llamado(session: Session, devolucion_id: int, *, resultado: str, agente: str,
                   ahora: datetime, nota: str | None = None) -> Devolucion | None:
    """An agent called the caller back: mark it "llamado" with the outcome (one of
    RESULTADOS_DEVOLUCION; anything else is a ValueError). None when there is no such request."""
    if resultado not in RESULTADOS_DEVOLUCION:
        raise ValueError(f"resultado desconocido: {resultado!r}")
    devolucion = session.get(Devolucion, devolucion_id)
    if devolucion is None:
        return None
    devolucion.estado = "llamado"
    devolucion.resultado = resultado
    devolucion.nota = " ".join((nota or "").split())[:200] or None
    devolucion.llamado_en = ahora
    devolucion.llamado_por = agente
    session.flush()
    return devolucion
