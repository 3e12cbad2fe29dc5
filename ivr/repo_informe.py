"""Repository of the supervisor report: the calls and transfers of a period, as plain rows.

Functions take the session first and only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ivr.models import Cancelacion, Llamada, Transferencia


@dataclass(frozen=True)
class FilaLlamada:
    """What the report needs of one call."""

    call_sid: str
    iniciada_en: datetime
    desenlace: str | None
    razon: str | None
    ultimo_nodo: str | None
    identificado: bool
    ruta: list[str]
    entradas: list[list]
    duracion_segundos: int | None
    cancelada_por_la_linea: bool  # a cancellation with this CallSid, channel ivr
    transferida: bool


@dataclass(frozen=True)
class FilaTransferencia:
    """What the report needs of one transfer."""

    razon: str
    dial_status: str | None
    creada_en: datetime


def llamadas_entre(session: Session, desde: datetime, hasta: datetime) -> list[FilaLlamada]:
    """The calls recorded from `desde` (included) to `hasta` (excluded), oldest first."""
    por_la_linea = exists().where(Cancelacion.call_sid == Llamada.call_sid,
                                  Cancelacion.canal == "ivr")
    transferida = exists().where(Transferencia.call_sid == Llamada.call_sid)
    filas = session.execute(
        select(Llamada, por_la_linea, transferida)
        .where(Llamada.iniciada_en >= desde, Llamada.iniciada_en < hasta)
        .order_by(Llamada.iniciada_en, Llamada.call_sid))
    return [FilaLlamada(call_sid=ll.call_sid, iniciada_en=ll.iniciada_en, desenlace=ll.desenlace,
                        razon=ll.razon, ultimo_nodo=ll.ultimo_nodo,
                        identificado=ll.derechohabiente_id is not None, ruta=list(ll.ruta or []),
                        entradas=list(ll.entradas or []),
                        duracion_segundos=ll.duracion_segundos,
                        cancelada_por_la_linea=bool(cancelada), transferida=bool(t))
            for ll, cancelada, t in filas]


def transferencias_entre(session: Session, desde: datetime,
                         hasta: datetime) -> list[FilaTransferencia]:
    """The transfers made from `desde` (included) to `hasta` (excluded), oldest first."""
    filas = session.execute(
        select(Transferencia.razon, Transferencia.dial_status, Transferencia.creada_en)
        .where(Transferencia.creada_en >= desde, Transferencia.creada_en < hasta)
        .order_by(Transferencia.creada_en, Transferencia.id))
    return [FilaTransferencia(razon, dial_status, creada_en)
            for razon, dial_status, creada_en in filas]
