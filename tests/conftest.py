"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ivr.db import engine_for
from ivr.models import Base

pytest_plugins = ["tests.llamadas", "tests.cluster_redis"]

# Property-based tests: a few examples each in `./dev test`, the same on every run; the probe's
# size with `--hypothesis-profile=sondeo` (tests/test_sondeo.py says how much that is).
settings.register_profile("ivr", max_examples=20, derandomize=True, database=None,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("sondeo", max_examples=700, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ivr")

# -- database ------------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL test database's URL; the test is skipped when the server doesn't answer."""
    engine = engine_for(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except OperationalError as e:
        pytest.skip(f"PostgreSQL no disponible en {POSTGRES_URL} (TEST_POSTGRES_URL): "
                    f"{type(e.orig).__name__}")
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                              marks=pytest.mark.postgres)])
def db_url(request, tmp_path_factory) -> str:
    """A database URL: a fresh SQLite file, and the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ivr.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module")
def _engine_del_modulo(db_url):
    engine = engine_for(db_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def vaciar(engine) -> None:
    """Delete every row of every table of the models."""
    tablas = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conexion:
        if engine.dialect.name == "postgresql":
            nombres = ", ".join(t.name for t in tablas)
            conexion.execute(text(f"TRUNCATE {nombres} RESTART IDENTITY CASCADE"))
        else:
            for tabla in tablas:
                conexion.execute(tabla.delete())


@pytest.fixture
def engine(_engine_del_modulo):
    """An engine on `db_url` with the schema of the models (created once per module), emptied
    after each test."""
    yield _engine_del_modulo
    vaciar(_engine_del_modulo)


@pytest.fixture
def session(engine):
    """A session on `engine`; what the test leaves uncommitted is rolled back."""
    with Session(engine) as s:
        yield s
