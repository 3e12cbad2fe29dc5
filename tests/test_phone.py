"""The test phone follows hand-written TwiML exactly as Twilio's voice engine does."""

from __future__ import annotations

import io
import re
import threading

import pytest
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from ivr import phone

TOKEN = "token-de-pruebas"
BASE = "https://ivr.example.test"
DESDE = "+525511112222"
LINEA = "+525540001000"


def twiml(cuerpo: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{cuerpo}</Response>'


def linea_de_prueba(documentos: dict, publica: str | None = None) -> Flask:
    """A tiny webhook app: each path answers its TwiML (a string, or a function of the request
    returning a string or a Response); unsigned or badly signed requests get 403, as the real
    app. With *publica*, the signed URL is that base plus the path (behind a proxy)."""
    app = Flask(__name__)
    recibidas: list[tuple[str, str, dict]] = []
    app.config["RECIBIDAS"] = recibidas
    documentos = {"/voice/status": twiml(""), **documentos}

    @app.route("/<path:ruta>", methods=["GET", "POST"])
    def webhook(ruta):
        url = request.url
        if publica:
            query = request.query_string.decode()
            url = publica + request.path + (f"?{query}" if query else "")
        firma = request.headers.get("X-Twilio-Signature", "")
        if not firma or not RequestValidator(TOKEN).validate(url, request.form, firma):
            abort(403)
        recibidas.append((request.method, request.path,
                          {**request.args.to_dict(), **request.form.to_dict()}))
        documento = documentos.get(request.path)
        if documento is None:
            abort(404)
        if isinstance(documento, Response):
            return documento
        if callable(documento):
            documento = documento(request)
        return Response(documento, content_type="text/xml; charset=utf-8")

    return app


@pytest.fixture
def llamar():
    """A phone on a test line: `tel, recibidas = llamar(documentos, **opciones)`."""

    def hacer(documentos: dict, **opciones):
        app = linea_de_prueba(documentos)
        tel = phone.Telefono(phone.FlaskTransport(app, BASE), TOKEN, desde=DESDE, hacia=LINEA,
                             **opciones)
        return tel, app.config["RECIBIDAS"]

    return hacer


def base(estado: str, tel: phone.Telefono) -> dict:
    """The parameters Twilio sends with every request of the call."""
    return {"CallSid": tel.call_sid, "AccountSid": tel.account_sid, "From": DESDE, "To": LINEA,
            "Caller": DESDE, "Called": LINEA, "CallStatus": estado, "Direction": "inbound",
            "ApiVersion": "2010-04-01"}


def rutas(recibidas) -> list[tuple[str, str]]:
    return [(metodo, ruta) for metodo, ruta, _ in recibidas]


# -- signing and call parameters ------------------------------------------------------------


def test_incoming_call_is_signed_and_carries_twilio_parameters(llamar):
    tel, recibidas = llamar({"/voice/incoming": twiml(
        '<Say voice="Polly.Mia" language="es-MX">Hola.</Say><Hangup/>')})
    tel.marcar()
    assert re.fullmatch(r"CA[0-9a-f]{32}", tel.call_sid)
    assert re.fullmatch(r"AC[0-9a-f]{32}", tel.account_sid)
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/status")]
    assert recibidas[0][2] == base("ringing", tel)
    estado = recibidas[1][2]
    assert {k: estado[k] for k in base("completed", tel)} == base("completed", tel)
    assert estado["CallDuration"] == "0"
    assert estado["CallbackSource"] == "call-progress-events"
    assert estado["Timestamp"].endswith(" GMT")
    assert [e[0] for e in tel.transcripcion] == ["post", "say", "hangup", "post"]
    assert tel.transcripcion[1] == ("say", "Hola.", "Polly.Mia", "es-MX")
    assert tel.transcripcion[0] == ("post", "/voice/incoming", base("ringing", tel))
    assert tel.dicho == "Hola."
    assert (tel.terminada, tel.colgada, tel.estado) == (True, True, "completed")
    assert tel.ultima_respuesta == (200, "text/xml; charset=utf-8", twiml(
        '<Say voice="Polly.Mia" language="es-MX">Hola.</Say><Hangup/>'))
    assert tel.respuesta_estado[0] == 200
    assert tel.errores == [] and tel.error_de_aplicacion is None


@pytest.mark.parametrize("firma", ["invalida", "ninguna"])
def test_forged_or_missing_signature_gets_403_and_the_phone_reports_it(llamar, firma):
    tel, recibidas = llamar({"/voice/incoming": twiml("<Say>Hola.</Say>")}, firma=firma)
    tel.marcar()
    assert recibidas == []
    assert tel.ultima_respuesta[0] == 403
    assert tel.errores == [("application-error", 403, BASE + "/voice/incoming")]
    assert tel.error_de_aplicacion == 403
    assert [e[0] for e in tel.transcripcion] == ["post", "application-error", "post"]
    assert tel.transcripcion[1] == ("application-error", 403)
    assert tel.respuesta_estado[0] == 403  # the status callback is forged too
    assert (tel.terminada, tel.estado, tel.dicho) == (True, "completed", "")


def test_signature_is_over_the_public_url_not_the_transport_url():
    """Behind a proxy the app is reached at one address and Twilio signs another."""
    documentos = {"/voice/incoming": twiml("<Say>Hola.</Say>")}
    detras = linea_de_prueba(documentos, publica=BASE)
    tel = phone.Telefono(phone.FlaskTransport(detras, "http://10.0.0.5:8000"), TOKEN,
                         public_base_url=BASE)
    tel.marcar()
    assert tel.errores == [] and tel.dicho == "Hola."
    # An app that checks the URL it was reached at rejects the same request.
    directa = linea_de_prueba(documentos)
    tel = phone.Telefono(phone.FlaskTransport(directa, "http://10.0.0.5:8000"), TOKEN,
                         public_base_url=BASE)
    tel.marcar()
    assert tel.errores == [("application-error", 403, BASE + "/voice/incoming")]


# -- Gather -----------------------------------------------------------------------------------


def test_num_digits_takes_that_many_keys_and_keeps_the_rest_for_the_next_gather(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu" numDigits="1">'
                                 "<Say>Para citas presione 5.</Say></Gather>"),
        "/voice/menu": twiml('<Gather action="/voice/sub" numDigits="2">'
                             "<Say>Dos dígitos.</Say></Gather>"),
        "/voice/sub": twiml("<Say>Fin.</Say><Hangup/>"),
    })
    tel.marcar()
    assert tel.dicho == "Para citas presione 5."
    assert tel.ultimo_gather == {"action": BASE + "/voice/menu", "method": "POST",
                                 "numDigits": "1"}
    assert (tel.esperando, tel.terminada, tel.estado) == (True, False, "in-progress")
    tel.press("523")
    assert recibidas[1] == ("POST", "/voice/menu", {**base("in-progress", tel), "Digits": "5"})
    assert recibidas[2] == ("POST", "/voice/sub", {**base("in-progress", tel), "Digits": "23"})
    assert tel.dicho == "Dos dígitos. Fin."
    assert tel.estado == "completed"


