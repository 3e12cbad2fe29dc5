"""Transfers to the agents, end to end: every source, both routing modes, failed dials, the
whisper, agent hours and holidays. The test phone follows <Dial>/<Enqueue> as Twilio does
(whisper fetched on the agent's leg, Dial action posted with DialCallStatus)."""

import json
from datetime import date

import pytest
from sqlalchemy import select

from ivr import db
from ivr.models import Transferencia
from tests.llamadas import GOMEZ, LOPEZ, Llamada, cargar_agenda, hasta_curp, mexico, nueva_app
from tests.test_llamada import identificar, teclas

WORKFLOW = "WW" + "0123456789abcdef" * 2


def transferencias(app):
    with app.app_context():
        return db.sesion().scalars(select(Transferencia).order_by(Transferencia.id)).all()


def susurros(llamada):
    return [e[2] for e in llamada.tel.transcripcion if e[0] == "whisper"]


def _cero_en_menu(llamar):
    llamada = llamar()
    llamada.press("0")
    return llamada


def _cero_tras_identificar(llamar):
    return identificar(llamar(), GOMEZ).press("0")


def _silencio(llamar):
    return llamar().silence().silence().silence()


def _identidad(llamar):
    llamada = hasta_curp(llamar())
    llamada.press(teclas(GOMEZ.curp))
    for _ in range(3):
        llamada.press(teclas("PEREZ"))
    return llamada


def _nada_que_cancelar(llamar):
    primera = identificar(llamar(), LOPEZ)
    primera.press("1").press("1").press("1").press("1")
    return identificar(llamar(desde="+525599998888"), LOPEZ).press("0")


FUENTES = {
    "cero_en_menu": (_cero_en_menu, "pidio_agente", "menu_principal", False),
    "cero_tras_identificar": (_cero_tras_identificar, "pidio_agente", "cita", True),
    "silencio": (_silencio, "reintentos_agotados", "menu_principal", False),
    "identidad": (_identidad, "identificacion_fallida", "apellido", False),
    "nada_que_cancelar": (_nada_que_cancelar, "pidio_agente", "sin_cita", True),
}


@pytest.mark.parametrize("fuente", FUENTES)
def test_every_source_records_the_transfer_and_whispers_it(app, llamar, fuente):
    hacer, razon, nodo, identificado = FUENTES[fuente]
    llamada = hacer(llamar)
    assert llamada.tel.estado == "transferred"
    assert llamada.dicho.endswith("Le comunico con un agente. Espere un momento, por favor.")
    t = transferencias(app)[-1]
    assert (t.razon, t.nodo, t.identificado) == (razon, nodo, identificado)
    assert t.call_sid == llamada.tel.call_sid
    assert (t.cita_id is not None) == (fuente == "cero_tras_identificar")
    # The agent heard the context before the bridge, in one sentence.
    [susurro] = susurros(llamada)
    assert ("Cliente identificado" if identificado else "Cliente no identificado") in susurro
    # After the conversation, the Dial's action heard how it ended.
    llamada.tel.colgar()
    assert transferencias(app)[-1].dial_status == "completed"


def test_whisper_names_the_cita_date_and_the_step(app, llamar):
    llamada = identificar(llamar(), GOMEZ).press("0")
    [susurro] = susurros(llamada)
    assert "El cliente pidió un agente" in susurro
    assert "Cita del" in susurro and "diciembre" in susurro
    assert "lectura de la cita" in susurro
    assert GOMEZ.curp not in susurro and GOMEZ.curp[:10] not in susurro


def test_an_internal_error_transfers_with_its_reason(app, llamar, monkeypatch):
    from ivr import repo

    def rota(*a, **k):
        raise RuntimeError("la base de datos se fue")

    llamada = hasta_curp(llamar())
    monkeypatch.setattr(repo, "ids_por_teclas", rota)
    llamada.press(teclas(GOMEZ.curp))
    assert llamada.tel.error_de_aplicacion is None
    assert llamada.tel.estado == "transferred"
    assert "Le comunico con un agente" in llamada.dicho
    t = transferencias(app)[-1]
    assert (t.razon, t.nodo, t.identificado) == ("error_interno", "curp", False)


def dials(llamada):
    return [e for e in llamada.tel.transcripcion if e[0] == "dial"]


