"""The app's log: one escaped line per record, no request data or personal data, text or JSON,
one line per webhook (issue 8, defects 7 and 9; issue 13, logs)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from twilio.request_validator import RequestValidator

from ivr import db, logs, phone
from ivr.config import RAIZ
from ivr.models import Cancelacion
from tests.llamadas import (
    BASE,
    GOMEZ,
    REDIS_URL,
    TOKEN,
    Llamada,
    _redis_o_skip,
    cargar_agenda,
    nueva_app,
)
from tests.test_llamada import teclas
from tests.test_operacion import _esperar_puerto

FORJADA = "2026-12-02 06:59:59,000 INFO ivr.voice webhook todo en orden"
INICIO_DE_LINEA = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|"
                             r"CRITICAL) [\w.]+ ")


@pytest.mark.parametrize(("crudo", "escapado"), [
    ("línea ñ é", "línea ñ é"),
    ("a\nb", "a\\nb"),
    ("a\r\nb", "a\\r\\nb"),
    ("a\tb", "a\\tb"),
    ("\\n", "\\\\n"),               # a client's own "\n" can't pass for an escape of ours
    ("\x00", "\\x00"),
    ("\x1b[31mrojo", "\\x1b[31mrojo"),
    ("\x0b\x0c\x1c\x1d\x1e\x85", "\\x0b\\x0c\\x1c\\x1d\\x1e\\x85"),
    ("\u2028\u2029", "\\u2028\\u2029"),
    ("\u202eabc", "\\u202eabc"),    # a bidi override would show the line reversed
    ("\ufeff\u200b", "\\ufeff\\u200b"),
    ("\U000e0041", "\\U000e0041"),
    ("\u00a0", "\u00a0"),
])
def test_escapar(crudo, escapado):
    assert logs.escapar(crudo) == escapado
    assert len(logs.escapar(crudo).splitlines()) <= 1


def _registro(mensaje: str, *args, exc_info=None, **campos) -> logging.LogRecord:
    registro = logging.LogRecord("ivr.voice", logging.ERROR, __file__, 1, mensaje, args, exc_info)
    if campos:
        registro.campos = campos
    return registro


def _error_con_datos() -> tuple:
    """An exception whose messages carry personal data (not in the source lines a traceback
    shows: those are code, never data)."""
    dato = " ".join([GOMEZ.curp, GOMEZ.nombre, GOMEZ.primer_apellido])
    try:
        try:
            raise ValueError(dato)
        except ValueError as e:
            raise RuntimeError(dato + "\n" + FORJADA) from e
    except RuntimeError:
        return sys.exc_info()


def test_texto_una_linea_aunque_el_mensaje_traiga_saltos():
    linea = logs.Texto().format(_registro("ruta %s", "/voice/x\n" + FORJADA))
    assert linea.splitlines() == [linea]
    assert linea.endswith("ERROR ivr.voice ruta /voice/x\\n" + FORJADA)


@pytest.mark.parametrize(("mensaje", "args"), [
    ("webhook", ()),
    ("ruta %s de %d", ("/voice/curp", 3)),
    ("100%% de %(quien)s", ({"quien": "él"},)),
    ("línea\u2028otra", ()),
])
def test_el_texto_es_el_formato_de_logging(mensaje, args):
    """Texto writes a record without a traceback itself: the same text logging's Formatter
    makes of FORMATO_TEXTO, and the same message and asctime left on the record."""
    propio = _registro(mensaje, *args)
    de_logging = _registro(mensaje, *args)
    esperado = logs.escapar(logging.Formatter(logs.FORMATO_TEXTO).format(de_logging))
    assert logs.Texto().format(propio) == esperado
    assert (propio.message, propio.asctime) == (de_logging.message, de_logging.asctime)


def test_texto_traceback_en_una_linea_y_sin_mensajes():
    linea = logs.Texto().format(_registro("fallo", exc_info=_error_con_datos()))
    assert linea.splitlines() == [linea]
    assert "Gómez" not in linea and "GOMA" not in linea and FORJADA not in linea
    assert "ValueError (mensaje omitido)" in linea
    assert "RuntimeError (mensaje omitido)" in linea
    assert "in _error_con_datos" in linea


def test_texto_no_reusa_el_traceback_que_otro_handler_guardo():
    registro = _registro("fallo", exc_info=_error_con_datos())
    logging.Formatter().format(registro)  # pytest's or any other handler caches exc_text
    assert "Gómez" in registro.exc_text
    assert "Gómez" not in logs.Texto().format(registro)


def test_json_un_objeto_por_linea_sin_mensajes_de_excepcion():
    registro = _registro("ruta %s", "/voice/x\n" + FORJADA, exc_info=_error_con_datos(),
                         call_sid="CA1", node="curp", ms=3.5, input="keys", outcome="gather")
    linea = logs.Json().format(registro)
    assert linea.splitlines() == [linea]
    objeto = json.loads(linea)
    assert objeto["level"] == "ERROR" and objeto["logger"] == "ivr.voice"
    assert objeto["msg"] == "ruta /voice/x\n" + FORJADA
    assert (objeto["call_sid"], objeto["node"], objeto["ms"], objeto["input"],
            objeto["outcome"]) == ("CA1", "curp", 3.5, "keys", "gather")
    assert "Gómez" not in objeto["exc_info"]
    assert "RuntimeError (mensaje omitido)" in objeto["exc_info"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", objeto["ts"])
    assert "campos" not in objeto


# -- through the handler the app installs ---------------------------------------------------


@pytest.fixture
def salida(capsys):
    """What the app's own log handler writes to stderr (pytest's capture handlers are beside
    it, and see records, not lines)."""
    niveles = {nombre: logging.getLogger(nombre).level for nombre in ("", "ivr")}
    logging.getLogger("ivr").setLevel(logging.NOTSET)  # `ivr call` quiets it for its process

    def lineas() -> list[str]:
        return capsys.readouterr().err.splitlines()

    yield lineas
    for nombre, nivel in niveles.items():
        logging.getLogger(nombre).setLevel(nivel)


def _app(tmp_path, **extra):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", **extra)
    cargar_agenda(app)
    return app


def _firmado(cliente, ruta: str, form: dict, token=TOKEN):
    firma = RequestValidator(token).compute_signature(BASE + ruta, form)
    return cliente.post(ruta, data=form, base_url=BASE, headers={"X-Twilio-Signature": firma})


def test_un_post_mal_firmado_no_forja_una_linea(tmp_path, salida):
    app = _app(tmp_path)
    salida()
    ruta = "/voice/x%0A" + FORJADA.replace(" ", "%20")
    respuesta = app.test_client().post(ruta, data={"CallSid": "CA\n" + FORJADA},
                                       base_url=BASE, headers={"X-Twilio-Signature": "Zm9y"})
    assert respuesta.status_code == 403
    lineas = salida()
    assert len(lineas) == 2  # the refusal, with the URL checked, and the webhook's line
    assert all(INICIO_DE_LINEA.match(linea) for linea in lineas), lineas
    assert not any(linea.startswith(FORJADA[:23]) for linea in lineas)
    assert lineas[0].endswith("WARNING ivr.voice firma de Twilio inválida para la URL "
                              "https://ivr.example.test/voice/x\\n" + FORJADA)
    assert "outcome=refused" in lineas[1]


def test_la_url_rechazada_se_registra_sin_query_ni_formulario(tmp_path, salida):
    app = _app(tmp_path)
    salida()
    app.test_client().post("/voice/curp?t=99", data={"CallSid": "CA1", "Digits": "4662850123"},
                           base_url=BASE, headers={"X-Twilio-Signature": "Zm9y"})
    [rechazo, webhook] = salida()
    assert rechazo.endswith("firma de Twilio inválida para la URL "
                            "https://ivr.example.test/voice/curp")
    assert "4662850123" not in rechazo + webhook and "t=99" not in rechazo + webhook


def test_cada_webhook_una_linea_sin_datos_personales(tmp_path, salida):
    app = _app(tmp_path)
    salida()
    llamada = Llamada(app, desde="+525511112222")
    llamada.press("5").press("1").press("7").press(teclas(GOMEZ.curp)).say("Gómez").silence()
    lineas = salida()
    webhooks = [linea for linea in lineas if " ivr.webhook webhook " in linea]
    assert lineas == webhooks  # nothing else was logged
    sid = llamada.tel.call_sid
    esperado = [
        ("incoming", None, "gather", "menu_principal"),
        ("menu_principal", "keys", "gather", "menu_prestamos"),
        ("menu_prestamos", "keys", "gather", "menu_citas"),
        ("menu_citas", "keys", "gather", "curp"),
        ("curp", "keys", "gather", "apellido"),
        ("apellido", "voice", "gather", "cita"),
        ("cita", "silence", "gather", "cita"),
    ]
    for linea, (nodo, entrada, resultado, siguiente) in zip(webhooks, esperado, strict=True):
        campos = dict(par.split("=", 1) for par in linea.split(" webhook ", 1)[1].split(" "))
        assert campos.pop("call_sid") == sid
        assert float(campos.pop("ms")) > 0
        assert campos == {"node": nodo, **({"input": entrada} if entrada else {}),
                          "outcome": resultado, "next": siguiente, "status": "200"}
    todo = "\n".join(lineas)
    for dato in (GOMEZ.curp, "Gómez", "Gomez", "5511112222", "4662850123"):
        assert dato not in todo


def test_la_linea_del_webhook_dice_donde_se_escribe(tmp_path, caplog):
    """The webhook's record is made without logging's walk up the stack: it still names the
    place that writes it, as log.log would."""
    app = _app(tmp_path)
    with caplog.at_level(logging.INFO, logger="ivr.webhook"):
        Llamada(app)
    [registro] = [r for r in caplog.records if r.name == "ivr.webhook"]
    assert (registro.pathname, registro.funcName, registro.levelname, registro.getMessage()) \
        == (logs.__file__, "_registrar_webhook", "INFO", "webhook")
    assert registro.lineno > logs._registrar_webhook.__code__.co_firstlineno
    assert registro.campos["node"] == "incoming"


def test_log_format_json(tmp_path, salida):
    app = _app(tmp_path, LOG_FORMAT="json")
    salida()
    llamada = Llamada(app)
    llamada.press("5")
    _firmado(app.test_client(), "/voice/status",
             {"CallSid": llamada.tel.call_sid, "CallStatus": "completed"})
    objetos = [json.loads(linea) for linea in salida()]
    assert [(o["node"], o.get("input"), o["outcome"], o.get("next"), o.get("call_outcome"))
            for o in objetos] == [
        ("incoming", None, "gather", "menu_principal", None),
        ("menu_principal", "keys", "gather", "menu_prestamos", None),
        ("status", None, "empty", None, "colgo_completed"),
    ]
    for o in objetos:
        assert (o["level"], o["logger"], o["msg"], o["call_sid"], o["status"]) == (
            "INFO", "ivr.webhook", "webhook", llamada.tel.call_sid, 200)
        assert isinstance(o["ms"], float)
    assert objetos[2]["call_status"] == "completed"


def test_el_formato_de_texto_es_el_de_siempre(tmp_path, salida, monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    app = _app(tmp_path)
    assert app.config["LOG_FORMAT"] == "text"
    salida()
    Llamada(app)
    [linea] = salida()
    assert INICIO_DE_LINEA.match(linea) and " INFO ivr.webhook webhook call_sid=CA" in linea


def test_log_format_desconocido_no_arranca(tmp_path):
    with pytest.raises(RuntimeError, match="LOG_FORMAT debe ser text o json"):
        nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", LOG_FORMAT="xml")


# -- database errors carry no parameters -----------------------------------------------------


def test_un_error_de_la_base_no_cita_sus_parametros(engine):
    """hide_parameters: the statement's values never reach an exception's text, so no log line
    or traceback can show them (PostgreSQL refuses a NUL in a name, SQLite a duplicate)."""
    from ivr.db import engine_for

    motor = engine_for(str(engine.url.render_as_string(hide_password=False)))
    nombre = "Rosa\x00 Gómez Ortiz"
    with motor.connect() as conexion:
        conexion.execute(text("CREATE TEMPORARY TABLE prueba (nombre VARCHAR(40) UNIQUE)"))
        if motor.dialect.name == "sqlite":
            conexion.execute(text("INSERT INTO prueba VALUES (:n)"), {"n": nombre})
        with pytest.raises(StatementError) as error:
            conexion.execute(text("INSERT INTO prueba VALUES (:n)"), {"n": nombre})
    motor.dispose()
    assert "Rosa" not in str(error.value) and "Gómez" not in str(error.value)
    assert "parameters hidden" in str(error.value)


def test_un_nul_en_el_nombre_del_tercero_no_llega_al_log(postgres_url, salida):
    """The agents' page posts a third party's name with a NUL: PostgreSQL refuses it, and
    whatever the page answers, the name is in no log line."""
    from ivr import create_app
    from ivr.models import Base
    from tests.test_agentes import AHORA, Agentes, Reloj, pedir_cancelacion, sembrar

    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "TWILIO_AUTH_TOKEN": "t",
                      "SECRET_KEY": "k", "RELOJ": Reloj(AHORA), "PROPAGATE_EXCEPTIONS": False})
    with app.app_context():
        Base.metadata.drop_all(db.engine_de(app))
        Base.metadata.create_all(db.engine_de(app))
        datos = sembrar(db.sesion())
        db.confirmar()
    agente = Agentes(app.test_client())
    agente.entrar()
    salida()
    respuesta = pedir_cancelacion(agente, datos.identificada, datos.futura,
                                  solicitante_tipo="tercero",
                                  solicitante_nombre="Rosa\x00 Gómez Ortiz")
    todo = "\n".join(salida())
    # The page drops the NUL and cancels (issue 8, #7: no 500), naming the third party
    # without it; the name is still in no log line.
    with app.app_context():
        nombre = db.sesion().scalar(select(Cancelacion.solicitante_nombre)
                                    .where(Cancelacion.cita_id == datos.futura))
    db.engine_de(app).dispose()
    assert (respuesta.status_code, nombre) == (302, "Rosa Gómez Ortiz")
    assert "Rosa" not in todo and "Ortiz" not in todo


def test_gunicorn_con_log_format_json_solo_escribe_json(tmp_path):
    """The Procfile's command under LOG_FORMAT=json: every line gunicorn and the app write, on
    both streams, is one JSON object (a log collector parses them all)."""
    _redis_o_skip()
    url = f"sqlite:///{tmp_path}/ivr.sqlite3"
    cargar_agenda(nueva_app(url, "memoria"))
    entorno = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "LOG_FORMAT": "json",
               "TWILIO_AUTH_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m")}
    proceso = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", "127.0.0.1:0", "--workers",
         "2", "--access-logfile", "-", "ivr:create_app()"], cwd=RAIZ, env=entorno,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{_esperar_puerto(proceso)}"
        tel = phone.Telefono(phone.HttpTransport(base), TOKEN, public_base_url=base)
        tel.marcar()
        tel.press("5")
        tel.colgar()
    finally:
        proceso.terminate()
        salida, errores = proceso.communicate(timeout=30)
    objetos = [json.loads(linea) for linea in (salida + errores).splitlines()]
    webhooks = [o for o in objetos if o["logger"] == "ivr.webhook"]
    assert [(o["call_sid"], o["node"], o["outcome"]) for o in webhooks] == [
        (tel.call_sid, "incoming", "gather"), (tel.call_sid, "menu_principal", "gather"),
        (tel.call_sid, "status", "empty")]
    assert any(o["logger"] == "gunicorn.access" for o in objetos)
    assert any(o["msg"].startswith("Booting worker") for o in objetos)


def test_un_valor_del_cliente_no_finge_otro_campo():
    linea = logs.Texto().format(_registro("webhook", call_sid='CA1 outcome=gather "x"',
                                          node="curp", outcome="refused"))
    assert linea.endswith(' webhook call_sid="CA1 outcome=gather \\\\"x\\\\"" node=curp '
                          'outcome=refused')


def test_a_dials_result_is_logged_as_its_dial_status_not_as_silence(tmp_path, salida):
    app = _app(tmp_path, LOG_FORMAT="json")
    llamada = Llamada(app, resultado_dial="no-answer")
    salida()
    llamada.press("0")
    objetos = [json.loads(linea) for linea in salida()]
    [dial] = [o for o in objetos if o["node"] == "agente"]
    assert (dial.get("input"), dial["dial_status"], dial["next"]) == (None, "no-answer",
                                                                     "reintento")


def test_la_respuesta_que_dice_la_vista_es_la_que_dice_el_twiml(tmp_path, monkeypatch):
    """The outcome a view says for the line (instead of the line parsing the TwiML back) is
    what its TwiML says, on every kind of answer: a gather, a dial and its result, a hang-up,
    the status callback, an apology after an internal error, a repeat."""
    from ivr import repo

    app = _app(tmp_path)
    vistos = []

    @app.after_request
    def comparar(respuesta):
        from flask import g

        dicho = g.get("ivr_respuesta_webhook")
        if dicho is not None:
            vistos.append((dicho, logs._resultado(respuesta)))
        return respuesta

    llamada = Llamada(app, resultado_dial="no-answer")
    llamada.press("5").press("1").press("7").press(teclas(GOMEZ.curp))
    llamada.press(teclas(GOMEZ.primer_apellido)).press("0")  # an agent: no answer, a retry
    llamada.tel.reenviar()
    llamada.tel.colgar()
    tercera = Llamada(app).press("5").press("1").press("7").press(teclas(GOMEZ.curp))
    tercera.press(teclas(GOMEZ.primer_apellido)).press("0")  # an agent answers
    tercera.tel.terminar_puente()  # and hangs up: the line says goodbye
    otra = Llamada(app).press("5").press("1").press("7")

    def rota(*a, **k):
        raise RuntimeError("la base de datos se fue")

    monkeypatch.setattr(repo, "buscar_por_teclas", rota)
    otra.press(teclas(GOMEZ.curp))  # the apology and a transfer
    resultados = {dicho["outcome"] for dicho, _ in vistos}
    assert {"gather", "transfer", "hangup", "empty"} <= resultados, vistos
    for dicho, del_twiml in vistos:
        assert dicho == del_twiml


@pytest.mark.parametrize("formateador", [logs.Texto, logs.Json])
def test_la_fecha_de_cada_linea_es_la_de_logging(formateador):
    """The date and time are written once per second and kept: each record still shows its
    own, milliseconds included, as logging's Formatter writes it."""
    propio, de_logging = formateador(), logging.Formatter()
    for instante in (1764681483.648, 1764681483.9999, 1764681484.0, 1764681484.001, 0.5,
                     1764681483.2):
        registro = logging.LogRecord("ivr", logging.INFO, __file__, 1, "m", (), None)
        registro.created = instante
        registro.msecs = int((instante - int(instante)) * 1000) + 0.0
        assert propio.formatTime(registro) == de_logging.formatTime(registro)


def test_json_codifica_como_json_dumps():
    """Json keeps one encoder for every record: what it writes is what python-json-logger's
    json.dumps would."""
    from pythonjsonlogger.json import JsonFormatter

    formateador = logs.Json()
    registro = _registro("ruta %s", "/voice/ñ\n", call_sid="CA1", ms=3.5, status=200,
                         habla="¿sí? \u2028", lista=[1, "dos"], nada=None)
    datos = {"msg": registro.getMessage(), **registro.campos}
    assert formateador.jsonify_log_record(datos) == JsonFormatter.jsonify_log_record(
        formateador, datos)
