"""Turn the dialog's answer into TwiML with the twilio library."""

from __future__ import annotations

import json
from urllib.parse import urlencode

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

    def url(self, ruta: str) -> str:
        """Where Twilio should post or fetch: the public base URL when set, else a path."""
        return self.base_url + ruta

    def _decir(self, padre, decir: Decir) -> None:
        locucion = self.catalogo.locucion(decir.prompt, decir.params)
        if locucion.grabacion:
            padre.play(self.url(f"/audio/{self.catalogo.idioma}/{locucion.grabacion}"))
        else:
            padre.say(locucion.texto, voice=self.flujo.voz, language=self.flujo.idioma)

    def salida(self, salida: Salida, call_sid: str, transferencia_id: int | None = None) -> str:
        """The TwiML for one dialog answer (a dial names the call and its transfer record)."""
        r = VoiceResponse()
        fin = salida.fin
        if isinstance(fin, Escuchar):
            gather = r.gather(action=self.url(f"/voice/{fin.nodo}"), method="POST",
                              **_atributos(fin.gather))
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


def _atributos(gather: dict) -> dict:
    """Gather attributes as TwiML strings (Twilio wants "true"/"false", not Python's True)."""
    salida = {}
    for clave, valor in gather.items():
        if isinstance(valor, bool):
            valor = "true" if valor else "false"
        salida[clave] = str(valor)
    return salida
