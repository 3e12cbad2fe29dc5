"""A webhook read once: caller-controlled text cleaned where it enters, so every answer is
well-formed TwiML; and the call's state as a declared type that refuses unknown fields."""

import io
from xml.etree import ElementTree

import pytest

from ivr.estado import Estado
from ivr.webhook import HABLA, Webhook, limpiar
from tests.llamadas import GOMEZ
from tests.test_llamada import cancelaciones, identificar

# Each one is an XML 1.0 character that must never reach a TwiML document.
INVALIDOS = ["\x0b", "\x00", "\x1b", "\ufffe", "\uffff", "\x08", "\x7f", "\ud800"]


@pytest.mark.parametrize("malo", INVALIDOS)
def test_xml_invalid_characters_are_dropped(malo):
    assert limpiar(f"no{malo} puedo{malo}", 100) == "no puedo"


def test_tabs_newlines_and_spanish_stay():
    assert limpiar("¿Qué\tpasó?\nÑandú\r", 100) == "¿Qué\tpasó?\nÑandú\r"


def test_every_character_is_kept_or_dropped_as_the_pattern_says():
    # Plain printable ASCII skips the pattern: nothing else may change what is kept.
    from ivr.webhook import _NO_XML

    for n in [*range(0x10000), 0x1F600, 0xE0041, 0x10FFFF]:
        texto = f"a{chr(n)}b"
        assert limpiar(texto, 100) == _NO_XML.sub("", texto), hex(n)


def test_lengths_are_capped_and_empty_is_none():
    wh = Webhook.leer({"CallSid": "CA" + "x" * 200, "SpeechResult": "a" * 5000,
                       "Digits": "\x00", "Confidence": "mucha"})
    assert len(wh.call_sid) == 64 and len(wh.habla) == HABLA
    assert wh.digitos is None and wh.confianza is None


def test_a_webhook_without_callsid_is_named_by_a_question_mark():
    wh = Webhook.leer({})
    assert wh.call_sid == "?" and wh.entrada.vacia


@pytest.mark.parametrize("malo", ["\x0b", "\x00", "\x1b", "\ufffe"])
def test_speech_with_xml_invalid_characters_at_motivo_gives_parseable_twiml(app, llamar, malo):
    llamada = identificar(llamar(ruta_estado=None), GOMEZ)
    llamada.press("1").press("1")
    assert llamada.nodo == "motivo"
    llamada.say(f"porque{malo} me{malo} mudo de ciudad{malo}")
    assert llamada.tel.error_de_aplicacion is None
    assert llamada.nodo == "confirmacion"
    respuesta = llamada.xml()
    assert respuesta.tag == "Response"
    assert "Motivo: porque me mudo de ciudad." in llamada.dicho
    # Twilio repeats the webhook: the cached answer is the same well-formed document.
    status, _, cuerpo = llamada.tel.reenviar()
    assert status == 200 and ElementTree.fromstring(cuerpo).tag == "Response"
    llamada.press("1")
    assert "Su cita quedó cancelada." in llamada.dicho
    [cancelacion] = cancelaciones(app)
    assert cancelacion.motivo_texto == "porque me mudo de ciudad"


def test_the_state_refuses_a_mistyped_field():
    estado = Estado("CA1")
    with pytest.raises(AttributeError):
        estado.cita = 3  # slots: no such field
    with pytest.raises(AttributeError):
        estado.cambiar({"reintento_agente": True})


def test_stored_state_with_an_unknown_field_raises():
    with pytest.raises(ValueError, match="reintento_agente"):
        Estado.de_json('{"call_sid":"CA1","reintento_agente":true}')


def test_the_state_is_stored_compactly_and_comes_back_equal():
    estado = Estado("CA1", desde="+5255", nodo="curp", ruta=["menu_principal", "curp"])
    texto = estado.a_json()
    assert texto == (b'{"call_sid":"CA1","desde":"+5255","nodo":"curp",'
                     b'"ruta":["menu_principal","curp"]}')
    assert Estado.de_json(texto) == estado


@pytest.mark.parametrize("pares", [
    [],
    [("CallSid", "CA1"), ("Digits", "5"), ("From", "+525511112222")],
    [("SpeechResult", "cancelar mi cita, ¿sí? ñandú"), ("Confidence", "0.9"), ("Vacío", "")],
    [("b", "2"), ("a", "1"), ("b", "1"), ("b", "2"), ("B", "0"), ("a b", "c&d=e")],
])
@pytest.mark.parametrize("url", ["https://ivr.example.test/voice/curp",
                                 "https://ivr.example.test:8443/voice/susurro?call=CA1&t=7",
                                 "http://localhost/voice/ñ"])
def test_the_signature_is_the_twilio_librarys(pares, url):
    from twilio.request_validator import RequestValidator
    from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict, MultiDict

    from ivr.voice import firma

    for form in (ImmutableMultiDict(pares), MultiDict(pares),
                 CombinedMultiDict([MultiDict(pares[:2]), MultiDict(pares[2:])])):
        for token in ("12345", "tóken"):
            assert firma(token, url, form) == RequestValidator(token).compute_signature(url,
                                                                                     form)


