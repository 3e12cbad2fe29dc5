"""The hostile probe, kept in the project (issue 8, "Evidence"): arbitrary signed form data to
every webhook answers a refusal or well-formed TwiML, never a 5xx; forged signatures are all
refused and write nothing.

Each fuzzing test runs once per flow node or group of paths, with the profile's examples each:
20 in `./dev test` (profile `ivr`, derandomized: the same examples on every run, 300 webhooks
per backend), 700 under the probe's profile (10,500 webhooks per backend):

    ./dev test tests/test_sondeo.py --hypothesis-profile=sondeo --hypothesis-show-statistics
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from ivr import db, linea
from ivr.estado import Estado
from ivr.models import Cancelacion, Llamada, Transferencia
from tests.llamadas import (
    BASE,
    GOMEZ,
    PEREZ,
    RUIZ,
    TOKEN,
    cargar_agenda,
    nueva_app,
)
from tests.llamadas import (
    Llamada as LlamadaDePrueba,
)
from tests.test_llamada import teclas


def _nodos() -> list[str]:
    from ivr.config import RAIZ
    from ivr.flows import leer

    flujo, _ = leer(RAIZ / "flows" / "cancelacion.yaml")
    return sorted(flujo.nodos)


NODOS = _nodos()
FIJAS = ["/voice/incoming", "/voice/status", "/voice/fallback", "/voice/agente_estado",
         "/voice/susurro", "/voice/espera"]
RESPUESTAS_DE_RECHAZO = {403, 404, 405, 413}


def _caminos(app) -> dict[str, Estado]:
    """The call state at every node of the flow, taken from real calls (so that a fuzzed
    answer meets each node as a caller would reach it)."""
    store = app.extensions["ivr_store"]
    estados: dict[str, Estado] = {}

    def anotar(llamada) -> None:
        if llamada.nodo:
            with app.app_context():
                estados.setdefault(llamada.nodo, store.get(llamada.tel.call_sid))

    def pasos(persona, respuestas):
        llamada = LlamadaDePrueba(app)
        anotar(llamada)
        for tecla in ["5", "1", "7"]:
            llamada.press(tecla)
            anotar(llamada)
        if persona is None:
            return
        llamada.press(teclas(persona.curp))
        anotar(llamada)
        llamada.press(teclas(persona.primer_apellido))
        anotar(llamada)
        for respuesta in respuestas:
            if respuesta.startswith(">"):
                llamada.say(respuesta[1:])
            else:
                llamada.press(respuesta)
            anotar(llamada)

    pasos(GOMEZ, ["1", "2", ">Rosa Gómez Ortiz", "5", ">me cambiaron de trabajo", "1"])
    pasos(RUIZ, ["1"])
    pasos(PEREZ, [])
    # The agents' part: the dial (waiting for its result), the retry, the callback offer after
    # a second failed dial, and the read-back of the number.
    en_linea = LlamadaDePrueba(app).press("0")
    with app.app_context():
        estados.setdefault("agente", store.get(en_linea.tel.call_sid))
    for respuestas in (["1"], ["2"]):
        llamada = LlamadaDePrueba(app, resultado_dial="no-answer").press("0")
        anotar(llamada)
        for respuesta in respuestas:
            anotar(llamada.press(respuesta))
    return estados


@pytest.fixture(scope="module", params=["sqlite-memoria", pytest.param(
    "postgres-redis", marks=[pytest.mark.postgres, pytest.mark.redis])])
def sondeada(request, tmp_path_factory):
    """An app with the test agenda, and a call state for each node of its flow."""
    if request.param == "sqlite-memoria":
        url = f"sqlite:///{tmp_path_factory.mktemp('sondeo')}/ivr.sqlite3"
        app = nueva_app(url, "memoria")
    else:
        app = nueva_app(request.getfixturevalue("postgres_url"), "redis")
    cargar_agenda(app)
    estados = _caminos(app)
    with app.app_context():
        nodos = set(linea.actual().flujo.nodos)
    yield app, estados, nodos
    db.engine_de(app).dispose()


def test_los_caminos_alcanzan_cada_nodo(sondeada):
    _, estados, nodos = sondeada
    assert set(estados) == nodos


# -- what a probe sends ----------------------------------------------------------------------

RAROS = ["\x00", "\x0b", "\x1b[2J", "\ufffe", "\uffff", "\u2028", "\r\n", "]]>", "<Hangup/>",
         "&amp;", "\u202e", "²", "٣", "𝟗", "Ⅻ", "½", "-1", "1e309", "NaN", "9" * 30]
texto = st.text(max_size=40) | st.lists(st.sampled_from(RAROS) | st.text(max_size=8),
                                        min_size=1, max_size=6).map("".join)
digitos = st.text(alphabet="0123456789*#²٣𝟗໓", max_size=40) | st.integers(
    min_value=-(10**40), max_value=10**40).map(str) | st.just("9" * 5000)
CAMPOS_TWILIO = {
    "Digits": digitos,
    "SpeechResult": texto | st.sampled_from(["cancelar", "sí", "agente", "Rosa\x00 Gómez"]),
    "Confidence": texto | st.sampled_from(["0.9", "nan", "inf", "-1"]),
    "From": texto | st.just("+525511112222"),
    "To": texto,
    "CallStatus": st.sampled_from(["ringing", "in-progress", "completed", "busy", "failed",
                                   "no-answer", "canceled"]) | texto,
    "DialCallStatus": st.sampled_from(["completed", "answered", "busy", "no-answer",
                                       "failed", "canceled"]) | texto,
    "QueueResult": st.sampled_from(["bridged", "hangup", "queue-full", "error"]) | texto,
    "QueuePosition": digitos,
    "ErrorCode": digitos | texto,
    "AccountSid": texto,
}
form_twilio = st.fixed_dictionaries({}, optional=CAMPOS_TWILIO)
desconocidos = st.dictionaries(st.text(min_size=1, max_size=12), texto, max_size=4)
consultas = st.fixed_dictionaries({}, optional={"t": digitos | texto,
                                                "reintento": st.just("1") | texto})
_sids = itertools.count()


RUTAS = {
    "fijas": st.sampled_from(FIJAS),
    "nodos": st.sampled_from([f"/voice/{n}" for n in NODOS]),
    "desconocidas": st.text(min_size=1, max_size=20).map(lambda t: "/voice/" + quote(t, safe=""))
    | st.sampled_from(["/voice/", "/voice/a/b", "/voice//curp", "/voice/%2Fcurp", "/voice/audio",
                       "/otra", "/", "/agent/"]),
}


@st.composite
def webhooks(draw, rutas: str):
    """A path, its query, and a form, as a probe (with the token) would post them."""
    ruta = draw(RUTAS[rutas])
    consulta = draw(consultas)
    form = {**draw(desconocidos), **draw(form_twilio)}
    sembrar = draw(st.booleans())
    return ruta, consulta, form, sembrar


def _bien_formado(respuesta) -> bool:
    if respuesta.status_code in RESPUESTAS_DE_RECHAZO:
        return True
    if respuesta.status_code != 200 or respuesta.mimetype != "text/xml":
        return False
    try:
        return ElementTree.fromstring(respuesta.get_data()).tag == "Response"
    except ElementTree.ParseError:
        return False


def _postear(app, url: str, form: dict):
    firma = RequestValidator(TOKEN).compute_signature(BASE + url, form)
    return app.test_client().post(url, data=form, base_url=BASE,
                                  headers={"X-Twilio-Signature": firma})


def _sembrar(app, sid: str, estado: dict) -> None:
    """Put a copy of a node's call state under this CallSid, as if the call had got there."""
    with app.app_context():
        app.extensions["ivr_store"].save(sid, replace(estado, call_sid=sid))


