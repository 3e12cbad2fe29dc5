"""A phone that calls the line and follows its TwiML as Twilio's voice engine does.

Used by `ivr call` (interactive or scripted) and by the tests (`tel.press("5")`). Every request
is signed like Twilio's (`X-Twilio-Signature` over the public URL and the form), so the app's
signature check runs for real.

How the phone follows TwiML (the Twilio behaviour it copies, and where it simplifies):

- Verbs in order: <Say>, <Play>, <Pause>, <Gather> (its nested Say/Play/Pause are heard first),
  <Redirect>, <Dial>, <Enqueue>, <Hangup>, <Reject>. The end of a document hangs up. Any other
  verb, or a misplaced one, raises `TwimlError`: the tests must catch bad TwiML.
- Relative URLs resolve against the current document's URL; a Gather's `action` defaults to it,
  every `method` to POST.
- A Gather takes the next pending input. Keys: the finish key (`finishOnKey`, default "#")
  ends the input and is not part of `Digits` (it is sent as `FinishedOnKey`); with `numDigits`
  the gather takes that many keys and the rest stays pending for the next Gather (typeahead);
  keys without the finish key end by timeout with the keys pressed. Speech is heard only when
  `input` includes "speech" (and keys only when it includes "dtmf"): otherwise it is silence.
  No input (silence, or the finish key alone) posts to `action` only with
  `actionOnEmptyResult="true"`; else the document goes on with the verb after the Gather.
- <Dial>: the outcome is `resultado_dial` ("completed" by default: an agent answers). The
  whisper (`url` of <Number>/<Sip>/<Client>) is fetched as Twilio fetches it for the agent's
  leg; the leg's `statusCallback` (on the noun) gets the events its `statusCallbackEvent` lists
  (initiated, ringing, answered, completed; "completed" alone by default) with the leg's
  CallSid, ParentCallSid and CallStatus. Answered, the caller is bridged: the phone stops,
  `estado` is "transferred" and `terminada` is true; `terminar_puente()` (the agent hangs up)
  or `colgar()` ends the bridge, which posts `DialCallStatus=completed` to the Dial's
  `action`. Not answered, the phone posts DialCallStatus to `action` and follows the answer,
  or without `action` goes on with the next verb. <Enqueue> likewise with `resultado_cola`
  ("bridged") and `QueueResult`; its `waitUrl` is fetched once and heard by the caller.
- A response that is not 200 with an XML content type (or not a TwiML <Response>) is what
  Twilio answers with "an application error has occurred" and a hang-up: the phone records
  `("application-error", status, url)` and ends the call.
- The end of the call posts the status callback (`CallStatus=completed`, `CallDuration`...).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import TextIO
from urllib import error as urlerror
from urllib import request as urlrequest
from urllib.parse import urlencode, urljoin, urlsplit
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
INDICACION = "[teclas + #, '>' para hablar, vacío = silencio, q = colgar]"
TECLAS = frozenset("0123456789#*")
TIPOS_XML = frozenset({"text/xml", "application/xml"})
FIRMAS = ("valida", "invalida", "ninguna")
RESULTADOS_DIAL = ("completed", "busy", "no-answer", "failed", "canceled")
RESULTADOS_COLA = ("bridged", "hangup", "leave", "queue-full", "error", "system-error")
_SONIDO = frozenset({"Say", "Play", "Pause"})
_VERBOS = frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Enqueue", "Hangup",
                     "Reject", "Leave"})
_VERBOS_SIN_SOPORTE = frozenset({"Record", "Connect", "Stream", "Start", "Stop", "Pay",
                                 "Prompt", "Refer", "Sms", "Message", "Echo", "Siprec"})

Respuesta = tuple[int, str, str]


class TwimlError(Exception):
    """The TwiML cannot be followed: an unknown or misplaced verb, a Dial with no target."""


class LlamadaTerminada(RuntimeError):
    """Input given to a call that is not waiting at a Gather."""


# -- transports -----------------------------------------------------------------------------


def _partir(ruta: str, base_url: str) -> tuple[str, str]:
    """(base URL, path with query) for a path relative to *base_url* or an absolute URL."""
    if ruta.startswith("/"):
        return base_url, ruta
    partes = urlsplit(ruta)
    camino = (partes.path or "/") + (f"?{partes.query}" if partes.query else "")
    return f"{partes.scheme}://{partes.netloc}", camino


class FlaskTransport:
    """Requests to a Flask app in-process, through its test client, as if at *base_url*."""

    def __init__(self, app, base_url: str = "http://localhost"):
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.client = app.test_client()

    def post(self, ruta: str, form: dict, headers: dict | None = None) -> Respuesta:
        """POST *form* to *ruta* (a path, or an absolute URL)."""
        return self._pedir("POST", ruta, form, headers)

    def get(self, ruta: str, headers: dict | None = None) -> Respuesta:
        """GET *ruta* (a path, or an absolute URL, with its query)."""
        return self._pedir("GET", ruta, None, headers)

    def _pedir(self, metodo: str, ruta: str, form: dict | None, headers: dict | None) -> Respuesta:
        base, camino = _partir(ruta, self.base_url)
        respuesta = self.client.open(camino, method=metodo, base_url=base, data=form,
                                     headers=headers or {})
        try:
            return respuesta.status_code, respuesta.content_type or "", respuesta.get_data(True)
        finally:
            respuesta.close()


class HttpTransport:
    """Requests to a running server over HTTP (stdlib only)."""

    def __init__(self, base_url: str, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout  # Twilio gives up on a webhook after 15 seconds

    def post(self, ruta: str, form: dict, headers: dict | None = None) -> Respuesta:
        """POST *form* to *ruta* (a path, or an absolute URL)."""
        return self._pedir("POST", ruta, urlencode(form).encode(), headers)

    def get(self, ruta: str, headers: dict | None = None) -> Respuesta:
        """GET *ruta* (a path, or an absolute URL, with its query)."""
        return self._pedir("GET", ruta, None, headers)

    def _pedir(self, metodo: str, ruta: str, datos: bytes | None,
               headers: dict | None) -> Respuesta:
        url = self.base_url + ruta if ruta.startswith("/") else ruta
        cabeceras = dict(headers or {})
        if datos is not None:
            cabeceras["Content-Type"] = "application/x-www-form-urlencoded"
        peticion = urlrequest.Request(url, data=datos, headers=cabeceras, method=metodo)
        try:
            with urlrequest.urlopen(peticion, timeout=self.timeout) as r:
                return r.status, r.headers.get("Content-Type", ""), _texto(r.read(), r.headers)
        except urlerror.HTTPError as e:
            with e:
                return e.code, e.headers.get("Content-Type", ""), _texto(e.read(), e.headers)
        except (urlerror.URLError, TimeoutError) as e:
            # What Twilio meets as "no answer from the server": an application error.
            return 0, "", f"{type(e).__name__}: {getattr(e, 'reason', e)}"


def _texto(cuerpo: bytes, headers) -> str:
    return cuerpo.decode(headers.get_content_charset() or "utf-8", errors="replace")


# -- the phone ------------------------------------------------------------------------------


def _sid(prefijo: str) -> str:
    return prefijo + secrets.token_hex(16)


def _hablado(el: ElementTree.Element) -> str:
    """The text a <Say> speaks (SSML tags inside it add no words), spaces collapsed."""
    return " ".join("".join(el.itertext()).split())


def _veces(el: ElementTree.Element) -> int:
    """How many times a Say/Play is heard; loop="0" (forever) is heard once here."""
    try:
        return max(1, int(el.get("loop", "1")))
    except ValueError:
        return 1


@dataclass
class _Pierna:
    """The agent's leg of a <Dial>: its sid, where it goes, the noun's attributes."""

    sid: str
    destino: str
    datos: dict
    doc_url: str
    secuencia: int = 0


class Telefono:
    """One inbound call to the line, followed verb by verb as Twilio does.

    `marcar()` places the call and runs until a Gather waits for input or the call is over;
    `press()`, `say()` and `silence()` answer the waiting Gather and run again.
    """

    def __init__(self, transporte, auth_token: str | None, *, desde: str = "+525512345678",
                 hacia: str = "+525540001000", public_base_url: str | None = None,
                 firma: str = "valida", resultado_dial: str = "completed",
                 resultado_cola: str = "bridged", ruta_entrante: str = "/voice/incoming",
                 ruta_estado: str | None = "/voice/status", ruta_fallback: str | None = None,
                 call_sid: str | None = None, account_sid: str | None = None,
                 reloj=time.monotonic):
        if firma not in FIRMAS:
            raise ValueError(f"firma debe ser una de {FIRMAS}: {firma!r}")
        self.transporte = transporte
        self.auth_token = auth_token
        self.desde = desde
        self.hacia = hacia
        self.public_base_url = (public_base_url or transporte.base_url).rstrip("/")
        self.firma = firma
        self.resultado_dial = resultado_dial
        self.resultado_cola = resultado_cola
        self.ruta_entrante = ruta_entrante
        self.ruta_estado = ruta_estado
        self.ruta_fallback = ruta_fallback
        self.call_sid = call_sid or _sid("CA")
        self.account_sid = account_sid or _sid("AC")
        self.reloj = reloj  # seconds, for CallDuration (a test sets how long a call lasts)

        self.transcripcion: list[tuple] = []
        self.ultima_respuesta: Respuesta | None = None
        self.respuesta_estado: Respuesta | None = None  # the status callback's answer
        self.ultimo_gather: dict | None = None
        self.transferido_a: str | None = None
        self.errores: list[tuple] = []  # ("application-error", status, url)
        self.colgada = False  # the call leg is over (status callback posted)

        self._pendientes: deque[tuple] = deque()
        self._iniciada = False
        self._inicio = 0.0
        self._doc_url = ""
        self._verbos: list[ElementTree.Element] = []
        self._i = 0
        self._gather_en_curso: ElementTree.Element | None = None
        self._puente: tuple[str, ElementTree.Element] | None = None
        self._ultima_peticion: tuple[str, str, dict] | None = None
        self._pierna: _Pierna | None = None  # the agent's leg of the current <Dial>
        self._desde_entrada = 0

    # -- what a test looks at ---------------------------------------------------------------

    @property
    def esperando(self) -> bool:
        """A Gather is waiting for the caller's input."""
        return self._gather_en_curso is not None and not self.colgada

    @property
    def terminada(self) -> bool:
        """No more input will be asked: the call ended or is bridged to an agent."""
        return self._iniciada and not self.esperando

    @property
    def estado(self) -> str:
        """'in-progress' while the IVR listens, then 'transferred' (bridged to an agent at some
        point) or 'completed'."""
        if not self.terminada:
            return "in-progress"
        return "transferred" if self.transferido_a else "completed"

    @property
    def dicho(self) -> str:
        """All the text spoken to the caller since the last input (or the start), joined."""
        return " ".join(e[1] for e in self.transcripcion[self._desde_entrada:] if e[0] == "say")

    @property
    def error_de_aplicacion(self) -> int | None:
        """The HTTP status of the first application error (0: no answer), or None."""
        return self.errores[0][1] if self.errores else None

    # -- what the caller does ---------------------------------------------------------------

    def marcar(self) -> Telefono:
        """Place the call: post the incoming webhook and follow its TwiML."""
        if self._iniciada:
            raise LlamadaTerminada("la llamada ya se marcó")
        self._iniciada = True
        self._inicio = self.reloj()
        url = self.public_base_url + self.ruta_entrante
        if self._cargar("POST", url, self._parametros("ringing"), entrante=True):
            self._seguir()
        return self

    def press(self, teclas: str) -> Telefono:
        """Press keys (0-9, # and *) at the waiting Gather."""
        malas = set(teclas) - TECLAS
        if not teclas or malas:
            raise ValueError(f"teclas inválidas: {teclas!r}")
        return self._entrada(("dtmf", teclas))

    def say(self, texto: str, confidence: float = 0.9) -> Telefono:
        """Say *texto* at the waiting Gather (heard only if its input includes speech)."""
        return self._entrada(("speech", texto, confidence))

    def silence(self) -> Telefono:
        """Say nothing until the waiting Gather times out."""
        return self._entrada(("silence",))

    def colgar(self) -> Telefono:
        """The caller hangs up (at a Gather or bridged to an agent)."""
        if not self._iniciada or self.colgada:
            return self
        self._registrar(("caller-hangup",))
        if self._puente:
            # Twilio requests the Dial/Enqueue action when the bridge ends, even after the
            # caller hung up; what it answers is not followed.
            self._fin_de_puente(seguir=False)
        self._gather_en_curso = None
        self._terminar()
        return self

    def terminar_puente(self) -> Telefono:
        """The agent hangs up: the bridge ends and the call goes on as Twilio does."""
        if not self._puente or self.colgada:
            raise LlamadaTerminada("la llamada no está con un agente")
        self._desde_entrada = len(self.transcripcion)
        if self._fin_de_puente(seguir=True):
            self._seguir()
        return self

    def reenviar(self) -> Respuesta:
        """Post the last document request again, as Twilio retries it; the answer is returned,
        not followed."""
        if self._ultima_peticion is None:
            raise LlamadaTerminada("no hay petición que reenviar")
        metodo, url, params = self._ultima_peticion
        self._registrar(("resend", self._ruta(url), dict(params)))
        return self._pedir(metodo, url, params)

    # -- following TwiML --------------------------------------------------------------------

    def _entrada(self, entrada: tuple) -> Telefono:
        if not self.esperando:
            raise LlamadaTerminada(f"la llamada no espera entrada (estado {self.estado})")
        self._desde_entrada = len(self.transcripcion)
        self._pendientes.append(entrada)
        self._seguir()
        return self

    def _registrar(self, evento: tuple) -> None:
        self.transcripcion.append(evento)

    def _seguir(self) -> None:
        """Run the current document until a Gather waits, a bridge starts or the call ends."""
        while not self.colgada and self._puente is None:
            if self._i >= len(self._verbos):
                self._terminar()  # the end of the document: Twilio hangs up
                return
            verbo = self._verbos[self._i]
            if verbo.tag == "Gather":
                if not self._gather(verbo):
                    return
                continue
            self._i += 1
            self._verbo(verbo)

    def _verbo(self, el: ElementTree.Element) -> None:
        etiqueta = el.tag
        if etiqueta in _SONIDO:
            self._sonido(el)
        elif etiqueta == "Redirect":
            url = urljoin(self._doc_url, (el.text or "").strip())
            self._cargar(el.get("method", "POST").upper(), url, self._parametros())
        elif etiqueta == "Dial":
            self._dial(el)
        elif etiqueta == "Enqueue":
            self._enqueue(el)
        elif etiqueta == "Hangup":
            self._registrar(("hangup",))
            self._terminar()
        elif etiqueta == "Reject":
            razon = el.get("reason", "rejected")
            self._registrar(("reject", razon))
            self._terminar("busy" if razon == "busy" else "no-answer")
        else:
            self._verbo_desconocido(el, "<Response>")

    def _verbo_desconocido(self, el: ElementTree.Element, dentro: str) -> None:
        if el.tag in _VERBOS_SIN_SOPORTE:
            raise TwimlError(f"<{el.tag}> (dentro de {dentro}) no lo sigue este teléfono "
                             f"(documento {self._doc_url})")
        if el.tag in _VERBOS:
            raise TwimlError(f"<{el.tag}> no puede ir dentro de {dentro} "
                             f"(documento {self._doc_url})")
        raise TwimlError(f"verbo TwiML desconocido <{el.tag}> dentro de {dentro} "
                         f"(documento {self._doc_url})")

    def _sonido(self, el: ElementTree.Element) -> None:
        if el.tag == "Say":
            for _ in range(_veces(el)):
                self._registrar(("say", _hablado(el), el.get("voice"), el.get("language")))
        elif el.tag == "Play":
            for _ in range(_veces(el)):
                self._registrar(("play", urljoin(self._doc_url, (el.text or "").strip())))
        else:
            self._registrar(("pause", int(el.get("length", "1"))))

    def _gather(self, g: ElementTree.Element) -> bool:
        """Hear the Gather's prompts, take one input; False while it waits for input."""
        if self._gather_en_curso is not g:
            atributos = dict(g.attrib)
            atributos["action"] = urljoin(self._doc_url, g.get("action", ""))
            atributos["method"] = g.get("method", "POST").upper()
            self.ultimo_gather = atributos
            self._registrar(("gather", dict(atributos)))
            for hijo in g:
                if hijo.tag not in _SONIDO:
                    self._verbo_desconocido(hijo, "<Gather>")
                self._sonido(hijo)
            self._gather_en_curso = g
        if not self._pendientes:
            return False
        self._gather_en_curso = None
        resultado = self._resultado(g)
        if resultado is None and g.get("actionOnEmptyResult") != "true":
            self._i += 1  # no input: Twilio goes on with the verb after the Gather
            return True
        self._cargar(g.get("method", "POST").upper(), urljoin(self._doc_url, g.get("action", "")),
                     {**self._parametros(), **(resultado or {})})
        return True

    def _resultado(self, g: ElementTree.Element) -> dict | None:
        """What the Gather posts for the next pending input; None for no input."""
        entrada = self._pendientes.popleft()
        tipos = set(g.get("input", "dtmf").split())
        if entrada[0] == "dtmf":
            if "dtmf" not in tipos:
                self._registrar(("input", "dtmf-ignored", entrada[1]))
                return None
            fin = g.get("finishOnKey", "#")
            maximo = int(g.get("numDigits") or 0)
            digitos, tecla_fin, resto = "", None, ""
            for k, tecla in enumerate(entrada[1]):
                if fin and tecla == fin:
                    tecla_fin, resto = tecla, entrada[1][k + 1:]
                    break
                digitos += tecla
                if maximo and len(digitos) >= maximo:
                    resto = entrada[1][k + 1:]
                    break
            if resto:
                self._pendientes.appendleft(("dtmf", resto))  # typeahead for the next Gather
            self._registrar(("input", "dtmf", digitos + (tecla_fin or "")))
            if not digitos:
                return None  # the finish key alone is an empty result for Twilio
            resultado = {"Digits": digitos}
            if tecla_fin:
                resultado["FinishedOnKey"] = tecla_fin
            return resultado
        if entrada[0] == "speech":
            if "speech" not in tipos:
                self._registrar(("input", "speech-ignored", entrada[1]))
                return None
            self._registrar(("input", "speech", entrada[1]))
            return {"SpeechResult": entrada[1], "Confidence": str(entrada[2])}
        self._registrar(("input", "silence", ""))
        return None

    def _dial(self, el: ElementTree.Element) -> None:
        destinos = []
        if (el.text or "").strip():
            destinos.append(("Number", el.text.strip(), {}))
        for hijo in el:
            if hijo.tag not in {"Number", "Sip", "Client", "Queue", "Conference", "Application"}:
                raise TwimlError(f"<{hijo.tag}> no va dentro de <Dial> ({self._doc_url})")
            destinos.append((hijo.tag, (hijo.text or "").strip(), dict(hijo.attrib)))
        if not destinos or not destinos[0][1]:
            raise TwimlError(f"<Dial> sin destino ({self._doc_url})")
        noun, destino, datos = destinos[0]
        # The Dial's own attributes, which noun the target is, and the noun's attributes (the
        # whisper `url`, resolved): Dial and noun both have a `method`, kept apart.
        atributos = {**el.attrib, "noun": noun, "noun_attrs": datos}
        if datos.get("url"):
            atributos["url"] = urljoin(self._doc_url, datos["url"])
        if len(destinos) > 1:
            atributos["destinos"] = [d[1] for d in destinos]
        self._registrar(("dial", destino, atributos))
        resultado = self.resultado_dial
        if resultado not in RESULTADOS_DIAL:
            raise ValueError(f"resultado_dial debe ser uno de {RESULTADOS_DIAL}: {resultado!r}")
        self._pierna = _Pierna(_sid("CA"), destino, datos, self._doc_url)
        self._progreso_pierna("initiated", "initiated")
        if resultado not in ("busy", "failed"):  # a busy or failed number never rings
            self._progreso_pierna("ringing", "ringing")
        if resultado == "completed":
            self._progreso_pierna("answered", "in-progress")
            if datos.get("url") and not self._susurro(
                    atributos["url"], datos.get("method", "POST").upper(), destino):
                resultado = "failed"  # the agent's leg met an application error and dropped
        if resultado == "completed":
            self.transferido_a = destino
            self._puente = ("dial", el)
            self._gather_en_curso = None
            return
        self._progreso_pierna("completed", resultado)
        self._tras_dial(el, {"DialCallStatus": resultado}, seguir=True)

    def _progreso_pierna(self, evento: str, estado: str) -> None:
        """Post the agent leg's progress to its statusCallback, for the events it asked for
        (Twilio: statusCallbackEvent, "completed" by default); the answer is not followed."""
        pierna = self._pierna
        url = pierna.datos.get("statusCallback") if pierna else None
        if not url:
            return
        eventos = (pierna.datos.get("statusCallbackEvent") or "completed").split()
        if evento not in eventos:
            return
        url = urljoin(pierna.doc_url, url)
        pierna.secuencia += 1
        params = {"CallSid": pierna.sid, "ParentCallSid": self.call_sid,
                  "AccountSid": self.account_sid, "From": self.desde, "To": pierna.destino,
                  "CallStatus": estado, "Direction": "outbound-dial", "ApiVersion": API_VERSION,
                  "CallbackSource": "call-progress-events",
                  "SequenceNumber": str(pierna.secuencia - 1),
                  "Timestamp": formatdate(usegmt=True)}
        self._registrar(("agent-status", estado, self._ruta(url)))
        self._pedir(pierna.datos.get("statusCallbackMethod", "POST").upper(), url, params)

    def _susurro(self, url: str, metodo: str, destino: str) -> bool:
        """Fetch the whisper the agent hears before the bridge; False on an application error."""
        params = {"CallSid": self._pierna.sid if self._pierna else _sid("CA"),
                  "ParentCallSid": self.call_sid,
                  "AccountSid": self.account_sid, "From": self.desde, "To": destino,
                  "CallStatus": "in-progress", "Direction": "outbound-dial",
                  "ApiVersion": API_VERSION}
        documento = self._documento(metodo, url, params, seguir=False)
        if documento is None:
            return False
        for hijo in documento:
            if hijo.tag == "Say":
                self._registrar(("whisper", url, _hablado(hijo)))
            elif hijo.tag not in {"Play", "Pause"}:
                self._verbo_desconocido(hijo, "el susurro")
        return True

    def _tras_dial(self, el: ElementTree.Element, resultado: dict, seguir: bool) -> bool:
        """Post the Dial's outcome to its action (and follow it), or go on with the next verb."""
        accion = el.get("action")
        if accion is None:
            return True
        url = urljoin(self._doc_url, accion)
        params = {**self._parametros(), **resultado}
        metodo = el.get("method", "POST").upper()
        if seguir:
            return self._cargar(metodo, url, params)
        self._documento(metodo, url, params, seguir=False)
        return False

    def _fin_de_puente(self, seguir: bool) -> bool:
        tipo, el = self._puente
        self._puente = None
        if tipo == "dial":
            self._progreso_pierna("completed", "completed")
            resultado = {"DialCallStatus": "completed",
                         "DialCallSid": self._pierna.sid if self._pierna else _sid("CA"),
                         "DialCallDuration": "1"}
        else:
            resultado = {"QueueResult": "bridged", "QueueSid": _sid("QU"), "QueueTime": "0"}
        if not seguir:
            resultado["CallStatus"] = "completed"  # the caller is gone
        return self._tras_dial(el, resultado, seguir)

    def _enqueue(self, el: ElementTree.Element) -> None:
        nombre = (el.text or "").strip()
        atributos = dict(el.attrib)
        for hijo in el:
            if hijo.tag != "Task":
                raise TwimlError(f"<{hijo.tag}> no va dentro de <Enqueue> ({self._doc_url})")
            atributos["task"] = (hijo.text or "").strip()
        self._registrar(("enqueue", nombre, atributos))
        resultado = self.resultado_cola
        if resultado not in RESULTADOS_COLA:
            raise ValueError(f"resultado_cola debe ser uno de {RESULTADOS_COLA}: {resultado!r}")
        if el.get("waitUrl"):
            resultado = self._espera(el, resultado)
            if resultado is None:
                return
        if resultado == "bridged":
            self.transferido_a = nombre or el.get("workflowSid") or "cola"
            self._puente = ("enqueue", el)
            return
        self._tras_dial(el, {"QueueResult": resultado, "QueueSid": _sid("QU"),
                             "QueueTime": "0"}, seguir=True)

    def _espera(self, el: ElementTree.Element, resultado: str) -> str | None:
        """Hear the hold document once (Twilio loops it until an agent takes the call)."""
        url = urljoin(self._doc_url, el.get("waitUrl"))
        params = {**self._parametros(), "QueuePosition": "1", "QueueSid": _sid("QU"),
                  "QueueTime": "0", "AvgQueueTime": "0", "CurrentQueueSize": "1",
                  "MaxQueueSize": "100"}
        documento = self._documento(el.get("waitUrlMethod", "POST").upper(), url, params,
                                    seguir=True, actualizar=False)
        if documento is None:
            return None
        for hijo in documento:
            if hijo.tag in _SONIDO:
                self._sonido(hijo)
            elif hijo.tag == "Leave":
                return "leave"
            elif hijo.tag == "Hangup":
                self._registrar(("hangup",))
                self._terminar()
                return None
            else:
                self._verbo_desconocido(hijo, "el waitUrl de <Enqueue>")
        return resultado

    # -- requests ---------------------------------------------------------------------------

    def _parametros(self, estado: str = "in-progress") -> dict:
        return {"CallSid": self.call_sid, "AccountSid": self.account_sid, "From": self.desde,
                "To": self.hacia, "Caller": self.desde, "Called": self.hacia,
                "CallStatus": estado, "Direction": "inbound", "ApiVersion": API_VERSION}

    def _ruta(self, url: str) -> str:
        """*url* as the transport takes it: a path when under the public base URL."""
        base = self.public_base_url
        if url == base:
            return "/"
        if url.startswith(base) and url[len(base)] in "/?":
            return url[len(base):]
        return url

    def _cabeceras(self, url: str, params: dict) -> dict:
        if self.firma == "ninguna" or not self.auth_token:
            return {}
        token = self.auth_token if self.firma == "valida" else self.auth_token + "-falso"
        return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}

    def _pedir(self, metodo: str, url: str, params: dict) -> Respuesta:
        if metodo == "GET":
            # Twilio puts the parameters in the query string and signs the whole URL.
            url = url + ("&" if "?" in url else "?") + urlencode(params)
            return self.transporte.get(self._ruta(url), self._cabeceras(url, {}))
        return self.transporte.post(self._ruta(url), params, self._cabeceras(url, params))

    def _documento(self, metodo: str, url: str, params: dict, seguir: bool,
                   actualizar: bool = False) -> ElementTree.Element | None:
        """Request a TwiML document; None (and an application error) when it isn't one. With
        *seguir* an error ends the call as Twilio does."""
        self._registrar(("post" if metodo == "POST" else "get", self._ruta(url), dict(params)))
        respuesta = self._pedir(metodo, url, params)
        if actualizar:
            self.ultima_respuesta = respuesta
            self._ultima_peticion = (metodo, url, params)
        status, tipo, cuerpo = respuesta
        documento = None
        if status == 200 and tipo.split(";")[0].strip().lower() in TIPOS_XML:
            try:
                documento = ElementTree.fromstring(cuerpo.encode("utf-8"))
            except ElementTree.ParseError:
                documento = None
            if documento is not None and documento.tag != "Response":
                documento = None
        if documento is None:
            self.errores.append(("application-error", status, url))
            self._registrar(("application-error", status))
            if seguir:
                self._terminar()
        return documento

    def _cargar(self, metodo: str, url: str, params: dict, entrante: bool = False) -> bool:
        """Request the next document of the call and make it current; False if the call ended."""
        documento = self._documento(metodo, url, params, seguir=False, actualizar=True)
        if documento is None and self.ruta_fallback:
            # The number's "primary handler fails" URL: Twilio asks it, with the same
            # parameters, before giving up (for the incoming webhook and the ones after it).
            estado, _, _ = self.ultima_respuesta
            fallback = self.public_base_url + self.ruta_fallback
            params = {**params, "ErrorCode": "11200" if estado != 200 else "12100",
                      "ErrorUrl": url}
            documento = self._documento("POST", fallback, params, seguir=False, actualizar=True)
            url = fallback
        if documento is None:
            self._terminar()
            return False
        self._doc_url = url
        self._verbos = list(documento)
        self._i = 0
        self._gather_en_curso = None
        return True

    def _terminar(self, estado: str = "completed") -> None:
        """The call is over: post the status callback once."""
        if self.colgada:
            return
        self.colgada = True
        self._gather_en_curso = None
        self._verbos, self._i = [], 0
        if not self.ruta_estado:
            return
        params = {**self._parametros(estado),
                  "CallDuration": str(int(self.reloj() - self._inicio)),
                  "Timestamp": formatdate(usegmt=True),
                  "CallbackSource": "call-progress-events", "SequenceNumber": "0"}
        url = self.public_base_url + self.ruta_estado
        self._registrar(("post", self._ruta(url), dict(params)))
        self.respuesta_estado = self._pedir("POST", url, params)


