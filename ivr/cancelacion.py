"""One home for cancelling a cita: the phone and the agents' page both cancel through here.

The cita's conditional UPDATE, its cancellation record and the outbox events that tell the
world (the Sistema de Citas) all go in the caller's one transaction: committed together, or
not at all. Nothing here commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ivr import repo, repo_outbox
from ivr.models import MEXICO, Cancelacion, Cita, Derechohabiente

EVENTO_CANCELADA = "cita.cancelada"


@dataclass(frozen=True)
class Destinos:
    """Who is told of a cancellation, as configured where the cancellation happens."""

    sistema_citas: bool = False


def destinos_de(config: Mapping) -> Destinos:
    """The destinations this configuration delivers to."""
    return Destinos(sistema_citas=bool(config.get("SISTEMA_CITAS_WEBHOOK_URL")))


@dataclass(frozen=True)
class Resultado:
    """What cancelling did: 'cancelada' | 'ya_cancelada' | 'no_cancelable', and the folio."""

    resultado: str
    folio: str | None


def cancelar(sesion: Session, cita_id: int, *, solicitante_tipo: str,
             solicitante_nombre: str | None, motivo_codigo: int, motivo_texto: str, canal: str,
             call_sid: str | None, ahora: datetime, agente: str | None = None,
             destinos: Destinos = Destinos()) -> Resultado:
    """Cancel the cita (race-safe, see repo.cancelar_cita) and, when this call is the one that
    cancelled it, write its outbox events in the same transaction. Flushes, never commits."""
    hecho = repo.cancelar_cita(
        sesion, cita_id, solicitante_tipo=solicitante_tipo,
        solicitante_nombre=solicitante_nombre, motivo_codigo=motivo_codigo,
        motivo_texto=motivo_texto, canal=canal, call_sid=call_sid, ahora=ahora, agente=agente)
    if hecho.nueva and destinos.sistema_citas:
        _avisar_al_sistema(sesion, hecho.cancelacion, ahora)
    return Resultado(hecho.resultado, hecho.folio)


def _avisar_al_sistema(sesion: Session, cancelacion: Cancelacion, ahora: datetime) -> None:
    evento_id = str(uuid.uuid4())
    cuerpo = json.dumps(evento_cancelada(sesion, cancelacion, evento_id), ensure_ascii=False)
    repo_outbox.encolar(sesion, evento=EVENTO_CANCELADA, destino="sistema_citas",
                        cita_id=cancelacion.cita_id, cancelacion_id=cancelacion.id,
                        cuerpo=cuerpo, ahora=ahora, evento_id=evento_id)


def evento_cancelada(sesion: Session, cancelacion: Cancelacion, evento_id: str) -> dict:
    """The Sistema de Citas' `cita.cancelada` event (the contract in the README)."""
    cita = sesion.get(Cita, cancelacion.cita_id)
    persona = sesion.get(Derechohabiente, cita.derechohabiente_id)
    return {
        "evento": EVENTO_CANCELADA,
        "id": evento_id,
        "clave": cita.clave,
        "curp": persona.curp,
        "folio": cancelacion.folio,
        "motivo_codigo": cancelacion.motivo_codigo,
        "motivo_texto": cancelacion.motivo_texto,
        "solicitante_tipo": cancelacion.solicitante_tipo,
        "solicitante_nombre": cancelacion.solicitante_nombre,
        "canal": cancelacion.canal,
        "agente": cancelacion.agente,
        # Mexico City wall time with its offset: what an office reads, still unambiguous.
        "cancelada_en": cancelacion.creada_en.astimezone(MEXICO).isoformat(),
    }