@pytest.mark.parametrize(("atributos", "teclas", "esperado"), [
    ("", "4662#", {"Digits": "4662", "FinishedOnKey": "#"}),
    ("", "4662", {"Digits": "4662"}),  # no finish key: the timeout ends it
    ('finishOnKey="*"', "12#*", {"Digits": "12#", "FinishedOnKey": "*"}),
    ('finishOnKey=""', "12#", {"Digits": "12#"}),
    ('numDigits="3"', "12#", {"Digits": "12", "FinishedOnKey": "#"}),
])
def test_finish_key_ends_the_input_and_is_not_in_digits(llamar, atributos, teclas, esperado):
    tel, recibidas = llamar({
        "/voice/incoming": twiml(f'<Gather action="/voice/curp" {atributos}>'
                                 "<Say>Marque su CURP.</Say></Gather>"),
        "/voice/curp": twiml("<Hangup/>"),
    })
    tel.marcar().press(teclas)
    metodo, ruta, form = recibidas[1]
    assert (metodo, ruta) == ("POST", "/voice/curp")
    assert form == {**base("in-progress", tel), **esperado}


@pytest.mark.parametrize("entrada", ["silence", "#", "speech on dtmf"])
def test_empty_result_posts_when_action_on_empty_result_is_true(llamar, entrada):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu" actionOnEmptyResult="true">'
                                 "<Say>Menú.</Say></Gather><Say>Nunca.</Say>"),
        "/voice/menu": twiml("<Say>Sin respuesta.</Say><Hangup/>"),
    })
    tel.marcar()
    {"silence": tel.silence, "#": lambda: tel.press("#"),
     "speech on dtmf": lambda: tel.say("cancelar")}[entrada]()
    assert recibidas[1] == ("POST", "/voice/menu", base("in-progress", tel))
    assert tel.dicho == "Sin respuesta."


