"""Database plumbing: URL normalisation, one engine + sessionmaker per app, request sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, g
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

EXTENSION = "ivr_db"
ARCHIVO_SQLITE = "ivr.sqlite3"
# SQLite allows one writer at a time: a second one waits this long for the lock, not fails.
SQLITE_ESPERA_SEGUNDOS = 15
# Pooled PostgreSQL connections are replaced after this long.
RECICLAR_SEGUNDOS = 300
IDLE = TransactionStatus.IDLE
# Execution option of a write that may be its transaction's only statement (db.SOLA): on
# PostgreSQL, when no transaction is open, it goes alone, as a SELECT does.
SOLA = "ivr_sola"


@dataclass(frozen=True)
class BaseDeDatos:
    """What init_app attaches to the app."""

    engine: Engine
    sessionmaker: sessionmaker[Session]


def normalizar_url(url: str) -> str:
    """Accept Heroku-style postgres:// and plain postgresql:// URLs; use the psycopg 3 driver."""
    for prefijo in ("postgres://", "postgresql://"):
        if url.startswith(prefijo):
            return "postgresql+psycopg://" + url[len(prefijo):]
    return url


def url_de(app: Flask) -> str:
    """The app's database URL: DATABASE_URL, else a SQLite file in the instance folder."""
    url = app.config.get("DATABASE_URL")
    if url:
        return normalizar_url(url)
    return f"sqlite:///{Path(app.instance_path) / ARCHIVO_SQLITE}"


def _sqlite_al_conectar(conexion, _registro) -> None:
    cursor = conexion.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def engine_for(url: str, *, pgbouncer: bool = False, **opciones) -> Engine:
    """An engine for this URL, usable outside Flask (CLI, migrations, tests). *pgbouncer*: the
    URL is a PgBouncer in transaction mode, where a prepared statement would reach another
    server connection than the one that prepared it: psycopg prepares none."""
    url = make_url(normalizar_url(url))
    # A database error's message would quote the statement's parameters (CURP, names) into
    # any log or traceback that shows it.
    opciones.setdefault("hide_parameters", True)
    if url.get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_ESPERA_SEGUNDOS}
        if url.database in (None, "", ":memory:"):
            # One shared in-memory database for every thread of the process.
            connect_args["check_same_thread"] = False
            opciones.setdefault("poolclass", StaticPool)
        connect_args.update(opciones.pop("connect_args", {}))
        engine = create_engine(url, connect_args=connect_args, **opciones)
        event.listen(engine, "connect", _sqlite_al_conectar)
        return engine
    # No ping before each checkout (a round trip per webhook): connections are renewed before
    # a server or PgBouncer would drop them idle, and a webhook that meets one dropped anyway
    # is run again on a fresh one (voice._seguro).
    opciones.setdefault("pool_recycle", RECICLAR_SEGUNDOS)
    if pgbouncer:
        opciones["connect_args"] = {**opciones.get("connect_args", {}), "prepare_threshold": None}
    return create_engine(url, **opciones)


# A SELECT that locks rows belongs in the transaction that holds the locks.
_BLOQUEA = re.compile(r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY|KEY\s+SHARE)\b")


def _leer_sin_transaccion(_conexion, cursor, sentencia: str, _parametros, contexto,
                          _executemany) -> None:
    """The engine's listener: each statement SQLAlchemy runs goes alone or in the transaction
    as va_sola says. A statement run by ivr.sentencias (no execution context) is set there,
    from its own options. A connection set to an isolation level by its user is left alone."""
    if contexto is None:
        return
    opciones = contexto.execution_options
    if "isolation_level" not in opciones:
        poner_autocommit(cursor.connection, va_sola(sentencia, opciones))


def poner_autocommit(dbapi, sola: bool) -> None:
    """Outside a transaction, psycopg's autocommit on for a statement that goes alone (*sola*),
    off for one that opens the transaction."""
    if dbapi.info.transaction_status == IDLE and dbapi.autocommit != sola:
        dbapi.autocommit = sola