# -- the terminal -------------------------------------------------------------------------------


def teclas_de(respuesta: str, gather: dict | None) -> str:
    """The keys for a typed answer: letters become their keypad keys (ivr.domain.keypad), and
    the Gather's finish key is pressed after them when it can still take more keys."""
    from ivr.domain.keypad import a_teclas

    teclas = "".join(c if c in TECLAS else a_teclas(c) for c in respuesta)
    if not teclas:
        raise ValueError(f"sin teclas en {respuesta!r}")
    gather = gather or {}
    fin = gather.get("finishOnKey", "#")
    maximo = int(gather.get("numDigits") or 0)
    if fin and not teclas.endswith(fin) and (not maximo or len(teclas) < maximo):
        teclas += fin
    return teclas


def _responder(telefono: Telefono, respuesta: str) -> None:
    """Answer the waiting Gather: ">texto" speaks, "" is silence, anything else is keys."""
    if respuesta.startswith(">"):
        telefono.say(respuesta[1:].strip())
    elif not respuesta.strip():
        telefono.silence()
    else:
        telefono.press(teclas_de(respuesta.strip(), telefono.ultimo_gather))


def _linea(evento: tuple) -> str | None:
    """A transcript event as the caller hears it (None: nothing to show)."""
    tipo = evento[0]
    if tipo == "say":
        return f"IVR: {evento[1]}"
    if tipo == "play":
        return f"IVR: [audio {evento[1]}]"
    if tipo == "input":
        clase, valor = evento[1], evento[2]
        return {"dtmf": f"Usted: {valor}", "speech": f"Usted (voz): {valor}",
                "silence": "Usted: (silencio)",
                "dtmf-ignored": f"Usted: {valor} (no se escuchan teclas aquí)",
                "speech-ignored": f"Usted (voz): {valor} (no se escucha la voz aquí)"}[clase]
    if tipo == "dial":
        return f"IVR: [marcando a {evento[1]}]"
    if tipo == "enqueue":
        return f"IVR: [en la cola {evento[1] or evento[2].get('workflowSid', '')}]"
    if tipo == "whisper":
        return f"  (susurro al agente: {evento[2]})"
    if tipo == "application-error":
        return f"IVR: [error de aplicación: HTTP {evento[1]}; Twilio cuelga]"
    return None


