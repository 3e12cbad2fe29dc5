"""Alembic environment: runs the migrations on the URL given by ivr.migrations.config()."""

from __future__ import annotations

from alembic import context

from ivr import models
from ivr.db import engine_for

config = context.config
target_metadata = models.Base.metadata


# Batch mode lets later migrations alter tables on SQLite too.
OPCIONES = {"target_metadata": target_metadata, "render_as_batch": True, "compare_type": True}


def correr_offline() -> None:
    context.configure(url=config.attributes["url"], literal_binds=True, **OPCIONES)
    with context.begin_transaction():
        context.run_migrations()


def correr_online() -> None:
    conexion = config.attributes.get("connection")
    if conexion is not None:
        context.configure(connection=conexion, **OPCIONES)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_for(config.attributes["url"])
    try:
        with engine.connect() as conexion:
            context.configure(connection=conexion, **OPCIONES)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    correr_offline()
else:
    correr_online()