def _nuevo_sid() -> str:
    return f"CA{next(_sids):032x}"


entrada_de_quien_llama = st.one_of(
    st.fixed_dictionaries({"Digits": digitos}),
    st.fixed_dictionaries({"SpeechResult": CAMPOS_TWILIO["SpeechResult"]},
                          optional={"Confidence": CAMPOS_TWILIO["Confidence"]}),
    st.just({}),
)


@pytest.mark.parametrize("nodo", NODOS)
@given(datos=st.data())
def test_cualquier_respuesta_en_cada_nodo_da_twiml(sondeada, nodo, datos):
    """What a caller can make Twilio post at each node of the flow, reached as a call would."""
    app, estados, _ = sondeada
    sid = _nuevo_sid()
    _sembrar(app, sid, estados[nodo])
    form = {"CallSid": sid, "From": "+525511112222", **datos.draw(entrada_de_quien_llama),
            **datos.draw(st.fixed_dictionaries({}, optional={"AccountSid": texto}))}
    respuesta = _postear(app, f"/voice/{nodo}", form)
    assert _bien_formado(respuesta), (nodo, respuesta.status_code, respuesta.get_data()[:500])


@pytest.mark.parametrize("rutas", ["fijas", "nodos", "desconocidas"])
@given(datos=st.data())
def test_webhooks_arbitrarios_dan_twiml_o_un_rechazo(sondeada, rutas, datos):
    """Any path, any query, any fields, with or without a call behind the CallSid."""
    app, estados, _ = sondeada
    ruta, consulta, form, sembrar = datos.draw(webhooks(rutas))
    nodo = ruta.rsplit("/", 1)[-1]
    sid = form.pop("CallSid", None) or _nuevo_sid()
    if sembrar:
        _, estado = datos.draw(st.sampled_from(sorted(estados.items())))
        _sembrar(app, sid, estados.get(nodo) or estado)
    form["CallSid"] = sid
    url = ruta + ("?" + urlencode(consulta) if consulta else "")
    respuesta = _postear(app, url, form)
    assert _bien_formado(respuesta), (url, respuesta.status_code, respuesta.get_data()[:500])