@pytest.mark.parametrize("resultado", ["no-answer", "busy", "failed"])
def test_failed_dial_apologises_offers_the_web_a_callback_and_one_retry(app, llamar, resultado):
    llamada = identificar(llamar(resultado_dial=resultado), GOMEZ).press("0")
    assert llamada.nodo == "reintento"
    dicho = llamada.dicho
    assert "no pudimos comunicarle con un agente" in dicho
    assert "asisste punto issste" in dicho
    assert "Para que un agente le llame en horario de atención, presione 1." in dicho
    assert "Para intentar de nuevo ahora, presione 2." in dicho
    assert transferencias(app)[-1].dial_status == resultado
    # Trying again dials again (a second record); a second failure offers no more tries.
    llamada.press("2")
    assert len(transferencias(app)) == 2 and len(dials(llamada)) == 2
    assert "intentar de nuevo" not in llamada.dicho
    assert "Para que un agente le llame en horario de atención, presione 1." in llamada.dicho
    assert llamada.nodo == "devolucion_oferta"
    llamada.press("2")
    assert llamada.tel.estado == "completed"
    assert registro_de(app, llamada).desenlace == "sin_agente"


def registro_de(app, llamada):
    from ivr.models import Llamada as Registro

    with app.app_context():
        return db.sesion().get(Registro, llamada.tel.call_sid)


def test_after_a_failed_dial_the_caller_may_end_the_call(app, llamar):
    llamada = identificar(llamar(resultado_dial="no-answer"), GOMEZ).press("0")
    llamada.press("3")
    assert llamada.tel.estado == "completed"
    assert len(transferencias(app)) == 1
    # Two dials unanswered is not "transferida" (issue 13): nobody talked to the caller.
    assert registro_de(app, llamada).desenlace == "sin_agente"


def test_an_answered_dial_is_recorded_as_transferida(app, llamar):
    llamada = identificar(llamar(), GOMEZ).press("0")
    llamada.tel.colgar()
    registro = registro_de(app, llamada)
    assert (registro.desenlace, registro.razon, registro.ultimo_nodo) == (
        "transferida", "pidio_agente", "agente")


def test_failed_dial_then_silence_says_goodbye_not_dead_air(app, llamar):
    llamada = identificar(llamar(resultado_dial="busy"), GOMEZ).press("0")
    llamada.silence().silence().silence()
    assert llamada.tel.estado == "completed"
    assert llamada.dicho.endswith("Gracias por llamar a la Línea ASISSSTE. Hasta luego.")
    assert len(dials(llamada)) == 1  # silence never dials again


def test_a_callback_after_a_failed_dial_reads_the_number_back_and_is_recorded(app, llamar):
    from ivr import repo_devoluciones

    llamada = identificar(llamar(resultado_dial="no-answer", desde="+525511112222"), GOMEZ)
    llamada.press("0").press("1")
    assert llamada.nodo == "devolucion"
    assert "Le llamaremos a este número: cinco, cinco, uno, uno, uno, uno, dos, dos, dos, dos." \
        in llamada.dicho
    llamada.press("1")
    assert "Un agente le llamará en horario de atención." in llamada.dicho
    assert llamada.tel.estado == "completed"
    with app.app_context():
        [devolucion] = repo_devoluciones.devoluciones(db.sesion())
        assert (devolucion.telefono, devolucion.estado) == ("+525511112222", "pendiente")
        t = devolucion.transferencia
        assert (t.razon, t.nodo, t.identificado, t.dial_status) == (
            "pidio_agente", "cita", True, "no-answer")
    assert registro_de(app, llamada).desenlace == "devolucion_registrada"


def test_out_of_hours_offers_the_callback(app, llamar):
    from ivr import repo_devoluciones

    app.config["RELOJ"] = lambda: mexico(21)
    llamada = llamar(desde="+525599998888").press("0")
    assert "Nuestro horario de atención es" in llamada.dicho
    assert "Para que un agente le llame en horario de atención, presione 1." in llamada.dicho
    assert dials(llamada) == []
    llamada.press("1").press("1")
    with app.app_context():
        [devolucion] = repo_devoluciones.devoluciones(db.sesion())
        assert devolucion.telefono == "+525599998888"
        assert devolucion.transferencia.dial_status == "fuera_de_horario"


def test_a_wrong_or_hidden_number_records_no_callback(app, llamar):
    from ivr import repo_devoluciones

    app.config["RELOJ"] = lambda: mexico(21)
    llamada = llamar().press("0").press("1").press("2")
    assert "llámenos desde ese teléfono" in llamada.dicho
    oculto = llamar(desde="anonymous").press("0").press("1")
    assert "No podemos ver el número desde el que llama" in oculto.dicho
    assert oculto.tel.estado == "completed"
    with app.app_context():
        assert repo_devoluciones.devoluciones(db.sesion()) == []


