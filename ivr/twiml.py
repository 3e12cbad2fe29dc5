"""Turn the dialog's answer into TwiML with the twilio library."""

from __future__ import annotations

import json
from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, Enqueue, VoiceResponse

from ivr.dialog import Colgar, Decir, Escuchar, Salida, Transferir
from ivr.flows import Flujo
from ivr.prompts import Catalogo


@dataclass(frozen=True)
class Agentes:
    """Whether and where a transfer can go right now."""

    destino: str | None      # AGENT_DIAL: E.164 number or sip: URI
    abierto: bool            # inside agent hours
    horario: str             # the hours, as said to the caller
    workflow_sid: str | None = None   # TWILIO_WORKFLOW_SID: TaskRouter instead of a dial

    @property
    def disponibles(self) -> bool:
        """A transfer can reach someone now."""
        return self.abierto and bool(self.destino or self.workflow_sid)


@dataclass(frozen=True)
class Pase:
    """One transfer: its record's id (for the whisper) and the context for a TaskRouter task."""

    id: int | None = None
    tarea: dict | None = None


class Render:
    """Builds TwiML documents in the flow's language and voice."""

    def __init__(self, catalogo: Catalogo, flujo: Flujo, base_url: str = ""):
        self.catalogo = catalogo
        self.flujo = flujo
        self.base_url = base_url.rstrip("/")

    def url(self, ruta: str) -> str:
        """Where Twilio should post or fetch: the public base URL when set, else a path."""
        return self.base_url + ruta

    def _decir(self, padre, decir: Decir) -> None:
        locucion = self.catalogo.locucion(decir.prompt, decir.params)
        if locucion.grabacion:
            padre.play(self.url(f"/audio/{self.catalogo.idioma}/{locucion.grabacion}"))
        else:
            padre.say(locucion.texto, voice=self.flujo.voz, language=self.flujo.idioma)

    def salida(self, salida: Salida, agentes: Agentes, pase: Pase | None = None) -> str:
        """The TwiML for one dialog answer."""
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
        if isinstance(fin, Transferir):
            self._transferir(r, agentes, pase or Pase())
        elif isinstance(fin, Colgar):
            r.hangup()
        return str(r)

    def _transferir(self, r: VoiceResponse, agentes: Agentes, pase: Pase,
                    reintento: bool = False) -> None:
        if not agentes.abierto:
            self._decir(r, Decir("agente_fuera_de_horario", {"horario": agentes.horario}))
            self._sin_agente(r)
            return
        if not agentes.disponibles:
            self._decir(r, Decir("agente_no_disponible"))
            self._sin_agente(r)
            return
        self._decir(r, Decir("agente_transferencia"))
        # The retry's outcome must not offer another retry, even when the call's state is gone.
        accion = self.url("/voice/transferencia" + ("?reintento=1" if reintento else ""))
        if agentes.workflow_sid:
            enqueue = Enqueue(workflow_sid=agentes.workflow_sid, action=accion, method="POST",
                              wait_url=self.url("/voice/espera"), wait_url_method="POST")
            enqueue.task(json.dumps(pase.tarea or {}, ensure_ascii=False, sort_keys=True))
            r.append(enqueue)
            return
        # answerOnBridge: the caller keeps hearing ringing, not silence, until an agent answers;
        # the whisper (url=) is played to the agent alone before the bridge.
        dial = Dial(action=accion, method="POST", answer_on_bridge="true")
        susurro = self.url(f"/voice/susurro?t={pase.id}") if pase.id is not None else None
        if agentes.destino.startswith("sip:"):
            dial.sip(agentes.destino, url=susurro, method="POST" if susurro else None)
        else:
            dial.number(agentes.destino, url=susurro, method="POST" if susurro else None)
        r.append(dial)

    def susurro(self, texto: str) -> str:
        """What the agent hears before the bridge."""
        r = VoiceResponse()
        r.say(texto, voice=self.flujo.voz, language=self.flujo.idioma)
        return str(r)

    def espera(self, posicion: str | None, musica: str | None) -> str:
        """Hold while queued for an agent: the caller's position, then music or a pause."""
        r = VoiceResponse()
        if posicion and posicion.isdigit():
            self._decir(r, Decir("agente_posicion", {"posicion": posicion}))
        if musica:
            r.play(musica)
        else:
            r.pause(length=15)
        return str(r)

    def _sin_agente(self, r: VoiceResponse) -> None:
        self._decir(r, Decir("alternativa_web"))
        self._decir(r, Decir("despedida"))
        r.hangup()

    def fin_de_transferencia(self, completada: bool, primera_vez: bool = True) -> str:
        """After <Dial>/<Enqueue>: hang up after a conversation; else apologise, offer a retry."""
        r = VoiceResponse()
        if completada:
            r.hangup()
            return str(r)
        self._decir(r, Decir("agente_no_contesto"))
        self._decir(r, Decir("alternativa_web"))
        if primera_vez:
            gather = r.gather(action=self.url("/voice/reintento_agente"), method="POST",
                              **_atributos({**self.flujo.gather, "num_digits": 1,
                                            "hints": "intentar de nuevo, terminar"}))
            self._decir(gather, Decir("agente_reintentar"))
        self._decir(r, Decir("despedida"))
        r.hangup()
        return str(r)

    def transferir(self, agentes: Agentes, pase: Pase | None = None,
                   antes: tuple[str, ...] = (), reintento: bool = False) -> str:
        """A transfer on its own, with prompts before it."""
        r = VoiceResponse()
        for prompt in antes:
            self._decir(r, Decir(prompt))
        self._transferir(r, agentes, pase or Pase(), reintento)
        return str(r)

    def disculpa(self, agentes: Agentes, prompt: str = "error_interno") -> str:
        """Apology and transfer, from memory only: valid when Redis or the database is down."""
        return self.transferir(agentes, antes=(prompt,))

    def despedida(self) -> str:
        """Goodbye and hang up."""
        r = VoiceResponse()
        self._decir(r, Decir("despedida"))
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
