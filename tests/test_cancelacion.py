"""One home for cancelling: the phone and the agents' page write the cancellation and its
outbox event in one transaction; the agent who cancelled is recorded."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ivr import cancelacion, db, repo_outbox
from ivr.models import Cancelacion, Cita, Derechohabiente, EventoOutbox
from tests.llamadas import GOMEZ, RUIZ, Llamada, cargar_agenda, nueva_app
from tests.test_agentes import AHORA as AGENTES_AHORA
from tests.test_agentes import Agentes, Reloj, app_sembrada, pedir_cancelacion
from tests.test_llamada import identificar

WEBHOOK = {"SISTEMA_CITAS_WEBHOOK_URL": "http://127.0.0.1:9/eventos",
           "SISTEMA_CITAS_WEBHOOK_SECRET": "secreto-compartido"}


def app_de(backend, request, tmp_path, **extra):
    """An app on this backend with the test agenda and this extra config."""
    if backend == "sqlite":
        url, store = f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria"
    else:
        url, store = request.getfixturevalue("postgres_url"), "redis"
    app = nueva_app(url, store, **extra)
    cargar_agenda(app)
    return app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres,
                                                                  pytest.mark.redis])])
def app(request, tmp_path):
    """The line with the Sistema de Citas webhook configured."""
    app = app_de(request.param, request, tmp_path, **WEBHOOK)
    yield app
    db.engine_de(app).dispose()


def cancelar_por_telefono(app, persona=GOMEZ) -> Llamada:
    """A whole keypad call: the first cita, titular, motivo 2, confirmed."""
    llamada = identificar(Llamada(app), persona)
    if llamada.nodo == "citas":
        llamada.press("1")
    llamada.press("1").press("1").press("2").press("1")
    assert llamada.nodo == "cancelada"  # the folio, which * would repeat
    llamada.tel.colgar()  # written down: the caller hangs up
    assert llamada.tel.terminada
    return llamada


def eventos(app) -> list[EventoOutbox]:
    with app.app_context():
        sesion = db.sesion()
        filas = list(sesion.scalars(select(EventoOutbox).order_by(EventoOutbox.id)))
        sesion.expunge_all()
        return filas


def test_una_cancelacion_por_telefono_escribe_su_evento(app):
    llamada = cancelar_por_telefono(app)
    [evento] = eventos(app)
    with app.app_context():
        c = db.sesion().scalar(select(Cancelacion))
        folio, agente = c.folio, c.agente
    assert agente is None
    assert (evento.evento, evento.destino, evento.estado, evento.intentos) == (
        "cita.cancelada", "sistema_citas", "pendiente", 0)
    assert json.loads(evento.cuerpo) == {
        "evento": "cita.cancelada",
        "id": evento.evento_id,
        "clave": "UC3QK2",
        "curp": GOMEZ.curp,
        "folio": folio,
        "motivo_codigo": 2,
        "motivo_texto": "No puedo asistir en la fecha u horario",
        "solicitante_tipo": "titular",
        "solicitante_nombre": None,
        "canal": "ivr",
        "agente": None,
        # The test clock: Tuesday 24 November 2026, 10:00 in Mexico City.
        "cancelada_en": "2026-11-24T10:00:00-06:00",
    }
    assert len(evento.evento_id) == 36
    assert "Su cita quedó cancelada." in llamada.dicho


def cancelar_otra_vez(app, clave, **como) -> cancelacion.Resultado:
    """Cancel this cita again through the one function, and commit."""
    with app.app_context():
        sesion = db.sesion()
        cita = sesion.scalar(select(Cita).where(Cita.clave == clave))
        hecho = cancelacion.cancelar(
            sesion, cita.id, solicitante_tipo="titular", solicitante_nombre=None,
            motivo_codigo=1, motivo_texto="Ya no necesito el préstamo",
            ahora=app.config["RELOJ"](), destinos=cancelacion.destinos_de(app.config), **como)
        sesion.commit()
        return hecho


def test_confirmar_dos_veces_escribe_un_solo_evento(app):
    llamada = cancelar_por_telefono(app)
    # The same call confirms again (a webhook repeated): same folio, no second event.
    otra = cancelar_otra_vez(app, "UC3QK2", canal="ivr", call_sid=llamada.tel.call_sid)
    assert otra.resultado == "cancelada"
    with app.app_context():
        assert otra.folio == db.sesion().scalar(select(Cancelacion.folio))
    assert len(eventos(app)) == 1


def test_una_cita_ya_cancelada_no_escribe_otro_evento(app):
    cancelar_por_telefono(app)
    otra = cancelar_otra_vez(app, "UC3QK2", canal="agente", call_sid=None, agente="ana")
    assert otra.resultado == "ya_cancelada"
    assert len(eventos(app)) == 1


def test_sin_webhook_no_hay_evento(request, tmp_path):
    app = app_de("sqlite", request, tmp_path)
    cancelar_por_telefono(app)
    assert eventos(app) == []


def test_si_el_evento_no_se_escribe_la_cita_sigue_agendada(app, monkeypatch):
    """The outbox write fails: the cancellation rolls back with it (one transaction), and the
    caller hears the apology and goes to an agent."""
    def falla(*a, **kw):
        raise RuntimeError("disco lleno")

    monkeypatch.setattr(repo_outbox, "encolar", falla)
    llamada = identificar(Llamada(app), GOMEZ).press("1").press("1").press("2").press("1")
    assert "Su cita quedó cancelada." not in llamada.dicho
    assert llamada.xml().find("Dial") is not None
    with app.app_context():
        sesion = db.sesion()
        assert sesion.scalar(select(Cita.estado).where(Cita.clave == "UC3QK2")) == "agendada"
        assert sesion.scalar(select(Cancelacion)) is None
    assert eventos(app) == []


def test_el_agente_que_cancela_queda_registrado(app):
    """The agents' page cancels through the same function: agent recorded, event written."""
    with app.app_context():
        sesion = db.sesion()
        persona = sesion.scalar(select(Derechohabiente).where(Derechohabiente.curp == RUIZ.curp))
        cita = sesion.scalar(select(Cita).where(Cita.derechohabiente_id == persona.id)
                             .order_by(Cita.fecha))
        hecho = cancelacion.cancelar(
            sesion, cita.id, solicitante_tipo="tercero", solicitante_nombre="Pedro Ruiz",
            motivo_codigo=5, motivo_texto="Otro motivo: cambio de adscripción", canal="agente",
            call_sid=None, ahora=app.config["RELOJ"](), agente="ana",
            destinos=cancelacion.destinos_de(app.config))
        sesion.commit()
        assert sesion.scalar(select(Cancelacion.agente)) == "ana"
    [evento] = eventos(app)
    cuerpo = json.loads(evento.cuerpo)
    assert (cuerpo["canal"], cuerpo["agente"], cuerpo["folio"]) == ("agente", "ana", hecho.folio)
    assert (cuerpo["solicitante_tipo"], cuerpo["solicitante_nombre"]) == ("tercero",
                                                                           "Pedro Ruiz")
    assert cuerpo["clave"] == "RZ2D7F"


def test_la_pagina_de_agentes_registra_quien_cancelo(tmp_path):
    app = app_sembrada(tmp_path / "agentes.db", Reloj(AGENTES_AHORA), **WEBHOOK)
    datos = app.config["DATOS"]
    cliente = app.test_client()
    agente = Agentes(cliente)
    agente.entrar()
    assert pedir_cancelacion(agente, datos.identificada, datos.futura).status_code == 302
    with app.app_context():
        c = db.sesion().scalar(select(Cancelacion).where(Cancelacion.cita_id == datos.futura))
        assert (c.canal, c.agente) == ("agente", "ana")
    [evento] = eventos(app)
    assert json.loads(evento.cuerpo)["agente"] == "ana"
    db.engine_de(app).dispose()
