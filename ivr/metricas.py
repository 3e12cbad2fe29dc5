"""Prometheus metrics: what is counted, and `/metrics` for a scraper holding METRICS_TOKEN.

Under gunicorn each worker is its own process: with PROMETHEUS_MULTIPROC_DIR set (the
gunicorn config does it) every worker writes its counts to files there and a scrape adds them
up (prometheus-client's multiprocess mode). Without it (`ivr run`, `ivr call`, the tests) the
counts live in this process.

Calls, cancellations and transfers are counted from what the database commits: the repository
notes in the session what it wrote (repo.anotados), and it is counted when that session
commits, so every path that records one — the phone, the agents' page — counts it once, and
a rolled-back transaction counts nothing.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from ivr import linea
from ivr.repo import ANOTADOS

log = logging.getLogger(__name__)
bp = Blueprint("metricas", __name__)
# The `_created` series exist only in single-process mode: without them the scrape reads the
# same under gunicorn and in development.
disable_created_metrics()

WEBHOOK_SEGUNDOS = Histogram(
    "ivr_webhook_seconds", "Tiempo de respuesta de cada webhook de Twilio, por nodo.", ["nodo"],
    # Twilio waits 15 s; our webhooks take milliseconds: the buckets look where it matters.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0))
LLAMADAS = Counter("ivr_llamadas", "Llamadas terminadas, por desenlace.", ["desenlace"])
CANCELACIONES = Counter("ivr_cancelaciones", "Citas canceladas, por canal.", ["canal"])
TRANSFERENCIAS = Counter("ivr_transferencias", "Transferencias a agentes, por razón.", ["razon"])


def init_app(app: Flask) -> None:
    """Time the voice webhooks, count what the app's sessions commit, serve /metrics."""
    from ivr import db

    # The start time and whether to time the request are ivr._empezar's (the app's one
    # first hook).
    app.teardown_request(_medir)
    fabrica = db.sessionmaker_de(app)
    event.listen(fabrica, "after_commit", _contar)
    event.listen(fabrica, "after_rollback", _olvidar)
    app.register_blueprint(bp)


# -- webhook latency ---------------------------------------------------------------------------


# A child per node, kept: labels() looks it up under a lock, from its keyword, each time.
_POR_NODO: dict[str, object] = {}


def _medir(_error: BaseException | None = None) -> None:
    contexto = g._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup
    inicio = contexto.pop("ivr_inicio", None)
    if contexto.pop("ivr_medir", False) and inicio is not None:
        nodo = _nodo(request._get_current_object())  # noqa: SLF001
        hijo = _POR_NODO.get(nodo)
        if hijo is None:
            hijo = _POR_NODO[nodo] = WEBHOOK_SEGUNDOS.labels(nodo=nodo)
        hijo.observe(time.perf_counter() - inicio)


def _nodo(peticion) -> str:
    """The label of this webhook: the flow node, or the webhook's name. Bounded: a node that
    is not in the flow (someone probing /voice/xyz) is 'desconocido'."""
    nodo = (peticion.view_args or {}).get("nodo")
    if nodo is None:
        return (peticion.endpoint or "desconocido").rsplit(".", 1)[-1]
    return nodo if nodo in linea.actual().flujo.nodos else "desconocido"


# -- what the database commits -----------------------------------------------------------------


def _contar(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    pendientes = session.info.pop(ANOTADOS, None)
    if not pendientes:
        return
    for canal in pendientes["cancelaciones"]:
        CANCELACIONES.labels(canal=canal).inc()
    for razon in pendientes["transferencias"]:
        TRANSFERENCIAS.labels(razon=razon).inc()
    for desenlace in pendientes["llamadas"].values():
        LLAMADAS.labels(desenlace=desenlace or "desconocido").inc()


def _olvidar(session) -> None:
    if session.in_nested_transaction():
        return  # only the savepoint's work is undone
    session.info.pop(ANOTADOS, None)


# -- the scrape --------------------------------------------------------------------------------


class _OutboxPendientes:
    """`ivr_outbox_pendientes`, read from the database at scrape time (a count kept in each
    worker's memory would be wrong as soon as another process delivers an event)."""

    def __init__(self, contar):
        self.contar = contar

    def collect(self):
        pendientes = self.contar()
        if pendientes is None:
            return
        familia = GaugeMetricFamily("ivr_outbox_pendientes",
                                    "Eventos del outbox que esperan ser entregados.")
        familia.add_metric([], pendientes)
        yield familia


def registro_de_scrape(contar_pendientes=None) -> CollectorRegistry:
    """What one scrape reads: every worker's counts (multiprocess) or this process's, and the
    gauges computed now."""
    registro = CollectorRegistry()
    directorio = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directorio:
        MultiProcessCollector(registro, path=directorio)
    else:
        registro.register(_Proceso())
    if contar_pendientes is not None:
        registro.register(_OutboxPendientes(contar_pendientes))
    return registro


class _Proceso:
    """This process's default registry, as one collector."""

    def collect(self):
        return REGISTRY.collect()


def _autorizado() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    dado = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(dado.encode(), f"Bearer {token}".encode())


def _pendientes_del_outbox() -> int | None:
    """Events still to deliver, now; None when the database doesn't answer (the series is
    then absent from this scrape, and /readyz says why)."""
    from ivr import db, repo_outbox

    try:
        return repo_outbox.outbox_pendientes(db.sesion())
    except SQLAlchemyError as e:
        db.descartar()
        log.warning("métricas sin ivr_outbox_pendientes: %s", type(e).__name__)
        return None


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus text format; 404 to anyone without the bearer token (no hint it exists)."""
    if not _autorizado():
        abort(404)
    registro = registro_de_scrape(_pendientes_del_outbox)
    return Response(generate_latest(registro), content_type=CONTENT_TYPE_LATEST)