@pytest.mark.parametrize("entrada", ["silence", "#"])
def test_empty_result_falls_through_to_the_next_verb_without_action_on_empty_result(llamar,
                                                                                     entrada):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu"><Say>Menú.</Say></Gather>'
                                 "<Say>No le escuché.</Say><Redirect>/voice/otra</Redirect>"),
        "/voice/otra": twiml("<Say>Otra vez.</Say><Hangup/>"),
    })
    tel.marcar()
    tel.silence() if entrada == "silence" else tel.press("#")
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/otra"),
                                ("POST", "/voice/status")]
    assert tel.dicho == "No le escuché. Otra vez."


def test_speech_on_a_dtmf_only_gather_is_silence(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu" numDigits="1">'
                                 "<Say>Menú.</Say></Gather><Say>No le escuché.</Say>"),
    })
    tel.marcar().say("cancelar")
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/status")]
    assert ("input", "speech-ignored", "cancelar") in tel.transcripcion
    assert tel.dicho == "No le escuché."


def test_speech_posts_speech_result_and_confidence_and_keys_still_work(llamar):
    gather = ('<Gather action="/voice/menu" input="dtmf speech" language="es-MX" '
              'hints="cancelar, agente"><Say>Diga o marque.</Say></Gather>')
    tel, recibidas = llamar({"/voice/incoming": twiml(gather),
                             "/voice/menu": twiml(gather)})
    tel.marcar()
    assert tel.ultimo_gather == {"action": BASE + "/voice/menu", "method": "POST",
                                 "input": "dtmf speech", "language": "es-MX",
                                 "hints": "cancelar, agente"}
    tel.say("cancelar mi cita", confidence=0.75)
    assert recibidas[1][2] == {**base("in-progress", tel), "SpeechResult": "cancelar mi cita",
                               "Confidence": "0.75"}
    tel.press("0#")
    assert recibidas[2][2] == {**base("in-progress", tel), "Digits": "0",
                               "FinishedOnKey": "#"}


def test_gather_action_defaults_to_the_current_document_url(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Redirect>/voice/menu</Redirect>'),
        "/voice/menu": lambda r: twiml(
            "<Hangup/>" if "Digits" in r.form else "<Gather><Say>Marque.</Say></Gather>"),
    })
    tel.marcar()
    assert tel.ultimo_gather["action"] == BASE + "/voice/menu"
    tel.press("7#")
    assert rutas(recibidas)[2] == ("POST", "/voice/menu")
    assert recibidas[2][2]["Digits"] == "7"


def test_redirect_resolves_relative_urls_and_get_is_signed_with_its_query(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": twiml("<Say>Uno.</Say><Redirect>siguiente</Redirect>"
                                 "<Say>Nunca.</Say>"),
        "/voice/siguiente": twiml('<Redirect method="GET">/voice/consulta?paso=2</Redirect>'),
        "/voice/consulta": twiml("<Say>Dos.</Say>"),
    })
    tel.marcar()
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/siguiente"),
                                ("GET", "/voice/consulta"), ("POST", "/voice/status")]
    assert recibidas[1][2] == base("in-progress", tel)
    assert recibidas[2][2] == {**base("in-progress", tel), "paso": "2"}
    assert tel.dicho == "Uno. Dos."
    assert tel.errores == []


# -- Dial and Enqueue -----------------------------------------------------------------------


DIAL_SIN_ACCION = twiml(
    '<Say>Le comunico.</Say><Dial answerOnBridge="true">'
    '<Number url="/voice/susurro?t=7" method="POST">+525540009999</Number></Dial>'
    "<Say>Después del puente.</Say>")