class _Impresor:
    """Prints the transcript events not shown yet."""

    def __init__(self, telefono: Telefono, salida: TextIO):
        self.telefono = telefono
        self.salida = salida
        self.vistos = 0

    def __call__(self) -> None:
        for evento in self.telefono.transcripcion[self.vistos:]:
            linea = _linea(evento)
            if linea is not None:
                print(linea, file=self.salida)
        self.vistos = len(self.telefono.transcripcion)

    def final(self) -> None:
        self()
        t = self.telefono
        if t.transferido_a:
            print(f"[llamada transferida a {t.transferido_a}]", file=self.salida)
        else:
            print("[llamada colgada]", file=self.salida)


def _conversar(telefono: Telefono, siguiente: Callable[[], str | None],
               impresor: _Impresor) -> None:
    """Place the call and answer each Gather with siguiente() until the call is over."""
    telefono.marcar()
    while telefono.esperando:
        impresor()
        respuesta = siguiente()
        if respuesta is None or respuesta.strip().lower() == "q":
            telefono.colgar()
            break
        try:
            _responder(telefono, respuesta)
        except ValueError as e:
            print(f"(respuesta no válida: {e})", file=impresor.salida)
    if telefono.transferido_a and not telefono.colgada:
        impresor()
        telefono.colgar()  # the caller, now with the agent, hangs up at the end of the session


