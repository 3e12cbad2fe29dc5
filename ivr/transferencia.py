"""Transfers to the agents: the record with its context, kept in the call's state while the
database is away, and what the agent hears before the bridge (the whisper)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr import etiquetas, repo
from ivr.domain import fechas
from ivr.estado import Estado
from ivr.models import Derechohabiente, Transferencia

log = logging.getLogger(__name__)
# What the agents' page shows of the call, beyond the transfer's own columns.
CONTEXTO = ("desde", "ruta", "documento_por", "motivo", "solicitante_tipo", "solicitante_nombre")


@dataclass(frozen=True)
class Agentes:
    """Whether and where a transfer can go right now."""

    destino: str | None      # AGENT_DIAL: E.164 number or sip: URI
    abierto: bool            # inside agent hours
    horario: str             # the hours, as said to the caller
    workflow_sid: str | None = None   # TWILIO_WORKFLOW_SID: TaskRouter instead of a dial

    @property
    def disponibles(self) -> bool:
        """A transfer can reach someone now."""
        return self.abierto and bool(self.destino or self.workflow_sid)


def registrar(sesion: Session, estado: Estado, dial_status: str | None,
              ahora: datetime) -> None:
    """Record the call's transfer with its context; when the database doesn't answer, keep it
    in the state (`transferencia_pendiente`) to be written by a later webhook."""
    campos = {
        "call_sid": estado.call_sid, "razon": estado.razon or "error_interno",
        "nodo": estado.nodo_transferencia, "identificado": bool(estado.derechohabiente_id),
        "derechohabiente_id": estado.derechohabiente_id, "cita_id": estado.cita_id,
        "dial_status": dial_status,
        "contexto": {campo: getattr(estado, campo) for campo in CONTEXTO},
    }
    try:
        registro = repo.registrar_transferencia(sesion, creada_en=ahora, **campos)
    except SQLAlchemyError as e:
        sesion.rollback()
        log.error("transferencia sin registrar call=%s: %s; se registrará después",
                  estado.call_sid, type(e).__name__)
        estado.transferencia_id = None
        estado.transferencia_pendiente = {**campos, "creada_en": ahora.isoformat()}
        return
    estado.transferencia_id = registro.id
    estado.transferencia_pendiente = None


def escribir_pendiente(sesion: Session, estado: Estado) -> None:
    """Write the transfer the database couldn't take earlier (raises if it still can't)."""
    pendiente = estado.transferencia_pendiente
    if not pendiente:
        return
    campos = {**pendiente, "creada_en": datetime.fromisoformat(pendiente["creada_en"])}
    estado.transferencia_id = repo.registrar_transferencia(sesion, **campos).id
    estado.transferencia_pendiente = None
    log.info("transferencia pendiente registrada call=%s", estado.call_sid)


def tarea(sesion: Session, estado: Estado) -> dict:
    """The TaskRouter task's attributes: the context an agent's desk shows (no CURP)."""
    return {
        "tipo": "cancelacion_cita",
        "transferencia_id": estado.transferencia_id,
        "call_sid": estado.call_sid,
        "razon": estado.razon,
        "razon_texto": etiquetas.razon(estado.razon),
        "ultimo_paso": estado.nodo_transferencia,
        "identificado": bool(estado.derechohabiente_id),
        "derechohabiente_id": estado.derechohabiente_id,
        "cita_id": estado.cita_id,
        "cita": fecha_de_cita(sesion, estado.cita_id),
        "motivo": (estado.motivo or {}).get("texto"),
    }


def fecha_de_cita(sesion: Session, cita_id: int | None) -> str | None:
    """The cita's date as said ("miércoles 2 de diciembre"), or None."""
    fecha = repo.fecha_de_cita(sesion, cita_id) if cita_id else None
    return fechas.dia_y_fecha(fecha) if fecha else None


def susurro(sesion: Session, registro: Transferencia) -> dict:
    """The whisper's params from the transfer's record: its number, who, why, which cita."""
    persona = (sesion.get(Derechohabiente, registro.derechohabiente_id)
               if registro.derechohabiente_id else None)
    fecha = fecha_de_cita(sesion, registro.cita_id)
    return _params(f"Transferencia {registro.id}", registro.identificado,
                   f"{persona.nombre} {persona.primer_apellido}" if persona else None,
                   registro.razon, f"Cita del {fecha}" if fecha else None, registro.nodo)


def susurro_sin_base(estado: Estado) -> dict:
    """The whisper's params from the call's state alone (the database is away)."""
    return _params("Transferencia sin número", bool(estado.derechohabiente_id), None,
                   estado.razon, "Con cita elegida" if estado.cita_id else None,
                   estado.nodo_transferencia)


def _params(numero: str, identificado: bool, nombre: str | None, razon: str | None,
            cita: str | None, nodo: str | None) -> dict:
    if identificado:
        cliente = f"Cliente identificado: {nombre}" if nombre else "Cliente identificado"
    else:
        cliente = "Cliente no identificado"
    return {"numero": numero, "cliente": cliente, "razon": etiquetas.razon(razon),
            "cita": cita or "Sin cita elegida", "nodo": etiquetas.nodo(nodo)}
