"""Turn the dialog's answer into TwiML with the twilio library.

Most of an answer is the same for every call: a node's <Gather>, the prompts without
placeholders. Those pieces are built once with the library and kept; only a prompt's filled-in
text is written per answer, escaped as the library's ElementTree escapes text. A dial, which
names its call, is built whole with the library every time.

The call's state keeps its last answer for a repeated webhook in the compact form `responder`
returns (the node, the prompts' ids, the filled-in texts), which `repetir` writes again byte
for byte: a third of the TwiML's size."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Dial, Enqueue, VoiceResponse

from ivr.dialog import Colgar, Decir, Escuchar, Marcar, Salida
from ivr.flows import Flujo
from ivr.prompts import Catalogo


class Render:
    """Builds TwiML documents in the flow's language and voice."""

    def __init__(self, catalogo: Catalogo, flujo: Flujo, base_url: str = "",
                 destino: str | None = None, workflow_sid: str | None = None):
        self.catalogo = catalogo
        self.flujo = flujo
        self.base_url = base_url.rstrip("/")
        self.destino = destino            # AGENT_DIAL: E.164 number or sip: URI
        self.workflow_sid = workflow_sid  # TWILIO_WORKFLOW_SID: TaskRouter instead of a dial
        # Pieces of TwiML built once with the library (see _pieza, _gather): by prompt, by node.
        self._piezas: dict[str, str | tuple[str, str, str]] = {}
        self._gathers: dict[str, tuple[dict, tuple[str, str, str]]] = {}
        self._colgar = _plantilla(_colgar)

    def url(self, ruta: str) -> str:
        """Where Twilio should post or fetch: the public base URL when set, else a path."""
        return self.base_url + ruta

    def _decir(self, padre, decir: Decir):
        """Add one prompt to *padre*: its recording, or its text said; returns that verb."""
        locucion = self.catalogo.locucion(decir.prompt, decir.params)
        if locucion.grabacion:
            return padre.play(self.url(f"/audio/{self.catalogo.idioma}/{locucion.grabacion}"))
        return padre.say(locucion.texto, voice=self.flujo.voz, language=self.flujo.idioma)

    def salida(self, salida: Salida, call_sid: str, transferencia_id: int | None = None) -> str:
        """The TwiML for one dialog answer (a dial names the call and its transfer record)."""
        return self.responder(salida, call_sid, transferencia_id)[0]

    def responder(self, salida: Salida, call_sid: str,
                  transferencia_id: int | None = None) -> tuple[str, str | list]:
        """The TwiML for one dialog answer, and what `repetir` needs to write it again: the
        node listened at (None: hang up), then each prompt's id, or [id, its filled-in text].
        A dial (rare, and it names the call) is kept whole."""
        fin = salida.fin
        if isinstance(fin, Marcar):
            texto = self.documento(salida, call_sid, transferencia_id)
            return texto, texto
        nodo = fin.nodo if isinstance(fin, Escuchar) else None
        compacta: list = [nodo]
        piezas = []
        for decir in salida.decir:
            fija = self._pieza(decir.prompt, None)
            if fija is not None:
                compacta.append(decir.prompt)
                piezas.append(fija)
            else:
                texto = self.catalogo.locucion(decir.prompt, decir.params).texto
                compacta.append([decir.prompt, texto])
                piezas.append(self._pieza(decir.prompt, texto))
        plantilla = self._gather(fin) if nodo is not None else self._colgar
        return _llenar(plantilla, "".join(piezas)), compacta

    def repetir(self, previo: str | list) -> str:
        """The TwiML `responder` wrote, from what it kept: byte for byte the same."""
        if isinstance(previo, str):
            return previo  # a dial, or a state saved before answers were kept compact
        nodo, *decir = previo
        piezas = []
        for item in decir:
            piezas.append(self._pieza(item, None) if isinstance(item, str)
                          else self._pieza(*item))
        if nodo is None:
            return _llenar(self._colgar, "".join(piezas))
        return _llenar(self._gather(Escuchar(nodo, self.flujo.nodos[nodo].gather)),
                       "".join(piezas))

    def documento(self, salida: Salida, call_sid: str,
                  transferencia_id: int | None = None) -> str:
        """The same TwiML as `salida`, built whole with the library (the reference)."""
        r = VoiceResponse()
        fin = salida.fin
        if isinstance(fin, Escuchar):
            gather = self._gather_de(r, fin)
            for d in salida.decir:
                self._decir(gather, d)
            return str(r)
        for d in salida.decir:
            self._decir(r, d)
        if isinstance(fin, Marcar):
            self._marcar(r, fin, call_sid, transferencia_id)
        elif isinstance(fin, Colgar):
            r.hangup()
        return str(r)

    def _gather_de(self, r: VoiceResponse, fin: Escuchar):
        return r.gather(action=self.url(f"/voice/{fin.nodo}"), method="POST",
                        **_atributos(fin.gather))

    def _gather(self, fin: Escuchar) -> tuple[str, str, str]:
        """A node's document around its prompts, and the document without prompts."""
        guardado = self._gathers.get(fin.nodo)
        if guardado is None or (guardado[0] is not fin.gather and guardado[0] != fin.gather):
            def construir(contenido: str | None) -> str:
                r = VoiceResponse()
                gather = self._gather_de(r, fin)
                if contenido is not None:
                    gather.nest(contenido)
                return str(r)

            guardado = (fin.gather, _plantilla(construir))
            self._gathers[fin.nodo] = guardado
        return guardado[1]

    def _pieza(self, prompt: str, texto: str | None) -> str | None:
        """One prompt's <Say> or <Play>. A fixed prompt's (*texto* None) comes whole from the
        cache; one with placeholders (None when *texto* is) is its text, escaped, within the
        <Say> the library writes."""
        pieza = self._piezas.get(prompt) or self._nueva_pieza(prompt)
        if isinstance(pieza, str):
            return pieza
        return None if texto is None else _llenar(pieza, escape(texto))

    def _nueva_pieza(self, prompt: str) -> str | tuple[str, str, str]:
        pieza: str | tuple[str, str, str]
        if self.catalogo.marcadores(prompt):
            pieza = _plantilla(lambda texto: VoiceResponse().say(
                texto, voice=self.flujo.voz, language=self.flujo.idioma).to_xml(False))
        else:
            pieza = self._decir(VoiceResponse(), Decir(prompt)).to_xml(False)
        self._piezas[prompt] = pieza
        return pieza

    def _marcar(self, r: VoiceResponse, fin: Marcar, call_sid: str,
                transferencia_id: int | None) -> None:
        # How the dial ends is posted to the transfer node, as a Gather posts to its node.
        accion = self.url(f"/voice/{fin.nodo}")
        if self.workflow_sid:
            enqueue = Enqueue(workflow_sid=self.workflow_sid, action=accion, method="POST",
                              wait_url=self.url("/voice/espera"), wait_url_method="POST")
            enqueue.task(json.dumps(fin.params.get("tarea") or {}, ensure_ascii=False,
                                    sort_keys=True))
            r.append(enqueue)
            return
        # The agent's leg: the whisper (url=) is played to the agent alone before the bridge,
        # and its progress (statusCallback) marks the transfer "en línea" on the agents' page.
        # Both name the call (its state speaks when the record is missing) and the record.
        consulta = urlencode({"call": call_sid, **({"t": transferencia_id}
                                                   if transferencia_id is not None else {})})
        pierna = {
            "url": self.url(f"/voice/susurro?{consulta}"), "method": "POST",
            "status_callback": self.url(f"/voice/agente_estado?{consulta}"),
            "status_callback_method": "POST",
            "status_callback_event": "initiated ringing answered completed",
        }
        # answerOnBridge: the caller keeps hearing ringing, not silence, until an agent answers.
        dial = Dial(action=accion, method="POST", answer_on_bridge="true")
        if self.destino.startswith("sip:"):
            dial.sip(self.destino, **pierna)
        else:
            dial.number(self.destino, **pierna)
        r.append(dial)

    def susurro(self, params: dict) -> str:
        """What the agent hears before the bridge."""
        r = VoiceResponse()
        self._decir(r, Decir("susurro", params))
        return str(r)

    def disculpa_agente(self) -> str:
        """The whisper when nothing is known of the call (neither its record nor its state)."""
        return self.susurro_prompt("susurro_sin_contexto")

    def susurro_prompt(self, prompt: str) -> str:
        """One prompt for the agent, before the bridge."""
        r = VoiceResponse()
        self._decir(r, Decir(prompt))
        return str(r)

    def espera(self, posicion: str | None, musica: str | None) -> str:
        """Hold while queued for an agent: the caller's position, then music or a pause."""
        r = VoiceResponse()
        if posicion and posicion.isascii() and posicion.isdigit():
            self._decir(r, Decir("agente_posicion", {"posicion": posicion}))
        if musica:
            r.play(musica)
        else:
            r.pause(length=15)
        return str(r)

    def disculpa(self, prompts: tuple[str, ...]) -> str:
        """From memory alone, for when neither the state nor the flow can be followed: say the
        prompts and hang up."""
        r = VoiceResponse()
        for prompt in prompts:
            self._decir(r, Decir(prompt))
        r.hangup()
        return str(r)


MARCA = "\ue000"  # a character in no text or URL of the line: where an element's content goes


def _plantilla(construir: Callable[[str | None], str]) -> tuple[str, str, str]:
    """What the library writes before and after an element's content, and what it writes when
    the element has none (`<Gather ... />`). *construir* writes TwiML around a content."""
    antes, despues = construir(MARCA).split(MARCA)
    return antes, despues, construir(None)


def _llenar(plantilla: tuple[str, str, str], contenido: str) -> str:
    """An element from its template: the content within (text escaped by the caller when it
    is text), or the empty element the library writes when there is none."""
    antes, despues, vacio = plantilla
    return antes + contenido + despues if contenido else vacio


def _colgar(contenido: str | None) -> str:
    r = VoiceResponse()
    if contenido is not None:
        r.nest(contenido)
    r.hangup()
    return str(r)


def _atributos(gather: dict) -> dict:
    """Gather attributes as TwiML strings (Twilio wants "true"/"false", not Python's True)."""
    salida = {}
    for clave, valor in gather.items():
        if isinstance(valor, bool):
            valor = "true" if valor else "false"
        salida[clave] = str(valor)
    return salida