def test_answered_dial_bridges_the_caller_after_the_agent_hears_the_whisper(llamar):
    tel, recibidas = llamar({"/voice/incoming": DIAL_SIN_ACCION,
                             "/voice/susurro": twiml("<Say>Cliente identificado.</Say>")})
    tel.marcar()
    assert (tel.estado, tel.terminada, tel.colgada) == ("transferred", True, False)
    assert tel.transferido_a == "+525540009999"
    assert tel.dicho == "Le comunico."
    dial = next(e for e in tel.transcripcion if e[0] == "dial")
    assert dial == ("dial", "+525540009999", {
        "answerOnBridge": "true", "noun": "Number",
        "noun_attrs": {"url": "/voice/susurro?t=7", "method": "POST"},
        "url": BASE + "/voice/susurro?t=7"})
    assert ("whisper", BASE + "/voice/susurro?t=7", "Cliente identificado.") in tel.transcripcion
    metodo, ruta, susurro = recibidas[1]
    assert (metodo, ruta, susurro["t"]) == ("POST", "/voice/susurro", "7")
    assert susurro["ParentCallSid"] == tel.call_sid and susurro["CallSid"] != tel.call_sid
    assert (susurro["To"], susurro["Direction"]) == ("+525540009999", "outbound-dial")
    with pytest.raises(phone.LlamadaTerminada):
        tel.press("1")
    tel.colgar()
    assert rutas(recibidas)[2:] == [("POST", "/voice/status")]
    assert (tel.estado, tel.colgada) == ("transferred", True)


def test_without_action_the_call_goes_on_with_the_next_verb_after_the_bridge(llamar):
    tel, recibidas = llamar({"/voice/incoming": DIAL_SIN_ACCION,
                             "/voice/susurro": twiml("<Say>Cliente.</Say>")})
    tel.marcar().terminar_puente()
    assert tel.dicho == "Después del puente."
    assert (tel.estado, tel.colgada) == ("transferred", True)
    assert rutas(recibidas)[-1] == ("POST", "/voice/status")


def test_unanswered_dial_without_action_goes_on_with_the_next_verb(llamar):
    tel, recibidas = llamar({"/voice/incoming": DIAL_SIN_ACCION}, resultado_dial="busy")
    tel.marcar()
    assert tel.dicho == "Le comunico. Después del puente."
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/status")]
    assert (tel.estado, tel.transferido_a) == ("completed", None)


def _transferencia(r):
    if r.form["DialCallStatus"] == "completed":
        return twiml("<Hangup/>")
    return twiml('<Say>Nadie contestó.</Say><Gather action="/voice/reintento" numDigits="1">'
                 "<Say>Para intentar de nuevo presione 1.</Say></Gather>")


DIAL_CON_ACCION = {
    "/voice/incoming": twiml('<Dial action="/voice/transferencia" timeout="20">'
                             "<Sip>sip:agentes@example.test</Sip></Dial><Say>Nunca.</Say>"),
    "/voice/transferencia": _transferencia,
}


@pytest.mark.parametrize("resultado", ["no-answer", "busy", "failed", "canceled"])
def test_unanswered_dial_posts_its_status_to_the_action_and_follows_the_answer(llamar,
                                                                                resultado):
    tel, recibidas = llamar(DIAL_CON_ACCION, resultado_dial=resultado)
    tel.marcar()
    assert recibidas[1] == ("POST", "/voice/transferencia",
                            {**base("in-progress", tel), "DialCallStatus": resultado})
    assert tel.dicho == "Nadie contestó. Para intentar de nuevo presione 1."
    assert (tel.estado, tel.transferido_a) == ("in-progress", None)
    assert tel.ultimo_gather["action"] == BASE + "/voice/reintento"


def test_answered_dial_posts_completed_to_the_action_when_the_agent_hangs_up(llamar):
    tel, recibidas = llamar(DIAL_CON_ACCION)
    tel.marcar()
    assert (tel.estado, tel.transferido_a) == ("transferred", "sip:agentes@example.test")
    assert rutas(recibidas) == [("POST", "/voice/incoming")]
    tel.terminar_puente()
    metodo, ruta, form = recibidas[1]
    assert (metodo, ruta, form["DialCallStatus"]) == ("POST", "/voice/transferencia", "completed")
    assert re.fullmatch(r"CA[0-9a-f]{32}", form["DialCallSid"])
    assert ("hangup",) in tel.transcripcion
    assert rutas(recibidas)[2:] == [("POST", "/voice/status")]
    assert (tel.estado, tel.colgada) == ("transferred", True)