def run_interactive(telefono: Telefono, stdin: TextIO, stdout: TextIO) -> bool:
    """Call the line and answer from *stdin*; True when no application error occurred."""
    impresor = _Impresor(telefono, stdout)

    def leer() -> str | None:
        print(INDICACION, file=stdout)
        stdout.flush()
        linea = stdin.readline()
        return linea.rstrip("\r\n") if linea else None

    _conversar(telefono, leer, impresor)
    impresor.final()
    return not telefono.errores


def run_script(telefono: Telefono, answers: list[str], stdout: TextIO) -> bool:
    """Call the line answering each Gather with the next of *answers* ("5", "GOMA850123...",
    ">texto", "" for silence, "q" to hang up); with no answers left, hang up. True when no
    application error occurred and every answer was used."""
    pendientes = deque(answers)
    impresor = _Impresor(telefono, stdout)
    agotadas: list[str] = []  # where the line was still waiting when the script ran out

    def siguiente() -> str | None:
        if pendientes:
            return pendientes.popleft()
        agotadas.append(_esperando_en(telefono))
        return None

    _conversar(telefono, siguiente, impresor)
    if agotadas:
        print(f"[se acabaron las respuestas: la línea esperaba una respuesta en "
              f"{agotadas[0]}; el teléfono cuelga]", file=stdout)
    impresor.final()
    if pendientes:
        print(f"[sobraron {len(pendientes)} respuestas: {list(pendientes)}]", file=stdout)
    return not telefono.errores and not pendientes and not agotadas


def _esperando_en(telefono: Telefono) -> str:
    """The prompt a Gather waits at: its node (the last part of its action) and the question."""
    accion = (telefono.ultimo_gather or {}).get("action") or "?"
    nodo = accion.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    pregunta = telefono.dicho
    if len(pregunta) > 90:
        pregunta = "…" + pregunta[-89:]
    return f"«{nodo}» ({pregunta})" if pregunta else f"«{nodo}»"
