"""TwiML rendering: gathers, transfers by dial, SIP and TaskRouter, hours, whisper, hold."""

import json
from xml.etree import ElementTree

import pytest

from ivr import acciones, flows
from ivr.config import RAIZ
from ivr.dialog import Colgar, Decir, Escuchar, Salida, Transferir
from ivr.prompts import Catalogo
from ivr.twiml import Agentes, Pase, Render

ABIERTO = Agentes(destino="+525540001000", abierto=True, horario="de lunes a viernes")


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
    raiz = _xml(render.salida(salida, ABIERTO))
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
    raiz = _xml(render.salida(Salida((Decir("despedida"),), Colgar()), ABIERTO))
    assert [e.tag for e in raiz] == ["Say", "Hangup"]


@pytest.mark.parametrize("destino, etiqueta", [("+525540001000", "Number"),
                                               ("sip:agentes@pbx.issste.example", "Sip")])
def test_transfer_dials_with_a_whisper(render, destino, etiqueta):
    agentes = Agentes(destino=destino, abierto=True, horario="")
    raiz = _xml(render.salida(Salida((), Transferir("pidio_agente")), agentes, Pase(id=42)))
    assert [e.tag for e in raiz] == ["Say", "Dial"]
    assert raiz[0].text == "Le comunico con un agente. Espere un momento, por favor."
    dial = raiz[1]
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("action") == "https://ivr.example.test/voice/transferencia"
    [objetivo] = dial
    assert objetivo.tag == etiqueta and objetivo.text == destino
    assert objetivo.get("url") == "https://ivr.example.test/voice/susurro?t=42"


def test_transfer_through_taskrouter_carries_the_context(render):
    agentes = Agentes(destino=None, abierto=True, horario="", workflow_sid="WW" + "0" * 32)
    tarea = {"razon": "pidio_agente", "identificado": True, "cita_id": 7}
    raiz = _xml(render.salida(Salida((), Transferir("pidio_agente")), agentes,
                              Pase(id=3, tarea=tarea)))
    enqueue = raiz.find("Enqueue")
    assert enqueue.get("workflowSid") == "WW" + "0" * 32
    assert enqueue.get("waitUrl") == "https://ivr.example.test/voice/espera"
    assert enqueue.get("action") == "https://ivr.example.test/voice/transferencia"
    assert json.loads(enqueue.find("Task").text) == tarea


def test_out_of_hours_says_the_hours_and_the_web_and_hangs_up(render):
    agentes = Agentes(destino="+525540001000", abierto=False, horario="de lunes a viernes")
    raiz = _xml(render.salida(Salida((), Transferir("pidio_agente")), agentes))
    assert [e.tag for e in raiz] == ["Say", "Say", "Say", "Hangup"]
    assert "Nuestro horario de atención es de lunes a viernes." in raiz[0].text
    assert "Cancela cita" in raiz[1].text


def test_no_destination_configured_still_ends_politely(render):
    agentes = Agentes(destino=None, abierto=True, horario="")
    raiz = _xml(render.salida(Salida((), Transferir("pidio_agente")), agentes))
    assert raiz[0].text == "En este momento no podemos comunicarle con un agente."
    assert raiz[-1].tag == "Hangup"


def test_failed_dial_offers_one_retry_then_goodbye(render):
    raiz = _xml(render.fin_de_transferencia(False, primera_vez=True))
    assert [e.tag for e in raiz] == ["Say", "Say", "Gather", "Say", "Hangup"]
    assert raiz[2].get("action") == "https://ivr.example.test/voice/reintento_agente"
    assert raiz[2].find("Say").text.startswith("Para intentar de nuevo presione 1.")
    raiz = _xml(render.fin_de_transferencia(False, primera_vez=False))
    assert [e.tag for e in raiz] == ["Say", "Say", "Say", "Hangup"]
    assert [e.tag for e in _xml(render.fin_de_transferencia(True))] == ["Hangup"]


def test_hold_says_the_position(render):
    raiz = _xml(render.espera("3", None))
    assert raiz[0].text == "Su lugar en la fila es el 3. En un momento le atenderán."
    assert raiz[1].tag == "Pause"
    raiz = _xml(render.espera(None, "https://musica.example/espera.mp3"))
    assert [e.tag for e in raiz] == ["Play"]