def test_the_whisper_names_the_transfer_the_caller_the_reason_and_the_cita(app, llamar):
    llamada = identificar(llamar(), GOMEZ).press("0")
    [susurro] = susurros(llamada)
    t = transferencias(app)[-1]
    assert susurro.startswith(f"Transferencia {t.id}. Cliente identificado: Ana Gómez. "
                              "El cliente pidió un agente. Cita del miércoles 2 de diciembre.")


def test_the_agents_leg_marks_the_transfer_en_linea_then_done(app, llamar):
    llamada = identificar(llamar(), GOMEZ).press("0")
    eventos = [e[1] for e in llamada.tel.transcripcion if e[0] == "agent-status"]
    assert eventos == ["initiated", "ringing", "in-progress"]
    assert transferencias(app)[-1].agente_estado == "in-progress"  # en línea
    llamada.tel.colgar()
    t = transferencias(app)[-1]
    assert (t.agente_estado, t.dial_status) == ("completed", "completed")


def test_an_unanswered_agents_leg_ends_no_answer(app, llamar):
    llamada = llamar(resultado_dial="no-answer").press("0")
    eventos = [e[1] for e in llamada.tel.transcripcion if e[0] == "agent-status"]
    assert eventos == ["initiated", "ringing", "no-answer"]
    assert transferencias(app)[-1].agente_estado == "no-answer"


@pytest.fixture
def app_taskrouter(tmp_path):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", AGENT_DIAL=None,
                    TWILIO_WORKFLOW_SID=WORKFLOW)
    cargar_agenda(app)
    yield app
    db.engine_de(app).dispose()


def test_taskrouter_enqueues_with_the_context_and_no_full_curp(app_taskrouter):
    llamada = identificar(Llamada(app_taskrouter), GOMEZ).press("0")
    [(_, _, atributos)] = [e for e in llamada.tel.transcripcion if e[0] == "enqueue"]
    assert atributos["workflowSid"] == WORKFLOW
    assert atributos["waitUrl"].endswith("/voice/espera")
    tarea = json.loads(atributos["task"])
    assert tarea["razon"] == "pidio_agente" and tarea["identificado"] is True
    assert tarea["ultimo_paso"] == "cita" and tarea["cita_id"]
    assert tarea["cita"] == "miércoles 2 de diciembre"
    texto = json.dumps(tarea)
    assert GOMEZ.curp not in texto and GOMEZ.curp[:10] not in texto
    assert "Su lugar en la fila es el 1" in " ".join(
        e[1] for e in llamada.tel.transcripcion if e[0] == "say")
    assert llamada.tel.estado == "transferred"


def test_taskrouter_leaving_the_queue_offers_a_retry(tmp_path):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", AGENT_DIAL=None,
                    TWILIO_WORKFLOW_SID=WORKFLOW)
    cargar_agenda(app)
    llamada = Llamada(app, resultado_cola="queue-full")
    llamada.press("0")
    assert "no pudimos comunicarle con un agente" in llamada.dicho
    assert transferencias(app)[-1].dial_status == "queue-full"


# -- hours and holidays ------------------------------------------------------------------------

FERIADO = date(2026, 12, 25)  # Navidad, a Friday
SABADO = date(2026, 11, 28)
DOMINGO = date(2026, 11, 29)


@pytest.mark.parametrize(("cuando", "abierto"), [
    (mexico(10), True),                 # Tuesday 10:00
    (mexico(7, 59), False),             # before opening
    (mexico(20, 0), False),             # closing time is closed
    (mexico(10, dia=SABADO), True),     # Saturday morning
    (mexico(15, dia=SABADO), False),    # Saturday afternoon
    (mexico(10, dia=DOMINGO), False),   # Sunday
    (mexico(10, dia=FERIADO), False),   # a federal holiday on a weekday
])
def test_agent_hours_and_holidays(app, llamar, cuando, abierto):
    app.config["RELOJ"] = lambda: cuando
    llamada = llamar()
    llamada.press("0")
    t = transferencias(app)[-1]
    if abierto:
        assert llamada.tel.estado == "transferred"
        assert t.dial_status == "completed" or t.dial_status is None
    else:
        assert llamada.nodo == "devolucion_oferta" and dials(llamada) == []
        assert "lunes a viernes" in llamada.dicho
        assert t.dial_status == "fuera_de_horario"


def test_self_service_works_out_of_hours(app, llamar):
    app.config["RELOJ"] = lambda: mexico(3)  # 3 a.m.: no agents, the line still works
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("1").press("1").press("1").press("1")
    assert "Su cita quedó cancelada." in llamada.dicho


def test_24_7_opens_on_holidays_and_nights(tmp_path):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", AGENT_HOURS="24/7",
                    RELOJ=lambda: mexico(3, dia=FERIADO))
    cargar_agenda(app)
    llamada = Llamada(app).press("0")
    assert llamada.tel.estado == "transferred"


