"""Línea ASISSSTE: cancelling personal-loan citas by telephone (Twilio webhooks in Flask)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from ivr import config as configuracion


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, database, call-state store, flow and webhooks."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(configuracion.desde_entorno())
    if test_config:
        app.config.from_mapping(test_config)
    problemas = configuracion.revisar(app.config)
    if problemas:
        raise RuntimeError("configuración inválida:\n  - " + "\n  - ".join(problemas))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        # Alembic narrates every plugin it loads; `ivr db upgrade` says the outcome itself.
        logging.getLogger("alembic").setLevel(logging.WARNING)

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
