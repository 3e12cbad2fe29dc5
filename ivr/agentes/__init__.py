"""The agents' page (/agent/): its blueprint, the URL table, and init_app.

`acceso` holds login, sessions, hardening and the `ivr create-agent` command; `vistas` the
list, a transfer's context, the search and the cancel form; `devoluciones` the callbacks list;
`entregas` the cancellations' news that died undelivered (the outbox's dead events);
`supervision` the supervisors' report;
`formato` how dates, names and numbers are written. Every query is in ivr/repo_agentes (and
ivr/repo_devoluciones for callbacks).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Blueprint
from flask_wtf.csrf import CSRFError

from ivr.agentes import acceso, devoluciones, entregas, supervision, vistas
from ivr.agentes.acceso import crear_agente_command

__all__ = ["bp", "crear_agente_command", "init_app"]

log = logging.getLogger(__name__)
# Static files live in ivr/static, served under /agent/static.
bp = Blueprint("agentes", __name__, url_prefix="/agent",
               static_folder=str(Path(__file__).resolve().parent.parent / "static"),
               static_url_path="/static")

# One table of every URL of the page (endpoint = the view's name). Ids in URLs fit the
# database's integer columns: a larger one is a plain 404, not an overflow in the driver.
ID = "int(max=2147483647)"
RUTAS = [
    ("/entrar", acceso.entrar, ["GET", "POST"]),
    ("/salir", acceso.salir, ["POST"]),
    ("/", vistas.lista, ["GET"]),
    ("/transferencias.json", vistas.transferencias_json, ["GET"]),
    (f"/transferencias/<{ID}:transferencia_id>", vistas.detalle, ["GET"]),
    (f"/transferencias/<{ID}:transferencia_id>/buscar", vistas.buscar, ["POST"]),
    (f"/transferencias/<{ID}:transferencia_id>/cancelar", vistas.cancelar, ["POST"]),
    (f"/transferencias/<{ID}:transferencia_id>/atendida", vistas.atendida, ["POST"]),
    ("/devoluciones", devoluciones.llamar_de_vuelta, ["GET"]),
    (f"/devoluciones/<{ID}:devolucion_id>/llamado", devoluciones.llamado, ["POST"]),
    ("/no-entregados", entregas.no_entregados, ["GET"]),
    (f"/no-entregados/<{ID}:evento_id>/reintentar", entregas.reintentar_entrega, ["POST"]),
    ("/informe", supervision.ver_informe, ["GET"]),
    ("/informe.csv", supervision.informe_csv, ["GET"]),
]
for _regla, _vista, _metodos in RUTAS:
    bp.add_url_rule(_regla, view_func=_vista, methods=_metodos)
bp.before_request(acceso.guardia)
bp.after_request(acceso.cabeceras)
bp.register_error_handler(CSRFError, acceso.csrf_invalido)
bp.context_processor(devoluciones.en_la_barra)
bp.context_processor(entregas.en_la_barra)


def init_app(app) -> None:
    """Register the page with its login, CSRF scoped to its forms, and session hardening."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        if app.config.get("AVISOS_DE_SERVIDOR", True):
            log.warning("SECRET_KEY no está configurada: se generó una al azar; las sesiones de "
                        "los agentes no sobreviven a un reinicio ni se comparten entre varios "
                        "workers")
    vida = app.config.get("AGENT_SESSION_LIFETIME") or timedelta(hours=8)
    app.config["AGENT_SESSION_LIFETIME"] = vida
    app.config.setdefault("AGENT_IDLE_TIMEOUT", timedelta(hours=1))
    app.config.setdefault("AGENT_REFRESH_SECONDS", 5)
    app.config["PERMANENT_SESSION_LIFETIME"] = vida
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if (app.config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
        # Flask's default is False, so this is set, not defaulted: the cookie never goes
        # over plain http when the page is served over https.
        app.config["SESSION_COOKIE_SECURE"] = True
    acceso.init_app(app, bp)
    app.register_blueprint(bp)
