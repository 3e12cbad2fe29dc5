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
from ivr.domain import fechas, telefono
from ivr.models import MEXICO, Cancelacion, Cita, Derechohabiente

EVENTO_CANCELADA = "cita.cancelada"


# How to book again, for the titular's SMS (the web path the phone line also gives).
AGENDAR_OTRA = ("Para agendar otra: asisste.issste.gob.mx, Préstamos Personales > Agendar "
                "cita, o llame a la Línea ASISSSTE 55 4000 1000.")


@dataclass(frozen=True)
class Destinos:
    """Who is told of a cancellation, as configured where the cancellation happens."""

    sistema_citas: bool = False
    sms: bool = False


def destinos_de(config: Mapping) -> Destinos:
    """The destinations this configuration delivers to (SMS: an account, its token, and a
    sender number or messaging service)."""
    sms = bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")
               and (config.get("TWILIO_SMS_FROM") or config.get("TWILIO_MESSAGING_SERVICE_SID")))
    return Destinos(sistema_citas=bool(config.get("SISTEMA_CITAS_WEBHOOK_URL")), sms=sms)


@dataclass(frozen=True)
class Resultado:
    """What cancelling did: 'cancelada' | 'ya_cancelada' | 'no_cancelable', the folio, and the
    last two digits of the registered phone the folio SMS goes to (None: no SMS)."""

    resultado: str
    folio: str | None
    sms_termina_en: str | None = None


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
    sms = None
    if hecho.nueva:
        if destinos.sistema_citas:
            _avisar_al_sistema(sesion, hecho.cancelacion, ahora)
        if destinos.sms:
            sms = _avisar_al_titular(sesion, hecho.cancelacion, ahora)
    elif hecho.resultado == "cancelada" and hecho.cancelacion is not None:
        sms = _sms_ya_escrito(sesion, hecho.cancelacion)  # the same call confirming again
    return Resultado(hecho.resultado, hecho.folio, sms)


def _avisar_al_sistema(sesion: Session, cancelacion: repo.CancelacionEscrita,
                       ahora: datetime) -> None:
    evento_id = str(uuid.uuid4())
    cuerpo = json.dumps(evento_cancelada(sesion, cancelacion, evento_id), ensure_ascii=False)
    repo_outbox.encolar(sesion, evento=EVENTO_CANCELADA, destino="sistema_citas",
                        cita_id=cancelacion.cita_id, cancelacion_id=cancelacion.id,
                        cuerpo=cuerpo, ahora=ahora, evento_id=evento_id)


def _avisar_al_titular(sesion: Session, cancelacion: repo.CancelacionEscrita,
                       ahora: datetime) -> str | None:
    # To the agenda's registered phone, never the caller's: when someone else cancelled in
    # the titular's name, the titular learns of it. No valid phone: no SMS, nothing said.
    cita = sesion.get(Cita, cancelacion.cita_id)
    numero = telefono.movil_mx(sesion.get(Derechohabiente, cita.derechohabiente_id).telefono)
    if numero is None:
        return None
    cuerpo = json.dumps({"to": numero, "body": texto_sms(cita, cancelacion.folio)},
                        ensure_ascii=False)
    repo_outbox.encolar(sesion, evento=EVENTO_CANCELADA, destino="sms",
                        cita_id=cancelacion.cita_id, cancelacion_id=cancelacion.id,
                        cuerpo=cuerpo, ahora=ahora)
    return numero[-2:]


def _sms_ya_escrito(sesion: Session, cancelacion: Cancelacion) -> str | None:
    for evento in repo_outbox.eventos_de_cancelacion(sesion, cancelacion.id):
        if evento.destino == "sms":
            return json.loads(evento.cuerpo)["to"][-2:]
    return None


def texto_sms(cita: Cita, folio: str) -> str:
    """The titular's SMS: which cita was cancelled, the folio, how to book again (no name:
    the registered phone may no longer be the titular's)."""
    return (f"ISSSTE: su cita de {cita.tramite} del {fechas.dia_y_fecha(cita.fecha)} a las "
            f"{cita.hora_inicio:%H:%M} (clave {cita.clave}) quedó cancelada. Folio: {folio}. "
            + AGENDAR_OTRA)


def evento_cancelada(sesion: Session, cancelacion: Cancelacion | repo.CancelacionEscrita,
                     evento_id: str) -> dict:
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