def test_a_webhook_runs_none_of_the_agents_pages_machinery(tmp_path, monkeypatch):
    # The login throttle and the cookie session are the agents' page's: Twilio's webhooks (a
    # few hundred a second) run neither; the page still runs both.
    from flask.sessions import SecureCookieSessionInterface
    from flask_limiter import Limiter

    from tests.llamadas import Llamada, cargar_agenda, nueva_app

    vistos = []
    limitar = Limiter._check_request_limit
    firmador = SecureCookieSessionInterface.get_signing_serializer
    monkeypatch.setattr(Limiter, "_check_request_limit",
                        lambda self, *a, **k: vistos.append("limiter") or limitar(self, *a, **k))
    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer",
                        lambda self, app: vistos.append("cookie") or firmador(self, app))
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria")
    cargar_agenda(app)
    llamada = Llamada(app).press("5")
    assert llamada.nodo == "menu_prestamos"
    assert vistos == []
    assert app.test_client().get("/agent/entrar").status_code == 200
    assert {"limiter", "cookie"} <= set(vistos)


def _environ(ruta: str, query: str = "", host: str | None = "ivr.example.test",
             esquema: str = "https", prefijo: str = "") -> dict:
    """A WSGI environ as a server hands it over: the path percent-decoded, as latin-1 text."""
    environ = {"REQUEST_METHOD": "POST", "wsgi.url_scheme": esquema, "SCRIPT_NAME": prefijo,
               "PATH_INFO": ruta, "QUERY_STRING": query, "SERVER_NAME": "10.0.0.5",
               "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1"}
    if host is not None:
        environ["HTTP_HOST"] = host
    return environ


ENTORNOS = [
    _environ("/voice/menu_principal"),
    _environ("/voice/menu_principal", host="IVR.Example.TEST"),
    _environ("/voice/susurro", "call=CA1&t=7"),
    _environ("/voice/curp", host="ivr.example.test:443"),
    _environ("/voice/curp", host="ivr.example.test:8443"),
    _environ("/voice/curp", host="ivr.example.test:80", esquema="http"),
    _environ("/voice/curp", host="localhost:08000", esquema="http"),
    _environ("/voice/curp", host="[::1]:8000", esquema="http"),
    _environ("/voice/curp", host="xn--ivr-ena.example.test"),
    _environ("/voice/curp", host="mal host"),
    _environ("/voice/curp", host=None),
    _environ("/voice/curp", prefijo="/ivr"),
    _environ("/voice/curp", prefijo="/ivr/"),
    _environ("/voice/curp", prefijo="/l%C3%ADnea"),
    _environ("//voice//curp"),
    _environ("/voice/curp/"),
    _environ(""),
    _environ("/voice/" + "ñ".encode().decode("latin-1")),
    _environ("/voice/a b"),
    _environ("/voice/a%20b"),
    _environ("/voice/curp", "a=%C3%B1&b=ñ"),
    _environ("/voice/curp", "a b"),
    _environ("/voice/curp", "?"),
    _environ("/voice/c;p=1", "x=@:/$"),
    _environ("/voice/curp#x"),
]


@pytest.mark.parametrize("environ", ENTORNOS, ids=range(len(ENTORNOS)))
def test_the_cheap_signed_url_is_werkzeugs_request_url_or_nothing(environ):
    """The first HMAC is over the URL read from the environ: were it ever not request.url, a
    signature over another URL would pass."""
    from werkzeug.wrappers import Request

    from ivr.voice import _url_directa

    raices = {}
    for _ in range(2):  # the root computed, then kept
        directa = _url_directa(raices, Request(dict(environ)))
        assert directa is None or directa == Request(dict(environ)).url


def test_the_cheap_signed_url_keeps_a_few_hosts_only():
    from werkzeug.wrappers import Request

    from ivr.voice import RAICES_MAXIMAS, _url_directa

    raices = {}
    urls = [_url_directa(raices, Request(_environ("/voice/curp", host=f"h{i}.example.test")))
            for i in range(RAICES_MAXIMAS + 3)]
    assert urls[:RAICES_MAXIMAS] == [f"https://h{i}.example.test/voice/curp"
                                     for i in range(RAICES_MAXIMAS)]
    assert urls[RAICES_MAXIMAS:] == [None] * 3 and len(raices) == RAICES_MAXIMAS


@pytest.mark.parametrize("environ", ENTORNOS[:14], ids=range(14))  # the webhooks
def test_a_webhook_signed_over_its_request_url_passes_without_a_public_base_url(tmp_path,
                                                                                 environ):
    """What passed the library's check on request.url passes still (ports, prefixes, odd
    hosts and paths); a signature over any other URL does not."""
    from twilio.request_validator import RequestValidator
    from werkzeug.test import run_wsgi_app
    from werkzeug.wrappers import Request

    from tests.llamadas import TOKEN, nueva_app

    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", PUBLIC_BASE_URL=None)
    cuerpo = b"CallSid=CA1&Digits=5"
    form = {"CallSid": "CA1", "Digits": "5"}
    url = Request(dict(environ)).url
    for firmada, esperado in ((url, True), (url + "x", False)):
        entorno = {**environ, "CONTENT_TYPE": "application/x-www-form-urlencoded",
                   "CONTENT_LENGTH": str(len(cuerpo)), "wsgi.input": io.BytesIO(cuerpo),
                   "HTTP_X_TWILIO_SIGNATURE":
                       RequestValidator(TOKEN).compute_signature(firmada, form)}
        _, estado, _ = run_wsgi_app(app, entorno, buffered=True)
        assert (int(estado.split()[0]) != 403) is esperado, (firmada, estado)
