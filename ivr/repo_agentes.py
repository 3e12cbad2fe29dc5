"""Repository of the agents' page: accounts, the transfers list, a caller's citas and records.

Kept apart from ivr/repo.py (the phone line's lookups and the atomic cancellation) so that the
page's queries have one home. Functions take the session first and never commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ivr.models import (
    Agente,
    Cancelacion,
    Cita,
    Derechohabiente,
    Devolucion,
    Llamada,
    Transferencia,
    Unidad,
)

# -- accounts ------------------------------------------------------------------------------


def agente_por_id(session: Session, agente_id: int) -> Agente | None:
    """The agent with this id, if any."""
    return session.get(Agente, agente_id)


def agente_por_usuario(session: Session, usuario: str) -> Agente | None:
    """The agent with this (already normalised) user name, if any."""
    return session.scalar(select(Agente).where(Agente.usuario == usuario))


def crear_agente(session: Session, usuario: str, password_hash: str,
                 creado_en: datetime, supervisor: bool = False) -> Agente:
    """Add an agent account (a supervisor also sees the report); flushed, so it has its id."""
    agente = Agente(usuario=usuario, password_hash=password_hash, creado_en=creado_en,
                    supervisor=supervisor)
    session.add(agente)
    session.flush()
    return agente


def renovar_sello(session: Session, agente: Agente) -> None:
    """Give the agent a new session seal: every session cookie issued before stops working."""
    agente.sello_sesion = secrets.token_hex(16)
    session.flush()


def cambiar_contrasena(session: Session, agente: Agente, password_hash: str) -> None:
    """Set a new password hash, ending the agent's open sessions."""
    agente.password_hash = password_hash
    renovar_sello(session, agente)


# -- transfers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FilaTransferencia:
    """A transfer with what its list row shows: the caller's number, who, which cita."""

    transferencia: Transferencia
    desde: str | None
    derechohabiente: Derechohabiente | None
    cita: Cita | None
    en_linea: bool


# The agent's leg is ringing or connected: the caller is "en línea" with an agent now. A state
# older than this is taken as stale (its final status callback was lost), not as a live call.
EN_LINEA = {"ringing": timedelta(minutes=5), "in-progress": timedelta(hours=4),
            "answered": timedelta(hours=4)}


def _en_linea(ahora: datetime):
    """SQL condition: the transfer's agent leg is ringing or connected, and recently so."""
    return or_(*(and_(Transferencia.agente_estado == estado,
                      Transferencia.agente_estado_en >= ahora - vigencia)
                 for estado, vigencia in EN_LINEA.items()))


def transferencias_para_lista(session: Session, limite: int, *, solo_pendientes: bool,
                              ahora: datetime) -> list[FilaTransferencia]:
    """The latest transfers, "en línea" ones first, then newest first; only those not handled
    yet (or en línea) if asked. Each with its call's number, the derechohabiente (identified
    by the line or found by an agent) and the call's cita: one query for the whole list."""
    en_linea = case((_en_linea(ahora), True), else_=False).label("en_linea")
    consulta = (
        select(Transferencia, Llamada.desde, Derechohabiente, Cita, en_linea)
        .outerjoin(Llamada, Llamada.call_sid == Transferencia.call_sid)
        .outerjoin(Derechohabiente, Derechohabiente.id == func.coalesce(
            Transferencia.derechohabiente_id, Transferencia.encontrado_id))
        .outerjoin(Cita, Cita.id == Transferencia.cita_id)
        .order_by(en_linea.desc(), Transferencia.creada_en.desc(), Transferencia.id.desc())
        .limit(limite))
    if solo_pendientes:
        consulta = consulta.where(or_(Transferencia.atendida.is_not(True), _en_linea(ahora)))
    return [FilaTransferencia(t, desde, d, c, bool(vivo))
            for t, desde, d, c, vivo in session.execute(consulta)]


def contar_pendientes(session: Session) -> int:
    """How many transfers no agent has marked handled yet."""
    return session.scalar(select(func.count()).select_from(Transferencia)
                          .where(Transferencia.atendida.is_not(True))) or 0


def marcar_atendida(session: Session, transferencia: Transferencia, usuario: str) -> None:
    """Record that this agent handled the transfer."""
    transferencia.atendida = True
    transferencia.atendida_por = usuario
    session.flush()


def registrar_encontrado(session: Session, transferencia: Transferencia,
                         derechohabiente_id: int, usuario: str) -> None:
    """Record who the agent found (by CURP or RFC) as the caller of this transfer."""
    transferencia.encontrado_id = derechohabiente_id
    transferencia.encontrado_por = usuario
    session.flush()


def llamada_por_sid(session: Session, call_sid: str) -> Llamada | None:
    """The call record with this CallSid, if any."""
    return session.get(Llamada, call_sid)


# -- a caller and their citas --------------------------------------------------------------


def derechohabiente_por_id(session: Session, derechohabiente_id: int) -> Derechohabiente | None:
    """The derechohabiente with this id, if any."""
    return session.get(Derechohabiente, derechohabiente_id)


def cita_por_id(session: Session, cita_id: int) -> Cita | None:
    """The cita with this id, if any."""
    return session.get(Cita, cita_id)


def citas_de(session: Session, derechohabiente_id: int) -> list[Cita]:
    """All of a derechohabiente's citas, whatever their state, in date order."""
    return list(session.scalars(
        select(Cita).where(Cita.derechohabiente_id == derechohabiente_id)
        .order_by(Cita.fecha, Cita.hora_inicio)))


def cancelaciones_por_cita(session: Session, cita_ids: Iterable[int]) -> dict[int, Cancelacion]:
    """The cancellations of these citas, by cita id."""
    ids = set(cita_ids)
    if not ids:
        return {}
    return {c.cita_id: c for c in session.scalars(
        select(Cancelacion).where(Cancelacion.cita_id.in_(ids)))}


def nombres_de_unidades(session: Session, unidad_ids: Iterable[int]) -> dict[int, str]:
    """The names of these units, by id."""
    ids = set(unidad_ids)
    if not ids:
        return {}
    return {u.id: u.nombre for u in session.scalars(select(Unidad).where(Unidad.id.in_(ids)))}


def derechohabientes_por_id(session: Session,
                            ids: Iterable[int | None]) -> dict[int, Derechohabiente]:
    """These derechohabientes, by id (None ids are skipped)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(
        select(Derechohabiente).where(Derechohabiente.id.in_(ids)))}


def citas_por_id(session: Session, ids: Iterable[int | None]) -> dict[int, Cita]:
    """These citas, by id (None ids are skipped)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Cita).where(Cita.id.in_(ids)))}


# -- callbacks -----------------------------------------------------------------------------


def devolucion_de_transferencia(session: Session, transferencia_id: int) -> Devolucion | None:
    """The callback request that came from this transfer, if the caller asked for one."""
    return session.scalars(select(Devolucion).where(Devolucion.transferencia_id
                                                    == transferencia_id)
                           .order_by(Devolucion.id).limit(1)).first()


def contar_devoluciones_pendientes(session: Session) -> int:
    """How many callers are still waiting to be called back."""
    return session.scalar(select(func.count()).select_from(Devolucion)
                          .where(Devolucion.estado == "pendiente")) or 0
