"""One Twilio webhook's form, read once into a value; caller-controlled text cleaned on the way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from ivr.dialog import Entrada

# Characters XML 1.0 forbids (C0 controls but tab/newline/return, lone surrogates, U+FFFE and
# U+FFFF), and C1 controls, which no speech transcript or phone number holds. Echoed into a
# prompt, the former make the TwiML unparseable: Twilio then says "application error".
_NO_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Longest value kept per field: Twilio's own are far shorter (a CallSid is 34 characters, a
# transcript a sentence); a longer one is forged and is cut, never stored or echoed whole.
CORTO = 64
DIGITOS = 100
HABLA = 500


def limpiar(texto: str | None, maximo: int) -> str | None:
    """The text without XML-invalid characters, at most *maximo* long; None when nothing's left."""
    if texto is None:
        return None
    if not (texto.isascii() and texto.isprintable()):  # else nothing for _NO_XML to drop
        texto = _NO_XML.sub("", texto)
    return texto[:maximo] or None


def _numero(texto: str | None) -> float | None:
    """Twilio's Confidence (0–1), which it says may be missing or unreliable: never trusted to
    decide anything, and a malformed one is simply absent."""
    try:
        return float(texto) if texto else None
    except ValueError:
        return None


def _segundos(texto: str | None) -> int | None:
    """A whole, non-negative number of seconds; anything else is absent."""
    numero = _numero(texto)
    return int(numero) if numero is not None and 0 <= numero < 10**7 else None


@dataclass(frozen=True)
class Webhook:
    """What Twilio posted: the call, the caller's input, and the statuses it reports."""

    call_sid: str
    desde: str | None = None            # From
    digitos: str | None = None          # Digits
    habla: str | None = None            # SpeechResult
    confianza: float | None = None      # Confidence
    call_status: str | None = None      # CallStatus
    dial_call_status: str | None = None  # DialCallStatus (<Dial> action)
    queue_result: str | None = None     # QueueResult (<Enqueue> action)
    queue_position: str | None = None   # QueuePosition (<Enqueue> waitUrl)
    error_code: str | None = None       # ErrorCode (fallback URL)
    duracion: int | None = None         # CallDuration, seconds (final status callback)

    @classmethod
    def leer(cls, form: Mapping[str, str]) -> Webhook:
        """Read and clean a webhook's form (a missing CallSid reads as "?"); of a field sent
        twice, the first value."""
        if isinstance(form, MultiDict):
            # Its get() raises and catches a KeyError for each absent field (most of them).
            form = form.to_dict()
        campo = form.get
        return cls(
            call_sid=limpiar(campo("CallSid"), CORTO) or "?",
            desde=limpiar(campo("From"), CORTO),
            digitos=limpiar(campo("Digits"), DIGITOS),
            habla=limpiar(campo("SpeechResult"), HABLA),
            confianza=_numero(campo("Confidence")),
            call_status=limpiar(campo("CallStatus"), CORTO),
            dial_call_status=limpiar(campo("DialCallStatus"), CORTO),
            queue_result=limpiar(campo("QueueResult"), CORTO),
            queue_position=limpiar(campo("QueuePosition"), CORTO),
            error_code=limpiar(campo("ErrorCode"), CORTO),
            duracion=_segundos(campo("CallDuration")),
        )

    @property
    def marcacion(self) -> str | None:
        """How a dial or a queue to the agents ended, when this webhook reports one."""
        return self.dial_call_status or self.queue_result

    @property
    def entrada(self) -> Entrada:
        """The caller's input for the dialog step: at a Gather, or how a dial ended."""
        return Entrada(digitos=self.digitos, habla=self.habla, confianza=self.confianza,
                       marcacion=self.marcacion)
