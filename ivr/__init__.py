"""Línea ASISSSTE: cancelling personal-loan citas by telephone (Twilio webhooks in Flask)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import FunctionType

from flask import Flask, abort, current_app, g, request

from ivr import config as configuracion

log = logging.getLogger(__name__)
# Twilio's webhooks are a few kilobytes at most, the agents' forms less: a body over this is
# refused before it is read (werkzeug also stops a body without Content-Length here).
CUERPO_MAXIMO = 64 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, database, call-state store, flow and webhooks."""
    app = Aplicacion(__name__, instance_relative_config=True)
    # `/voice//curp` is no webhook: a 404, not a redirect Twilio would follow to another URL
    # than the one it signed (werkzeug's default merges the slashes with a 308).
    app.url_map.merge_slashes = False
    app.config.from_mapping(configuracion.desde_entorno(), MAX_CONTENT_LENGTH=CUERPO_MAXIMO)
    if test_config:
        app.config.from_mapping(test_config)
    from ivr import logs

    # First: every start-up message, a refusal included, goes out in the log's format.
    logs.init_app(app)
    # Every request's first hook: what the log line, the latency histogram and the size cap
    # each did in a hook of their own.
    app.before_request(_empezar)
    problemas = configuracion.revisar(app.config)
    if problemas:
        for problema in problemas:
            log.critical("no arranca: %s", problema)
        # gunicorn prints the message on its own line: one line, what to set.
        raise RuntimeError("configuración inválida: " + "; ".join(problemas))
    for aviso in configuracion.avisos(app.config):
        log.error(aviso)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from ivr import agentes, db, grabaciones, linea, metricas, salud, store, voice

    db.init_app(app)
    store.init_app(app)
    linea.init_app(app)
    voice.init_app(app)
    grabaciones.init_app(app)
    agentes.init_app(app)
    salud.init_app(app)
    metricas.init_app(app)
    return app


class Aplicacion(Flask):
    """Flask, asking once per function whether a hook or a view is a coroutine: Flask asks it
    of each one at every request (inspect's check of the code's flags, six times a webhook),
    and a function's answer never changes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sincronas: set[FunctionType] = set()

    def ensure_sync(self, func):
        if type(func) is FunctionType and func in self._sincronas:
            return func
        resultado = super().ensure_sync(func)
        # Plain functions only (registered once, a bounded set): a bound method may be made
        # anew for each request (a class-based view's), and would be kept forever.
        if resultado is func and type(func) is FunctionType:
            self._sincronas.add(func)
        return resultado


def _empezar() -> None:
    """The request's start time, read by its log line and by the latency histogram; a 413
    from the Content-Length alone, before any view or check reads a byte of the body; then
    whether the histogram times it (a voice webhook past the size cap)."""
    contexto = g._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup each
    peticion = request._get_current_object()  # noqa: SLF001
    contexto.ivr_inicio = time.perf_counter()
    config = current_app._get_current_object().config  # noqa: SLF001
    # The request's limits, the config's, set on it: Flask's request otherwise looks up
    # current_app for each whenever werkzeug asks (eight lookups to read a form).
    tope = peticion.max_content_length = config["MAX_CONTENT_LENGTH"]
    peticion.max_form_memory_size = config["MAX_FORM_MEMORY_SIZE"]
    peticion.max_form_parts = config["MAX_FORM_PARTS"]
    largo = peticion.content_length
    if largo is not None and largo > tope:
        abort(413)
    contexto.ivr_medir = peticion.blueprint == "voice"
