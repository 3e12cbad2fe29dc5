"""gunicorn's settings for the web process (read from the working directory by the Procfile's
`gunicorn`): a configuration that can't serve stops it before any worker starts, and
Prometheus counts of every worker add up in one directory."""

import os
import shutil
import sys
import tempfile

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
