"""The app's log: one escaped line per record, as text for a terminal or JSON (LOG_FORMAT),
exception messages withheld, and one line per webhook with what it did and how long it took."""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
import unicodedata
from urllib.parse import urlsplit
from xml.etree import ElementTree

from flask import Flask, g, request
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import RequestEntityTooLarge

from ivr import linea

FORMATOS = ("text", "json")
FORMATO_TEXTO = "%(asctime)s %(levelname)s %(name)s %(message)s"
# A value a client sent is cut to this length: a log line is not a place to store a body.
LARGO_MAXIMO = 80
log = logging.getLogger("ivr.webhook")

# Characters that could end a line, fake another one or hide text on a terminal: controls (C0,
# C1, DEL), format characters (bidi overrides, zero widths), line and paragraph separators,
# surrogates, private-use and unassigned code points; and the backslash, so that an escape
# written by a client can't pass for one written here.
_ESCAPAR = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_CANDIDATOS = re.compile(r"[^\x20-\x5b\x5d-\x7e]")
_CORTOS = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(m: re.Match) -> str:
    c = m.group()
    if c in _CORTOS:
        return _CORTOS[c]
    if unicodedata.category(c) not in _ESCAPAR:
        return c
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else (f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")


def escapar(texto: str) -> str:
    """The text on one line, with every character that could forge or hide a line escaped."""
    if texto.isascii() and texto.isprintable() and "\\" not in texto:
        return texto  # nothing _CANDIDATOS matches: a webhook's line, almost always
    return _CANDIDATOS.sub(_escape, texto)


def sin_mensajes(error: BaseException) -> str:
    """A traceback with the frames and the exception types only: an exception's message may
    carry request data (a database error quotes the value it refused)."""
    partes = []
    vistos = set()
    while error is not None and id(error) not in vistos:
        vistos.add(id(error))
        tipo = type(error)
        nombre = tipo.__qualname__ if tipo.__module__ == "builtins" \
            else f"{tipo.__module__}.{tipo.__qualname__}"
        partes.append("Traceback (most recent call last):\n"
                      + "".join(traceback.format_tb(error.__traceback__))
                      + f"{nombre} (mensaje omitido)")
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "\nwhile handling the above:\n".join(reversed(partes))


class _FechaPorSegundo:
    """logging's asctime (`2026-12-02 13:18:03,648`), with the date and time written once per
    second instead of for every record (the milliseconds are added each time)."""

    _segundo: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt:
            return super().formatTime(record, datefmt)
        segundo = int(record.created)
        guardado = self._segundo
        if guardado[0] != segundo:
            guardado = (segundo, time.strftime(self.default_time_format,
                                               self.converter(record.created)))
            self._segundo = guardado
        return self.default_msec_format % (guardado[1], record.msecs)


class Texto(_FechaPorSegundo, logging.Formatter):
    """`fecha NIVEL logger mensaje campo=valor…` on a single line, tracebacks included."""

    def __init__(self):
        super().__init__(FORMATO_TEXTO)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return sin_mensajes(ei[1])

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.stack_info:
            # Another handler may have cached the traceback with its messages: ours is made
            # anew.
            guardado, record.exc_text = record.exc_text, None
            try:
                linea = super().format(record)
            finally:
                record.exc_text = guardado
        else:
            # What logging's format makes of FORMATO_TEXTO, and leaves on the record, without
            # its checks for each record (whether the format has a time, its values merged
            # with defaults): every webhook's line comes this way.
            record.message = mensaje = record.getMessage()
            record.asctime = fecha = self.formatTime(record, self.datefmt)
            linea = f"{fecha} {record.levelname} {record.name} {mensaje}"
        campos = getattr(record, "campos", None)
        if campos:
            linea += _campos(campos)
        return escapar(linea)


def _campos(campos: dict) -> str:
    """` clave=valor` for each field with a value; a value quoted when a client's text could
    fake another field (`CallSid=CA1 outcome=gather`)."""
    partes = []
    for clave, valor in campos.items():
        if valor is None:
            continue
        texto = valor if type(valor) is str else str(valor)
        if not texto or " " in texto or "=" in texto or '"' in texto:
            texto = '"' + texto.replace('"', '\\"') + '"'
        partes.append(f" {clave}={texto}")
    return "".join(partes)


class Json(_FechaPorSegundo, JsonFormatter):
    """One JSON object per line: ts, level, logger, msg, the record's fields, exc_info."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "ts", "levelname": "level",
                                        "name": "logger", "message": "msg"},
                         reserved_attrs=[*logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
                                         "message", "asctime", "campos"],
                         json_ensure_ascii=True)
        # json.dumps given an encoder class builds one for every record: built once here,
        # with the settings json.dumps would give it.
        self._codificador = self.json_encoder(default=self.json_default,
                                              indent=self.json_indent,
                                              ensure_ascii=self.json_ensure_ascii)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return sin_mensajes(ei[1])

    def jsonify_log_record(self, log_data) -> str:
        return self._codificador.encode(log_data)

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        for clave, valor in (getattr(record, "campos", None) or {}).items():
            if valor is not None:
                log_data[clave] = valor


def formateador(formato: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT (`text` or `json`)."""
    return Json() if formato == "json" else Texto()


class _Manejador(logging.StreamHandler):
    """The handler this module installs on the root logger: it writes to whatever stderr is
    when a record comes (a test's capture, a daemon's redirection)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _valor):
        pass

    def emit(self, record: logging.LogRecord) -> None:
        # StreamHandler's, with stderr looked up once instead of three times; the flush
        # needs no lock of its own: handle() holds the handler's.
        try:
            mensaje = self.format(record)
            flujo = sys.stderr
            flujo.write(mensaje + self.terminator)
            if hasattr(flujo, "flush"):
                flujo.flush()
        except RecursionError:  # as logging's: a recursion is not a logging error
            raise
        except Exception:  # noqa: BLE001 - as logging's: the error is reported, not raised
            self.handleError(record)


def configurar(formato: str) -> None:
    """Send every logger's records to stderr in this format; a handler of ours from an
    earlier app is replaced, anyone else's (pytest's capture) is left alone."""
    raiz = logging.getLogger()
    for h in [h for h in raiz.handlers if isinstance(h, _Manejador)]:
        raiz.removeHandler(h)
    manejador = _Manejador()
    manejador.setFormatter(formateador(formato))
    raiz.addHandler(manejador)
    raiz.setLevel(logging.INFO)
    # Alembic narrates every plugin it loads; `ivr db upgrade` says the outcome itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def config_de_gunicorn() -> dict:
    """gunicorn's own log (start-up, workers, access lines) as JSON objects too, for
    LOG_FORMAT=json: every line on both streams then parses. The root logger is left to the
    app, which installs its handler in each worker."""
    def a(flujo: str) -> dict:
        return {"class": "logging.StreamHandler", "formatter": "json", "stream": flujo}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},
        "formatters": {"json": {"()": "ivr.logs.Json"}},
        "handlers": {"stdout": a("ext://sys.stdout"), "stderr": a("ext://sys.stderr")},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False,
                               "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False,
                                "qualname": "gunicorn.access"},
        },
    }


def init_app(app: Flask) -> None:
    """Configure the log for LOG_FORMAT and write one line per webhook."""
    from flask.logging import default_handler

    configurar(app.config.get("LOG_FORMAT") or "text")
    # Flask's own handler would print unhandled errors a second time, message included.
    app.logger.removeHandler(default_handler)
    # The start time is ivr._empezar's (the app's one first hook, shared with the metrics).
    app.after_request(_registrar_webhook)


def anotar(**campos) -> None:
    """Add facts to the current webhook's line (a view knows the call's outcome, for one)."""
    contexto = g._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup
    contexto.setdefault("ivr_campos_webhook", {}).update(campos)


def respuesta(outcome: str, siguiente: str | None = None) -> None:
    """What the answer the view is returning tells Twilio to do (`gather` and the node it
    posts to, `transfer`, `hangup`, `empty`...), said by the view that built it: the line
    then needn't parse the TwiML back. Said last, just before the view returns its answer;
    an answer nobody described is parsed."""
    g._get_current_object().ivr_respuesta_webhook = (  # noqa: SLF001 - one lookup
        {"outcome": outcome, "next": siguiente} if siguiente else {"outcome": outcome})


def _recortar(valor: str | None) -> str | None:
    return valor[:LARGO_MAXIMO] if valor else None


RESULTADOS_HTTP = {403: "refused", 404: "not_found", 405: "method_not_allowed",
                   413: "too_large"}
VERBOS_FINALES = {"Dial": "transfer", "Enqueue": "transfer", "Hangup": "hangup",
                  "Redirect": "redirect", "Reject": "reject"}


def _resultado(respuesta) -> dict:
    """What the answer told Twilio to do: ask (and where the answer goes), transfer, hang up."""
    if respuesta.status_code != 200:
        return {"outcome": RESULTADOS_HTTP.get(respuesta.status_code,
                                               f"http_{respuesta.status_code}")}
    try:
        raiz = ElementTree.fromstring(respuesta.get_data())
    except ElementTree.ParseError:
        return {"outcome": "invalid_twiml"}
    verbos = list(raiz)
    gather = raiz.find("Gather")
    if gather is not None:
        destino = urlsplit(gather.get("action", "")).path.rsplit("/", 1)[-1]
        return {"outcome": "gather", "next": destino}
    for verbo in reversed(verbos):
        if verbo.tag in VERBOS_FINALES:
            return {"outcome": VERBOS_FINALES[verbo.tag]}
    return {"outcome": "say" if verbos else "empty"}


def _es_respuesta(nodo: str, formulario, dial_status: str | None) -> bool:
    """Whether this webhook carries a caller's answer to a <Gather> (silence included); a
    dial's result posted to the transfer node is logged as its dial_status instead."""
    if dial_status:
        return False
    return ("Digits" in formulario or "SpeechResult" in formulario
            or nodo in linea.actual().flujo.nodos)


