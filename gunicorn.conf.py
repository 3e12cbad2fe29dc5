"""gunicorn's settings for the web process (read from the working directory by the Procfile's
`gunicorn`): a configuration that can't serve stops it before any worker starts, and
Prometheus counts of every worker add up in one directory."""

import os
import shutil
import sys
import tempfile
import time

if os.environ.get("LOG_FORMAT") == "json":
    # gunicorn's own lines as JSON objects too: a log collector parses every line.
    from ivr.logs import config_de_gunicorn

    logconfig_dict = config_de_gunicorn()


def on_starting(server):
    """Before any worker starts: the configuration checked (one line per problem, instead of
    every worker failing with a traceback), and a clean multiprocess directory (counts of a
    previous run would be added to this one's), created when PROMETHEUS_MULTIPROC_DIR names
    none."""
    from ivr import config

    problemas = config.revisar(config.desde_entorno())
    for problema in problemas:
        server.log.critical("no arranca: %s", problema)
    if problemas:
        sys.exit(1)
    directorio = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directorio:
        directorio = tempfile.mkdtemp(prefix="ivr-metricas-")
        # Workers are forked after this and inherit it; prometheus-client reads it on import.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directorio
    shutil.rmtree(directorio, ignore_errors=True)
    os.makedirs(directorio, exist_ok=True)
    server.log.info("métricas de los workers en %s", directorio)


def child_exit(server, worker):
    """A worker ended: its live gauges no longer count (its counters still do)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The app is loaded in this worker: what it built at start-up (the libraries' modules,
    the flow, the catalog, the ORM's tables: ~100,000 objects) lives as long as the process.
    gc.freeze() takes it out of the garbage collector's scans: a full collection no longer
    stops every thread of the worker for ~40 ms, and each webhook pays less for the
    collections it triggers."""
    import gc

    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    equilibrar_aceptacion(worker)


# A worker waits this long per connection it already holds before it accepts another.
PAUSA_POR_CONEXION = 0.0001
PAUSA_MAXIMA = 0.02


def equilibrar_aceptacion(worker):
    """The worker holding fewer connections accepts the next one.

    Every worker waits on the one listening socket, and whichever wakes first accepts. When
    many connections come at once (a proxy or a load balancer opening its keep-alive pool), a
    worker can end up holding 32 of 50 and the other 18. The connections then stay where they
    landed, so the callers on the fuller worker wait about 1.3 times as long at every step.
    Here a worker waits 0.1 ms per connection it already holds (at most 20 ms) before it
    accepts. The emptier worker gets there first, and the fuller one then finds nothing to
    accept. The wait is a sleep, so the worker's threads keep serving meanwhile. A worker
    class without gthread's connection count is left as it is."""
    aceptar = getattr(worker, "accept", None)
    if aceptar is None or not isinstance(getattr(worker, "nr_conns", None), int):
        return

    def accept(listener):
        if worker.nr_conns:
            time.sleep(min(worker.nr_conns * PAUSA_POR_CONEXION, PAUSA_MAXIMA))
        aceptar(listener)

    worker.accept = accept