def test_caller_hanging_up_on_the_agent_posts_the_action_but_does_not_follow_it(llamar):
    tel, recibidas = llamar(DIAL_CON_ACCION)
    tel.marcar().colgar()
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/transferencia"),
                                ("POST", "/voice/status")]
    assert (recibidas[1][2]["DialCallStatus"], recibidas[1][2]["CallStatus"]) == (
        "completed", "completed")
    assert ("hangup",) not in tel.transcripcion and ("caller-hangup",) in tel.transcripcion


def test_enqueue_hears_the_hold_document_and_bridges(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": twiml(
            '<Say>Le comunico.</Say><Enqueue workflowSid="WW0123" action="/voice/transferencia"'
            ' waitUrl="/voice/espera" waitUrlMethod="POST"><Task>{"razon": "menu"}</Task>'
            "</Enqueue>"),
        "/voice/espera": lambda r: twiml(
            f"<Say>Usted es el número {r.form['QueuePosition']}.</Say><Pause length=\"15\"/>"),
        "/voice/transferencia": lambda r: twiml(f"<Say>{r.form['QueueResult']}.</Say>"),
    })
    tel.marcar()
    assert (tel.estado, tel.transferido_a) == ("transferred", "WW0123")
    assert tel.dicho == "Le comunico. Usted es el número 1."
    assert ("enqueue", "", {"workflowSid": "WW0123", "action": "/voice/transferencia",
                            "waitUrl": "/voice/espera", "waitUrlMethod": "POST",
                            "task": '{"razon": "menu"}'}) in tel.transcripcion
    tel.terminar_puente()
    assert recibidas[2][1:] == ("/voice/transferencia", {**base("in-progress", tel),
                                "QueueResult": "bridged", "QueueSid": recibidas[2][2]["QueueSid"],
                                "QueueTime": "0"})
    assert tel.dicho == "bridged."


# -- the end of the call and errors -----------------------------------------------------------


def test_end_of_document_hangs_up_and_posts_the_status_callback(llamar):
    tel, recibidas = llamar({"/voice/incoming": twiml("<Say>Adiós.</Say>")})
    tel.marcar()
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/status")]
    assert recibidas[1][2]["CallStatus"] == "completed"
    assert (tel.terminada, tel.estado) == (True, "completed")
    with pytest.raises(phone.LlamadaTerminada):
        tel.silence()


def test_caller_hangs_up_at_a_gather(llamar):
    tel, recibidas = llamar({"/voice/incoming": twiml(
        '<Gather action="/voice/menu"><Say>Menú.</Say></Gather>')})
    tel.marcar().colgar()
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/status")]
    assert (tel.terminada, tel.estado, tel.transcripcion[-2]) == (True, "completed",
                                                                  ("caller-hangup",))


@pytest.mark.parametrize(("respuesta", "estado"), [
    (Response("boom", status=500, content_type="text/plain"), 500),
    (Response("<Response/>", status=404, content_type="text/xml"), 404),
    (Response(twiml("<Say>Hola.</Say>"), content_type="text/html"), 200),
    (Response("<Response><Say>roto", content_type="text/xml"), 200),
    (Response("<Respuesta/>", content_type="text/xml"), 200),
])
def test_application_error_is_recorded_and_ends_the_call(llamar, respuesta, estado):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu"><Say>Menú.</Say></Gather>'),
        "/voice/menu": respuesta,
    })
    tel.marcar().press("1#")
    assert tel.errores == [("application-error", estado, BASE + "/voice/menu")]
    assert tel.transcripcion[-2] == ("application-error", estado)
    assert (tel.terminada, tel.estado, tel.dicho) == (True, "completed", "")
    assert rutas(recibidas)[-1] == ("POST", "/voice/status")