def _entrada(formulario) -> str:
    if formulario.get("Digits"):
        return "keys"
    if formulario.get("SpeechResult"):
        return "voice"
    return "silence"


def _formulario(peticion) -> dict:
    """The webhook's form (the first value of each field): the one the view read, or read
    now; nothing when its body is over the cap (werkzeug refuses it from the
    Content-Length, unread)."""
    leido = getattr(peticion, "ivr_formulario", None)
    if leido is not None:
        return leido
    try:
        return peticion.form.to_dict()  # a dict's get: the MultiDict's raises for an absent key
    except RequestEntityTooLarge:
        return {}


def _registrar_webhook(respuesta):
    """The webhook's one line: call sid, node, input kind, milliseconds, outcome (never a
    caller's number, keys or words)."""
    peticion = request._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup
    ruta = peticion.path
    if not ruta.startswith("/voice/"):
        return respuesta
    contexto = g._get_current_object()  # noqa: SLF001
    inicio = contexto.get("ivr_inicio")
    ms = round((time.perf_counter() - inicio) * 1000, 1) if inicio else None
    formulario = _formulario(peticion)
    nodo = ruta.rsplit("/", 1)[-1]
    codigo = respuesta.status_code
    dicho = contexto.get("ivr_respuesta_webhook") if codigo == 200 else None
    dial_status = formulario.get("DialCallStatus") or formulario.get("QueueResult")
    campos = {
        "call_sid": _recortar(formulario.get("CallSid")),
        "node": _recortar(nodo),
        "input": (_entrada(formulario) if _es_respuesta(nodo, formulario, dial_status)
                  else None),
        "ms": ms,
        **(dicho or _resultado(respuesta)),
        "status": codigo,
        "call_status": _recortar(formulario.get("CallStatus")) if nodo == "status" else None,
        "dial_status": _recortar(dial_status),
        "twilio_error": _recortar(formulario.get("ErrorCode")),
        **(contexto.get("ivr_campos_webhook") or {}),
    }
    if campos["outcome"] in ("invalid_twiml", "http_500"):
        nivel = logging.ERROR
    elif campos["twilio_error"]:  # Twilio reached the fallback URL: the primary one failed
        nivel = logging.WARNING
    else:
        nivel = logging.INFO
    if log.isEnabledFor(nivel):
        # What log.log(nivel, "webhook", extra=...) does, without its walk up the stack for
        # the caller (findCaller: this frame is it) and its check of each `extra` key.
        marco = sys._getframe()  # noqa: SLF001 - logging's own way to its caller's frame
        registro = log.makeRecord(log.name, nivel, marco.f_code.co_filename, marco.f_lineno,
                                  "webhook", (), None, marco.f_code.co_name)
        registro.campos = campos
        log.handle(registro)
    return respuesta
