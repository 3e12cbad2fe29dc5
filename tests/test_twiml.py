"""TwiML rendering: gathers, dials (number, SIP, TaskRouter) with the agent leg's whisper and
status callback, the apology from memory, hold."""

import json
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import acciones, flows
from ivr.config import RAIZ
from ivr.dialog import Colgar, Decir, Escuchar, Marcar, Salida
from ivr.prompts import Catalogo
from ivr.twiml import Render


@pytest.fixture(scope="module")
def render():
    catalogo = Catalogo.cargar(RAIZ / "audio_prompts", "es-MX")
    flujo = flows.cargar(RAIZ / "flows" / "cancelacion.yaml", catalogo.ids(),
                         acciones.salidas_registradas())
    return Render(catalogo, flujo, "https://ivr.example.test")


def _xml(texto):
    return ElementTree.fromstring(texto)


def test_a_gather_holds_its_prompts_and_posts_to_its_node(render):
    flujo = render.flujo
    salida = Salida((Decir("no_escuche"), Decir("curp")),
                    Escuchar("curp", flujo.nodos["curp"].gather))
    raiz = _xml(render.salida(salida, "CA1"))
    [gather] = raiz
    assert gather.tag == "Gather"
    assert gather.attrib == {
        "action": "https://ivr.example.test/voice/curp", "method": "POST",
        "input": "dtmf speech", "language": "es-MX", "timeout": "10", "speechTimeout": "3",
        "actionOnEmptyResult": "true", "profanityFilter": "false", "finishOnKey": "#",
        "hints": flujo.nodos["curp"].gather["hints"],
    }
    assert [s.text for s in gather] == [
        "No le escuché.", render.catalogo.textos["curp"]]
    assert gather[0].get("voice") == "Polly.Mia"


def test_hangup_after_the_prompts(render):
    raiz = _xml(render.salida(Salida((Decir("despedida"),), Colgar()), "CA1"))
    assert [e.tag for e in raiz] == ["Say", "Hangup"]


def _render(render, destino=None, workflow_sid=None):
    return Render(render.catalogo, render.flujo, "https://ivr.example.test", destino,
                  workflow_sid)


MARCAR = Salida((Decir("agente_transferencia"),), Marcar("agente", "pidio_agente", {}))


@pytest.mark.parametrize("destino, etiqueta", [("+525540001000", "Number"),
                                               ("sip:agentes@pbx.issste.example", "Sip")])
def test_a_dial_whispers_reports_the_agents_leg_and_posts_back_to_its_node(
        render, destino, etiqueta):
    raiz = _xml(_render(render, destino).salida(MARCAR, "CA1", 42))
    assert [e.tag for e in raiz] == ["Say", "Dial"]
    assert raiz[0].text == "Le comunico con un agente. Espere un momento, por favor."
    dial = raiz[1]
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("action") == "https://ivr.example.test/voice/agente"
    [objetivo] = dial
    assert objetivo.tag == etiqueta and objetivo.text == destino
    assert objetivo.get("url") == "https://ivr.example.test/voice/susurro?call=CA1&t=42"
    assert objetivo.get("statusCallback") == (
        "https://ivr.example.test/voice/agente_estado?call=CA1&t=42")
    assert objetivo.get("statusCallbackEvent") == "initiated ringing answered completed"
    assert objetivo.get("statusCallbackMethod") == "POST"


def test_a_dial_without_its_record_names_the_call_only(render):
    raiz = _xml(_render(render, "+525540001000").salida(MARCAR, "CA1", None))
    assert raiz[1][0].get("url") == "https://ivr.example.test/voice/susurro?call=CA1"


def test_transfer_through_taskrouter_carries_the_context(render):
    tarea = {"razon": "pidio_agente", "identificado": True, "cita_id": 7}
    salida = Salida((), Marcar("agente", "pidio_agente", {"tarea": tarea}))
    raiz = _xml(_render(render, workflow_sid="WW" + "0" * 32).salida(salida, "CA1", 3))
    enqueue = raiz.find("Enqueue")
    assert enqueue.get("workflowSid") == "WW" + "0" * 32
    assert enqueue.get("waitUrl") == "https://ivr.example.test/voice/espera"
    assert enqueue.get("action") == "https://ivr.example.test/voice/agente"
    assert json.loads(enqueue.find("Task").text) == tarea