def test_fallback_url_is_asked_when_the_incoming_webhook_fails(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": Response("boom", status=500),
        "/voice/fallback": twiml("<Say>Disculpe.</Say><Hangup/>"),
    }, ruta_fallback="/voice/fallback")
    tel.marcar()
    assert recibidas[1] == ("POST", "/voice/fallback", {
        **base("ringing", tel), "ErrorCode": "11200", "ErrorUrl": BASE + "/voice/incoming"})
    assert tel.dicho == "Disculpe."
    assert tel.errores == [("application-error", 500, BASE + "/voice/incoming")]


@pytest.mark.parametrize(("cuerpo", "mensaje"), [
    ("<Sya>Hola</Sya>", "verbo TwiML desconocido <Sya> dentro de <Response>"),
    ("<Gather><Dial>+52</Dial></Gather>", "<Dial> no puede ir dentro de <Gather>"),
    ("<Record/>", "<Record> .* no lo sigue este teléfono"),
    ("<Dial></Dial>", "<Dial> sin destino"),
    ("<Dial><Numero>+52</Numero></Dial>", "<Numero> no va dentro de <Dial>"),
])
def test_bad_twiml_raises_a_clear_error(llamar, cuerpo, mensaje):
    tel, _ = llamar({"/voice/incoming": twiml(cuerpo)})
    with pytest.raises(phone.TwimlError, match=mensaje):
        tel.marcar()


def test_reject_ends_the_call_as_busy(llamar):
    tel, recibidas = llamar({"/voice/incoming": twiml('<Reject reason="busy"/>')})
    tel.marcar()
    assert tel.transcripcion[1] == ("reject", "busy")
    assert recibidas[1][2]["CallStatus"] == "busy"


def test_say_loop_and_play_and_pause(llamar):
    tel, _ = llamar({"/voice/incoming": twiml(
        '<Say loop="2">Hola.</Say><Pause length="2"/><Play>/audio/es-MX/bienvenida.mp3</Play>'
        "<Say>  Uno, <break time=\"1s\"/>dos.  </Say>")})
    tel.marcar()
    assert tel.transcripcion[1:6] == [
        ("say", "Hola.", None, None), ("say", "Hola.", None, None), ("pause", 2),
        ("play", BASE + "/audio/es-MX/bienvenida.mp3"), ("say", "Uno, dos.", None, None)]
    assert tel.dicho == "Hola. Hola. Uno, dos."


def test_resend_posts_the_last_request_again_and_returns_the_answer(llamar):
    veces = []

    def menu(r):
        veces.append(r.form["Digits"])
        return twiml("<Say>Listo.</Say>")

    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu"><Say>Menú.</Say></Gather>'),
        "/voice/menu": menu,
    })
    tel.marcar().press("1#")
    otra = tel.reenviar()
    assert otra == tel.ultima_respuesta == (200, "text/xml; charset=utf-8",
                                            twiml("<Say>Listo.</Say>"))
    assert veces == ["1", "1"]
    assert recibidas[1] == recibidas[3]  # incoming, menu, status, menu again


def test_keys_must_be_keypad_keys(llamar):
    tel, _ = llamar({"/voice/incoming": twiml('<Gather action="/voice/menu"/>')})
    tel.marcar()
    with pytest.raises(ValueError, match="teclas inválidas"):
        tel.press("12a")


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def servidor():
    """A test line served over real HTTP on a free local port."""
    app = linea_de_prueba({
        "/voice/incoming": twiml('<Gather action="/voice/menu" numDigits="1">'
                                 "<Say>Marque.</Say></Gather>"),
        "/voice/menu": lambda r: twiml(f"<Say>Marcó {r.form['Digits']}.</Say>"),
    })
    http = make_server("127.0.0.1", 0, app)
    hilo = threading.Thread(target=http.serve_forever, daemon=True)
    hilo.start()
    yield f"http://127.0.0.1:{http.server_port}", app.config["RECIBIDAS"]
    http.shutdown()
    http.server_close()
    hilo.join()


def test_http_transport_calls_a_running_server(servidor):
    url, recibidas = servidor
    tel = phone.Telefono(phone.HttpTransport(url), TOKEN)
    tel.marcar().press("4")
    assert tel.dicho == "Marcó 4."
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/menu"),
                                ("POST", "/voice/status")]
    assert tel.errores == []


