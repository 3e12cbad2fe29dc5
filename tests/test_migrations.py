"""Alembic migrations build exactly the schema of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from ivr import db, migrations
from ivr.db import engine_for
from ivr.models import Base

ESQUEMA_PG = "ivr_migraciones"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_vacia(request, tmp_path):
    """An empty database: a new SQLite file, or a new schema of the PostgreSQL test database
    (so the tables other tests create in `public` don't get in the way)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrada.sqlite3'}"
        return
    base = request.getfixturevalue("postgres_url")
    admin = engine_for(base)
    with admin.begin() as conexion:
        conexion.execute(text(f"DROP SCHEMA IF EXISTS {ESQUEMA_PG} CASCADE"))
        conexion.execute(text(f"CREATE SCHEMA {ESQUEMA_PG}"))
    url = make_url(db.normalizar_url(base)).update_query_dict(
        {"options": f"-csearch_path={ESQUEMA_PG}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conexion:
        conexion.execute(text(f"DROP SCHEMA IF EXISTS {ESQUEMA_PG} CASCADE"))
    admin.dispose()


def diferencias(url: str) -> list:
    engine = engine_for(url)
    try:
        with engine.connect() as conexion:
            contexto = MigrationContext.configure(conexion, opts={"compare_type": True})
            return compare_metadata(contexto, Base.metadata)
    finally:
        engine.dispose()


def tablas(url: str) -> set[str]:
    engine = engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_en_base_vacia_da_el_esquema_de_los_modelos(url_vacia):
    db.upgrade(url_vacia)
    assert tablas(url_vacia) == set(Base.metadata.tables) | {"alembic_version"}
    assert diferencias(url_vacia) == []


def test_upgrade_dos_veces_no_hace_nada(url_vacia):
    db.upgrade(url_vacia)
    db.upgrade(url_vacia)
    assert diferencias(url_vacia) == []


def test_downgrade_a_base_quita_todo(url_vacia):
    db.upgrade(url_vacia)
    migrations.downgrade(url_vacia, "base")
    assert tablas(url_vacia) == {"alembic_version"}


def test_una_sola_cabeza():
    scripts = ScriptDirectory.from_config(migrations.config("sqlite://"))
    # A linear chain: one head, and every revision but the first revises exactly one other.
    assert len(scripts.get_heads()) == 1
    assert [r.down_revision for r in scripts.walk_revisions()][-1] is None
    assert all(isinstance(r.down_revision, str) for r in list(scripts.walk_revisions())[:-1])