def va_sola(sentencia: str, opciones) -> bool:
    """PostgreSQL: whether this statement, outside a transaction, runs alone (psycopg's
    autocommit), with no BEGIN round trip before it and no COMMIT after: a SELECT that locks
    nothing, or a write executed with the SOLA option (one statement that is atomic by
    itself: a call's record at its end). Any other statement opens the transaction as usual,
    which lasts until the commit or rollback, and a SOLA write after another write joins it.
    Under READ COMMITTED each statement sees what was committed when it starts, in a
    transaction or not: only the round trips change."""
    return (sentencia.startswith("SELECT") and not _BLOQUEA.search(sentencia)) \
        or bool(opciones.get(SOLA, False))


def init_app(app: Flask) -> None:
    """Create the app's engine and sessionmaker, and close the request's session at teardown."""
    url = url_de(app)
    opciones = {}
    if not url.startswith("sqlite"):
        # Per worker process: at most pool_size + max_overflow connections (README, Scaling).
        opciones = {"pgbouncer": bool(app.config.get("PGBOUNCER")),
                    "pool_size": app.config.get("DATABASE_POOL_SIZE", 5),
                    "max_overflow": app.config.get("DATABASE_MAX_OVERFLOW", 10)}
    engine = engine_for(url, **opciones)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _leer_sin_transaccion)
    app.extensions[EXTENSION] = BaseDeDatos(engine, sessionmaker(engine))
    app.teardown_appcontext(_cerrar)


def engine_de(app: Flask) -> Engine:
    """The app's engine."""
    return app.extensions[EXTENSION].engine


def sessionmaker_de(app: Flask) -> sessionmaker[Session]:
    """The app's sessionmaker."""
    return app.extensions[EXTENSION].sessionmaker


def sesion() -> Session:
    """The session of the current request (or app context), created on first use."""
    # One lookup of each proxy (werkzeug's API): an attribute read through g or current_app
    # costs ten times as much, and a webhook asks for its session several times.
    contexto = g._get_current_object()  # noqa: SLF001
    if "ivr_sesion" not in contexto:
        contexto.ivr_sesion = sessionmaker_de(current_app._get_current_object())()  # noqa: SLF001
    return contexto.ivr_sesion


get_session = sesion


# session.info key: what the session's transaction wrote that is counted (repo.anotados).
ANOTADOS = "ivr_anotados"


def confirmar() -> None:
    """Commit the current request's session (the web layer calls this at the request edge)."""
    s = g._get_current_object().get("ivr_sesion")  # noqa: SLF001 - one lookup, as in sesion
    if s is None:
        return  # the request used no session: nothing to commit
    if not s.in_transaction() and not s.info.get(ANOTADOS):
        # Its statements ran alone (a lookup) and wrote nothing to count: committing would
        # only run the session's transaction machinery over nothing.
        return
    s.commit()


def conexion_perdida(error: BaseException) -> bool:
    """Whether *error* is the database connection having been dropped (server restart, idle
    timeout): the pool has already discarded it, and nothing was done with it."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def descartar() -> None:
    """Roll back the current request's session, if it has one; never raises."""
    s = g._get_current_object().get("ivr_sesion")  # noqa: SLF001 - one lookup, as in sesion
    if s is None:
        return
    try:
        s.rollback()
    except Exception:  # noqa: BLE001 - the database may be down; nothing left to undo then
        pass


def _cerrar(_error: BaseException | None = None) -> None:
    # Closing rolls back whatever was not committed.
    s = g._get_current_object().pop("ivr_sesion", None)  # noqa: SLF001 - as in sesion
    if s is not None:
        s.close()


def upgrade(url: str) -> None:
    """Apply every pending Alembic migration to the database at this URL."""
    from ivr.migrations import upgrade as aplicar

    aplicar(url)