def test_http_transport_reports_the_403_of_a_forged_request(servidor):
    url, recibidas = servidor
    tel = phone.Telefono(phone.HttpTransport(url), TOKEN, firma="invalida")
    tel.marcar()
    assert tel.ultima_respuesta[0] == 403 and tel.errores[0][:2] == ("application-error", 403)
    assert recibidas == []


# -- the terminal -------------------------------------------------------------------------------


def _curp(r):
    return twiml(f"<Say>Recibí {r.form['Digits']}.</Say>"
                 '<Gather action="/voice/nombre" input="speech"><Say>Diga su nombre.</Say>'
                 "</Gather>")


TERMINAL = {
    "/voice/incoming": twiml('<Gather action="/voice/menu" numDigits="1">'
                             "<Say>Para citas presione 5.</Say></Gather>"),
    "/voice/menu": lambda r: twiml(
        '<Gather action="/voice/curp"><Say>Marque su CURP y gato.</Say></Gather>'
        if r.form.get("Digits") == "5" else
        '<Dial><Number url="/voice/susurro">+525540001000</Number></Dial>'),
    "/voice/curp": _curp,
    "/voice/nombre": lambda r: twiml(f"<Say>Gracias, {r.form['SpeechResult']}.</Say><Hangup/>"),
    "/voice/susurro": twiml("<Say>Llamada de la línea.</Say>"),
}


def test_run_script_prints_the_call_as_the_caller_hears_it(llamar):
    tel, recibidas = llamar(TERMINAL)
    salida = io.StringIO()
    assert phone.run_script(tel, ["5", "GOMA850123HDFRRN09", ">Ana Gómez"], salida) is True
    assert salida.getvalue() == (
        "IVR: Para citas presione 5.\n"
        "Usted: 5\n"
        "IVR: Marque su CURP y gato.\n"
        "Usted: 466285012343377609#\n"
        "IVR: Recibí 466285012343377609.\n"
        "IVR: Diga su nombre.\n"
        "Usted (voz): Ana Gómez\n"
        "IVR: Gracias, Ana Gómez.\n"
        "[llamada colgada]\n")
    assert recibidas[2][2]["Digits"] == "466285012343377609"


def test_run_script_transfer_and_leftover_answers(llamar):
    tel, recibidas = llamar(TERMINAL)
    salida = io.StringIO()
    assert phone.run_script(tel, ["0", "1"], salida) is False
    assert salida.getvalue() == (
        "IVR: Para citas presione 5.\n"
        "Usted: 0\n"
        "IVR: [marcando a +525540001000]\n"
        "  (susurro al agente: Llamada de la línea.)\n"
        "[llamada transferida a +525540001000]\n"
        "[sobraron 1 respuestas: ['1']]\n")
    assert rutas(recibidas)[-1] == ("POST", "/voice/status")  # hung up at the end


def test_run_script_says_where_its_answers_ran_out(llamar):
    tel, recibidas = llamar(TERMINAL)
    salida = io.StringIO()
    assert phone.run_script(tel, ["5"], salida) is False
    assert salida.getvalue() == (
        "IVR: Para citas presione 5.\n"
        "Usted: 5\n"
        "IVR: Marque su CURP y gato.\n"
        "[se acabaron las respuestas: la línea esperaba una respuesta en «curp» (Marque su "
        "CURP y gato.); el teléfono cuelga]\n"
        "[llamada colgada]\n")
    assert rutas(recibidas)[-1] == ("POST", "/voice/status")


def test_run_script_reports_an_application_error(llamar):
    tel, _ = llamar({**TERMINAL, "/voice/menu": Response("boom", status=500)})
    salida = io.StringIO()
    assert phone.run_script(tel, ["5"], salida) is False
    assert salida.getvalue().splitlines()[-2:] == [
        "IVR: [error de aplicación: HTTP 500; Twilio cuelga]", "[llamada colgada]"]


def test_run_interactive_reads_answers_until_q(llamar):
    tel, recibidas = llamar(TERMINAL)
    salida = io.StringIO()
    assert phone.run_interactive(tel, io.StringIO("5\nq\n"), salida) is True
    assert salida.getvalue() == (
        "IVR: Para citas presione 5.\n"
        f"{phone.INDICACION}\n"
        "Usted: 5\n"
        "IVR: Marque su CURP y gato.\n"
        f"{phone.INDICACION}\n"
        "[llamada colgada]\n")
    assert rutas(recibidas)[-1] == ("POST", "/voice/status")
    assert tel.transcripcion[-2] == ("caller-hangup",)


