"""The SMS to the titular: to the agenda's registered phone (not the caller's), through the
outbox and the twilio REST client, against a local fake Twilio that answers 429/500 too."""

from __future__ import annotations

import json
import random
from datetime import UTC

import pytest
from sqlalchemy import select, update

from ivr import cancelacion, db, entrega
from ivr.domain.telefono import movil_mx
from ivr.models import Cancelacion, Derechohabiente, EventoOutbox
from tests.llamadas import AHORA, GOMEZ, TOKEN
from tests.receptores import SistemaDeCitas, TwilioFalso
from tests.test_cancelacion import app_de, cancelar_otra_vez, cancelar_por_telefono

SID = "AC" + "0123456789abcdef" * 2
DESDE = "+525540001000"
SERVICIO = "MG" + "fedcba9876543210" * 2
SECRETO = "secreto-compartido"
AVISO = "Le enviamos el folio por mensaje al teléfono registrado que termina en 78."


@pytest.mark.parametrize("telefono, esperado", [
    ("5512345634", "+525512345634"),
    ("55 1234-5634", "+525512345634"),
    ("(55) 1234 5634", "+525512345634"),
    ("+52 55 1234 5634", "+525512345634"),
    ("525512345634", "+525512345634"),
    ("0052 5512345634", "+525512345634"),
    ("0512345634", None),  # no area code starts with 0
    ("551234563", None),
    ("55123456345", None),
    ("55-12-AB-56-34", None),
    ("+15512345634", None),
    ("", None),
    (None, None),
])
def test_telefono_registrado_a_e164(telefono, esperado):
    assert movil_mx(telefono) == esperado


@pytest.fixture
def twilio():
    with TwilioFalso(SID, TOKEN) as t:
        yield t


@pytest.fixture
def receptor():
    with SistemaDeCitas(SECRETO) as r:
        yield r


def config_sms(twilio, receptor=None, **extra) -> dict:
    config = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_SMS_FROM": DESDE, "TWILIO_API_URL": twilio.url}
    if receptor is not None:
        config.update(SISTEMA_CITAS_WEBHOOK_URL=receptor.url + "/eventos",
                      SISTEMA_CITAS_WEBHOOK_SECRET=SECRETO)
    config.update(extra)
    return config


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres,
                                                                  pytest.mark.redis])])
def backend(request):
    return request.param


class Reloj:
    """The app's clock, moved by the test."""

    def __init__(self):
        self.ahora = AHORA

    def __call__(self):
        return self.ahora


def entregar_todo(app, rng=None) -> list[int]:
    """Run the worker's step until nothing is due (at the app's clock)."""
    hechos = []
    sesiones = db.sessionmaker_de(app)
    remitentes = entrega.remitentes_de(app.config, timeout=5)
    while (hecho := entrega.entregar_uno(sesiones, remitentes, app.config["RELOJ"],
                                         rng or random.Random(3))) is not None:
        hechos.append(hecho)
    return hechos


def folio_de(app) -> str:
    with app.app_context():
        return db.sesion().scalar(select(Cancelacion.folio))


def test_una_llamada_y_el_worker_avisan_al_sistema_y_al_titular(backend, request, tmp_path,
                                                                twilio, receptor):
    app = app_de(backend, request, tmp_path, **config_sms(twilio, receptor))
    try:
        llamada = cancelar_por_telefono(app, GOMEZ)  # called from +525511112222
        dicho = llamada.dicho
        # Said after the folio, before how to hear it again.
        assert AVISO in dicho
        assert dicho.index("Su folio es") < dicho.index(AVISO) < dicho.index("Para repetirlo")
        assert len(entregar_todo(app)) == 2
        folio = folio_de(app)
    finally:
        db.engine_de(app).dispose()
    [sms] = twilio.mensajes()
    assert sms == {
        "To": "+525512345678",  # the agenda's telefono, not the caller's number
        "From": DESDE,
        "Body": ("ISSSTE: su cita de préstamo personal del miércoles 2 de diciembre a las 15:00 "
                 f"(clave UC3QK2) quedó cancelada. Folio: {folio}. Para agendar otra: "
                 "asisste.issste.gob.mx, Préstamos Personales > Agendar cita, o llame a la "
                 "Línea ASISSSTE 55 4000 1000."),
    }
    [evento] = receptor.procesados
    assert (evento["folio"], evento["clave"]) == (folio, "UC3QK2")


def test_twilio_429_y_500_se_reintentan(request, tmp_path, twilio):
    twilio.guion = [429, 500, 201]
    reloj = Reloj()
    app = app_de("sqlite", request, tmp_path, RELOJ=reloj, **config_sms(twilio))
    try:
        cancelar_por_telefono(app, GOMEZ)
        sesiones = db.sessionmaker_de(app)
        remitentes = entrega.remitentes_de(app.config, timeout=5)
        errores = []
        for _ in range(3):
            entrega.entregar_uno(sesiones, remitentes, reloj, random.Random(3))
            with sesiones() as s:
                fila = s.scalar(select(EventoOutbox))
                errores.append((fila.estado, fila.intentos, fila.ultimo_error))
                reloj.ahora = fila.proximo_intento_en.replace(tzinfo=UTC)
    finally:
        db.engine_de(app).dispose()
    assert errores == [("pendiente", 1, "Twilio HTTP 429 (error 20429)"),
                       ("pendiente", 2, "Twilio HTTP 500 (error 20500)"),
                       ("entregado", 3, None)]
    mensajes = twilio.mensajes()
    assert len(mensajes) == 3 and mensajes[0] == mensajes[2]


