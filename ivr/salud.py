"""Health checks for the platform: /healthz (the process answers) and /readyz (its database and
Redis answer within a second). No signature, no personal data."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("salud", __name__)
PLAZO_SEGUNDOS = 1.0


def init_app(app: Flask) -> None:
    """Register /healthz and /readyz."""
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz():
    """The process is alive: no dependency is consulted, so it is always 200."""
    return jsonify(vivo=True)


def _base_de_datos(app: Flask) -> str:
    from ivr import db

    with db.engine_de(app).connect() as conexion:
        conexion.execute(text("SELECT 1"))
    return "ok"


def _redis(app: Flask) -> str:
    from ivr.store import MemoryStore

    store = app.extensions["ivr_store"]
    if isinstance(store, MemoryStore):
        # Without REDIS_URL the state lives in this process: up as long as the process is.
        return "ok (en este proceso, sin REDIS_URL)"
    store.cliente.ping()
    return "ok"


def comprobar(app: Flask, plazo: float = PLAZO_SEGUNDOS) -> dict[str, str]:
    """Each dependency's answer, checked at the same time: "ok…", or why it failed (the
    exception's type only: messages may carry connection details)."""
    comprobaciones = {"base_de_datos": _base_de_datos, "redis": _redis}
    # Not a `with` block: leaving it would wait for a check that hangs past the deadline. A
    # hung check ends on its own driver timeout; nobody waits for it.
    hilos = ThreadPoolExecutor(max_workers=len(comprobaciones), thread_name_prefix="readyz")
    futuros = {nombre: hilos.submit(fn, app) for nombre, fn in comprobaciones.items()}
    hilos.shutdown(wait=False)
    wait(futuros.values(), timeout=plazo)
    resultado = {}
    for nombre, futuro in futuros.items():
        if not futuro.done():
            resultado[nombre] = f"sin respuesta en {plazo:g} s"
        elif futuro.exception() is not None:
            resultado[nombre] = f"falla: {type(futuro.exception()).__name__}"
        else:
            resultado[nombre] = futuro.result()
    return resultado


@bp.get("/readyz")
def readyz():
    """200 when the database and Redis both answer within a second; else 503 naming which
    failed."""
    inicio = time.perf_counter()
    resultado = comprobar(current_app._get_current_object())
    fallan = sorted(n for n, r in resultado.items() if not r.startswith("ok"))
    cuerpo = {"listo": not fallan, "fallan": fallan, "comprobaciones": resultado,
              "ms": round((time.perf_counter() - inicio) * 1000)}
    return jsonify(cuerpo), 503 if fallan else 200