def test_retry_after_an_internal_error_transfer_dials_once_more_then_ends(app, llamar,
                                                                         monkeypatch):
    from ivr import repo

    def rota(*a, **k):
        raise RuntimeError("la base de datos se fue")

    llamada = hasta_curp(llamar(resultado_dial="no-answer"))
    monkeypatch.setattr(repo, "ids_por_teclas", rota)
    llamada.press(teclas(GOMEZ.curp))
    assert llamada.nodo == "reintento"
    llamada.press("2")
    assert llamada.nodo == "devolucion_oferta" and "intentar de nuevo" not in llamada.dicho
    ts = transferencias(app)
    assert [t.razon for t in ts] == ["error_interno", "error_interno"]
    assert [t.dial_status for t in ts] == ["no-answer", "no-answer"]
    assert [t.nodo for t in ts] == ["curp", "curp"]


def test_a_failed_dial_with_the_store_down_is_retried_once_from_the_records(app, llamar):
    from ivr.store import RedisStore

    llamada = identificar(llamar(resultado_dial="busy", ruta_estado=None), GOMEZ)
    app.extensions["ivr_store"] = RedisStore("redis://127.0.0.1:1/0", 60)  # Redis dies
    llamada.press("0")  # the state can't be read: an apology and a dial
    assert len(dials(llamada)) == 1
    assert "Lo sentimos, tuvimos un problema con su llamada." in " ".join(
        e[1] for e in llamada.tel.transcripcion if e[0] == "say")
    # The failed dial's result is taken up from the transfer's record: one retry is offered.
    assert "no pudimos comunicarle con un agente" in llamada.dicho
    assert "asisste punto issste" in llamada.dicho
    assert llamada.nodo == "reintento"
    llamada.press("2")  # the retry still dials, counted from the database's records
    assert len(dials(llamada)) == 2
    assert llamada.nodo == "devolucion_oferta"  # and the second failure offers no third
    llamada.press("2")
    assert llamada.tel.estado == "completed" and len(dials(llamada)) == 2
    assert [t.dial_status for t in transferencias(app)] == ["busy", "busy"]


def test_with_redis_and_the_database_down_a_dial_result_never_dials_again(app, llamar,
                                                                          monkeypatch):
    from sqlalchemy.exc import OperationalError

    from ivr import repo
    from ivr.store import RedisStore

    def rota(*a, **k):
        raise OperationalError("SELECT", {}, ConnectionRefusedError())

    llamada = identificar(llamar(resultado_dial="no-answer", ruta_estado=None), GOMEZ)
    app.extensions["ivr_store"] = RedisStore("redis://127.0.0.1:1/0", 60)
    monkeypatch.setattr(repo, "registrar_transferencia", rota)
    monkeypatch.setattr(repo, "ultima_transferencia", rota)
    llamada.press("0")
    assert len(dials(llamada)) == 1
    assert llamada.tel.estado == "completed"
    assert llamada.dicho.endswith("Gracias por llamar a la Línea ASISSSTE. Hasta luego.")
    assert llamada.tel.error_de_aplicacion is None


@pytest.mark.parametrize("estado_dial", ["completed", "answered"])
def test_after_a_conversation_with_the_agent_the_call_ends(app, estado_dial):
    from twilio.request_validator import RequestValidator

    from tests.llamadas import BASE, TOKEN

    form = {"CallSid": "CA" + "b" * 32, "DialCallStatus": estado_dial}
    firma = RequestValidator(TOKEN).compute_signature(BASE + "/voice/agente", form)
    r = app.test_client().post("/voice/agente", data=form, base_url=BASE,
                               headers={"X-Twilio-Signature": firma})
    assert r.status_code == 200
    assert r.get_data(True).endswith("<Response><Hangup /></Response>")


def test_a_talk_longer_than_the_state_keeps_the_calls_record(app, llamar):
    from ivr.models import Llamada as Registro

    llamada = identificar(llamar(ruta_estado=None), GOMEZ).press("0")
    sid = llamada.tel.call_sid
    app.extensions["ivr_store"].delete(sid)  # the state expired during the conversation
    llamada.tel.ruta_estado = "/voice/status"
    llamada.tel.colgar()
    with app.app_context():
        registro = db.sesion().get(Registro, sid)
        assert (registro.desenlace, registro.razon, registro.ultimo_nodo) == (
            "transferida", "pidio_agente", "agente")
        assert registro.derechohabiente_id is not None and registro.terminada_en is not None
        assert registro.ruta[:3] == ["menu_principal", "menu_prestamos", "menu_citas"]