def test_con_servicio_de_mensajeria(request, tmp_path, twilio):
    config = config_sms(twilio, TWILIO_SMS_FROM=None, TWILIO_MESSAGING_SERVICE_SID=SERVICIO)
    app = app_de("sqlite", request, tmp_path, **config)
    try:
        assert AVISO in cancelar_por_telefono(app, GOMEZ).dicho
        entregar_todo(app)
    finally:
        db.engine_de(app).dispose()
    [sms] = twilio.mensajes()
    assert sms["MessagingServiceSid"] == SERVICIO and "From" not in sms


SIN_SMS = [({"telefono": t}, {}) for t in (None, "12345", "55-12-AB-56-34", "0512345678")] + [
    ({}, {"TWILIO_SMS_FROM": None}),
    ({}, {"TWILIO_ACCOUNT_SID": None, "TWILIO_SMS_FROM": None, "TWILIO_API_URL": None}),
]


@pytest.mark.parametrize("persona, quitar", SIN_SMS)
def test_sin_telefono_valido_o_sin_configuracion_no_hay_sms_ni_aviso(request, tmp_path, twilio,
                                                                     persona, quitar):
    app = app_de("sqlite", request, tmp_path, **config_sms(twilio, **quitar))
    try:
        if persona:
            with app.app_context():
                db.sesion().execute(update(Derechohabiente)
                                    .where(Derechohabiente.curp == GOMEZ.curp).values(**persona))
                db.confirmar()
        llamada = cancelar_por_telefono(app, GOMEZ)
        assert "Su cita quedó cancelada." in llamada.dicho
        assert "mensaje" not in llamada.dicho
        assert entregar_todo(app) == []
    finally:
        db.engine_de(app).dispose()
    assert twilio.peticiones == []


def test_la_misma_llamada_confirmando_otra_vez_oye_el_mismo_aviso(request, tmp_path, twilio):
    app = app_de("sqlite", request, tmp_path, **config_sms(twilio))
    try:
        llamada = cancelar_por_telefono(app, GOMEZ)
        otra = cancelar_otra_vez(app, "UC3QK2", canal="ivr", call_sid=llamada.tel.call_sid)
        ajena = cancelar_otra_vez(app, "UC3QK2", canal="ivr", call_sid="CA" + "7" * 32)
        with app.app_context():
            assert len(db.sesion().scalars(select(EventoOutbox)).all()) == 1
    finally:
        db.engine_de(app).dispose()
    assert (otra.resultado, otra.sms_termina_en) == ("cancelada", "78")
    assert (ajena.resultado, ajena.sms_termina_en) == ("ya_cancelada", None)


def test_el_cuerpo_guardado_es_el_que_se_envia(request, tmp_path, twilio):
    app = app_de("sqlite", request, tmp_path, **config_sms(twilio))
    try:
        cancelar_por_telefono(app, GOMEZ)
        with app.app_context():
            evento = db.sesion().scalar(select(EventoOutbox))
            cuerpo = json.loads(evento.cuerpo)
            assert (evento.destino, evento.evento) == ("sms", cancelacion.EVENTO_CANCELADA)
        entregar_todo(app)
    finally:
        db.engine_de(app).dispose()
    [sms] = twilio.mensajes()
    assert (sms["To"], sms["Body"]) == (cuerpo["to"], cuerpo["body"])


@pytest.mark.parametrize("config, problema", [
    ({"TWILIO_SMS_FROM": DESDE}, "TWILIO_SMS_FROM o TWILIO_MESSAGING_SERVICE_SID necesitan "
                                 "TWILIO_ACCOUNT_SID para enviar los SMS"),
    ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID debe ser AC seguido de 32 "
                                      "hexadecimales ('AC123')"),
    ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_SMS_FROM": "5540001000"},
     "TWILIO_SMS_FROM debe ser un número E.164 (+52...), no '5540001000'"),
    ({"TWILIO_ACCOUNT_SID": SID, "TWILIO_MESSAGING_SERVICE_SID": "MGxyz"},
     "TWILIO_MESSAGING_SERVICE_SID debe ser MG seguido de 32 hexadecimales ('MGxyz')"),
    ({"TWILIO_API_URL": "localhost:8080"},
     "TWILIO_API_URL debe empezar con https:// (es 'localhost:8080')"),
])
def test_configuracion_de_sms_mal_formada_no_arranca(config, problema):
    from ivr import config as configuracion

    assert configuracion.revisar({"STATE_TTL_SECONDS": 3600, **config}) == [problema]