# -- forged signatures -----------------------------------------------------------------------


def _falsificaciones(url: str, form: dict) -> dict[str, str | None]:
    """Every way a signature can be wrong for this request."""
    validador = RequestValidator(TOKEN)
    buena = validador.compute_signature(BASE + url, form)
    otros = {**form, "Digits": form.get("Digits", "") + "1"}
    menos = {k: v for k, v in form.items() if k != "From"}
    return {
        "sin firma": None,
        "vacía": "",
        "basura": "Zm9yZ2Vk",
        "otro token": RequestValidator("otro-token").compute_signature(BASE + url, form),
        "otra ruta": validador.compute_signature(BASE + "/voice/otra", form),
        "http en vez de https": validador.compute_signature(
            BASE.replace("https", "http") + url, form),
        "otros parámetros": validador.compute_signature(BASE + url, otros),
        "un parámetro menos": validador.compute_signature(BASE + url, menos),
        "sin la consulta": validador.compute_signature(BASE + url.split("?")[0], form)
        if "?" in url else buena[::-1],
        "invertida": buena[::-1],
        "truncada": buena[:-2],
    }


@pytest.fixture
def app_limpia(tmp_path):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria")
    cargar_agenda(app)
    return app


def _rutas() -> list[str]:
    return FIJAS + ["/voice/susurro?call=CA1&t=1", "/voice/agente_estado?call=CA1&t=1",
                    "/voice/no-existe"] + [f"/voice/{n}" for n in NODOS]


def test_toda_firma_falsa_se_rechaza_y_nada_se_escribe(app_limpia):
    cliente = app_limpia.test_client()
    store = app_limpia.extensions["ivr_store"]
    intentos = 0
    for url in _rutas():
        form = {"CallSid": "CA" + "f" * 32, "From": "+525511112222", "Digits": "5",
                "SpeechResult": "cancelar", "CallStatus": "completed",
                "DialCallStatus": "no-answer"}
        for forma, firma in _falsificaciones(url, form).items():
            cabeceras = {} if firma is None else {"X-Twilio-Signature": firma}
            respuesta = cliente.post(url, data=form, base_url=BASE, headers=cabeceras)
            assert respuesta.status_code == 403, (url, forma)
            intentos += 1
    assert intentos == len(_rutas()) * 11
    with app_limpia.app_context():
        sesion = db.sesion()
        assert [sesion.scalar(select(func.count()).select_from(m))
                for m in (Llamada, Transferencia, Cancelacion)] == [0, 0, 0]
        assert store.get("CA" + "f" * 32) is None