def test_the_apology_from_memory_says_its_prompts_and_hangs_up(render):
    raiz = _xml(render.disculpa(("error_interno", "alternativa_web", "despedida")))
    assert [e.tag for e in raiz] == ["Say", "Say", "Say", "Hangup"]
    assert raiz[0].text == "Lo sentimos, tuvimos un problema con su llamada."


def test_hold_says_the_position(render):
    raiz = _xml(render.espera("3", None))
    assert raiz[0].text == "Su lugar en la fila es el 3. En un momento le atenderán."
    assert raiz[1].tag == "Pause"
    raiz = _xml(render.espera(None, "https://musica.example/espera.mp3"))
    assert [e.tag for e in raiz] == ["Play"]


# -- the cached pieces: the same bytes as the library writes the whole document ---------------

# Text as a caller's words reach a prompt (webhook.py drops what XML can't hold): markup,
# entities, quotes, non-ASCII, line breaks, and nothing at all.
TEXTO = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff")
                .filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20), max_size=30) | st.sampled_from(
    ["", "<Hangup/>", "&amp;", "]]>", 'a "b" \'c\'', "Ñoño & <Gómez>", "\r\n"])


def _prompts(render):
    return sorted(render.catalogo.ids())


@st.composite
def salidas(draw, render):
    catalogo = render.catalogo
    decir = []
    for prompt in draw(st.lists(st.sampled_from(_prompts(render)), max_size=5)):
        params = {m: draw(TEXTO) for m in catalogo.marcadores(prompt)}
        decir.append(Decir(prompt, params))
    nodo = draw(st.sampled_from(sorted(render.flujo.nodos)))
    fin = draw(st.sampled_from([Escuchar(nodo, render.flujo.nodos[nodo].gather), Colgar()]))
    return Salida(tuple(decir), fin)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(datos=st.data())
def test_cached_pieces_write_what_the_library_writes(render, datos):
    salida = datos.draw(salidas(render))
    texto, compacta = render.responder(salida, "CA1")
    assert texto == render.documento(salida, "CA1")
    _xml(texto)  # well-formed, whatever the text
    # What the state keeps (as JSON) writes the same answer again.
    assert render.repetir(json.loads(json.dumps(compacta))) == texto


def test_a_dial_is_kept_whole_for_a_repeat(render):
    texto, compacta = _render(render, "+525540001000").responder(MARCAR, "CA1", 42)
    assert compacta == texto and render.repetir(compacta) == texto


def test_every_prompt_and_node_renders_as_the_library_does(tmp_path, render):
    # Recordings too: a prompt with a file of its own is played, not said.
    carpeta = tmp_path / "es-MX"
    carpeta.mkdir()
    (tmp_path / "es-MX.yaml").write_text(
        (RAIZ / "audio_prompts" / "es-MX.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (carpeta / "bienvenida.mp3").write_bytes(b"")
    catalogo = Catalogo.cargar(tmp_path, "es-MX")
    grabado = Render(catalogo, render.flujo, "https://ivr.example.test")
    for r in (render, grabado):
        for prompt in _prompts(r):
            params = {m: "x" for m in r.catalogo.marcadores(prompt)}
            for nodo in r.flujo.nodos.values():
                for decir in ((), (Decir(prompt, params),)):
                    salida = Salida(decir, Escuchar(nodo.id, nodo.gather))
                    assert r.salida(salida, "CA1") == r.documento(salida, "CA1")
            for salida in (Salida((), Colgar()), Salida((Decir(prompt, params),), Colgar())):
                assert r.salida(salida, "CA1") == r.documento(salida, "CA1")
    assert "<Play>https://ivr.example.test/audio/es-MX/bienvenida.mp3</Play>" in grabado.salida(
        Salida((Decir("bienvenida"),), Colgar()), "CA1")