def test_run_interactive_silence_and_end_of_input(llamar):
    tel, recibidas = llamar({"/voice/incoming": twiml(
        '<Gather action="/voice/menu"><Say>Menú.</Say></Gather><Say>No le escuché.</Say>'
        '<Redirect>/voice/incoming</Redirect>')})
    salida = io.StringIO()
    assert phone.run_interactive(tel, io.StringIO("\n"), salida) is True
    assert salida.getvalue() == (
        "IVR: Menú.\n"
        f"{phone.INDICACION}\n"
        "Usted: (silencio)\n"
        "IVR: No le escuché.\n"
        "IVR: Menú.\n"
        f"{phone.INDICACION}\n"
        "[llamada colgada]\n")
    assert rutas(recibidas) == [("POST", "/voice/incoming"), ("POST", "/voice/incoming"),
                                ("POST", "/voice/status")]


@pytest.mark.parametrize(("respuesta", "gather", "teclas"), [
    ("5", {"numDigits": "1"}, "5"),
    ("GOMA", {}, "4662#"),
    ("12#", {}, "12#"),
    ("Pérez", {"finishOnKey": ""}, "73739"),
    ("12", {"numDigits": "4"}, "12#"),
    ("12", {"finishOnKey": "*"}, "12*"),
])
def test_typed_answers_become_keypad_keys(respuesta, gather, teclas):
    assert phone.teclas_de(respuesta, gather) == teclas


def test_typed_answer_with_other_characters_is_refused():
    with pytest.raises(ValueError):
        phone.teclas_de("12$", {})


def _progreso(recibidas):
    return [(ruta, datos["CallStatus"]) for _, ruta, datos in recibidas if ruta == "/pierna"]


@pytest.mark.parametrize(("resultado", "eventos", "esperados"), [
    ("completed", "initiated ringing answered completed",
     ["initiated", "ringing", "in-progress", "completed"]),
    ("no-answer", "initiated ringing answered completed", ["initiated", "ringing", "no-answer"]),
    ("busy", "initiated ringing answered completed", ["initiated", "busy"]),
    ("completed", None, ["completed"]),  # Twilio's default: only the leg's end
])
def test_the_agents_leg_posts_its_progress_to_its_status_callback(llamar, resultado, eventos,
                                                                  esperados):
    eventos_attr = f' statusCallbackEvent="{eventos}"' if eventos else ""
    tel, recibidas = llamar({
        "/voice/incoming": twiml(f'<Dial action="/fin"><Number statusCallback="/pierna"'
                                 f'{eventos_attr}>+525540001000</Number></Dial>'),
        "/pierna": twiml(""), "/fin": twiml("<Hangup/>"),
    }, resultado_dial=resultado)
    tel.marcar()
    if resultado == "completed":
        tel.terminar_puente()
    assert [estado for _, estado in _progreso(recibidas)] == esperados
    [(_, _, datos)] = [r for r in recibidas if r[1] == "/pierna"][:1]
    assert datos["ParentCallSid"] == tel.call_sid and datos["CallSid"] != tel.call_sid
    assert datos["To"] == "+525540001000" and datos["Direction"] == "outbound-dial"
    # The progress comes before the Dial's action, as the leg ends before the Dial does.
    assert [r for _, r, _ in recibidas].index("/fin") > [r for _, r, _ in recibidas].index(
        "/pierna")


def test_fallback_url_is_asked_for_any_webhook_that_fails(llamar):
    tel, recibidas = llamar({
        "/voice/incoming": twiml('<Gather action="/voice/menu" numDigits="1"/>'),
        "/voice/menu": Response("boom", status=502),
        "/voice/fallback": twiml("<Say>Otra vez.</Say><Hangup/>"),
    }, ruta_fallback="/voice/fallback")
    tel.marcar().press("5")
    assert recibidas[2][1] == "/voice/fallback"
    assert recibidas[2][2]["Digits"] == "5" and recibidas[2][2]["ErrorCode"] == "11200"
    assert tel.dicho == "Otra vez."
