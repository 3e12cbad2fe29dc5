"""Running the repository's Core statements: on PostgreSQL, compiled once and sent straight to
psycopg; on any other database, through SQLAlchemy's execution as usual.

A webhook runs one to three statements that are always the same ones, with new values. Going
through `Connection.execute` each time costs more CPU in SQLAlchemy than the round trip costs
in psycopg (the compiled cache looked up, the parameters built and processed, a result object
set up with its metadata): that work is done here once per statement and set of parameter
names, and what is left per execution is psycopg's. What SQLAlchemy's execution gives the rest
of the app is kept: the statement runs on the session's connection, in its transaction; the
engine's `before_cursor_execute`/`after_cursor_execute` listeners hear it; a database error is
raised as SQLAlchemy's exception (IntegrityError, OperationalError...), and a connection the
server dropped is invalidated, as `Connection.execute` does.

Statements whose values or rows need SQLAlchemy's processing beyond what psycopg does by
itself (an expanding IN, a type with a result processor) take SQLAlchemy's path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ivr import db


class Filas:
    """The rows a statement returned (fetched at once: the phone's are a handful), with the
    part of SQLAlchemy's result API the repository uses."""

    __slots__ = ("filas", "rowcount")

    def __init__(self, filas: list[tuple], rowcount: int):
        self.filas = filas
        self.rowcount = rowcount

    def __iter__(self):
        return iter(self.filas)

    def all(self) -> list[tuple]:
        return self.filas

    def first(self) -> tuple | None:
        return self.filas[0] if self.filas else None

    def scalar(self) -> Any:
        return self.filas[0][0] if self.filas else None

    def scalars(self) -> list:
        return [fila[0] for fila in self.filas]


@dataclass(frozen=True, slots=True)
class _Compilada:
    """A statement as psycopg takes it, for one set of parameter names."""

    sql: str
    fijos: dict[str, Any]  # the values the statement carries itself ("agendada"...)
    procesar: tuple[tuple[str, Callable], ...]  # bind processors psycopg needs run (JSON)
    sola: bool  # it runs alone when no transaction is open (db.va_sola, from its options)


# (id of the statement, its parameter names) -> (the statement, its compiled form or None for
# SQLAlchemy's path). The statement is kept: an id is only unique while its object lives.
_COMPILADAS: dict[tuple[int, frozenset], tuple[Any, _Compilada | None]] = {}


def ejecutar(session: Session, sentencia, parametros: dict):
    """Run a Core statement (of tables, not mapped classes) in the session's transaction; its
    rows as `Filas` (or SQLAlchemy's result, off PostgreSQL).

    On PostgreSQL, a statement that goes alone (a plain SELECT, a SOLA write: db.SOLA) while
    the session has begun no transaction runs on a pooled connection of its own, taken and
    given back around it, as the session would have done, without the session's transaction
    machinery around it (a lookup step's webhook, a call's end): nothing of the session's is
    uncommitted then, so it sees and does the same."""
    engine = session.get_bind()
    if engine.dialect.driver != "psycopg":
        return session.connection().execute(sentencia, parametros)
    clave = (id(sentencia), frozenset(parametros))
    guardada = _COMPILADAS.get(clave)
    if guardada is None or guardada[0] is not sentencia:
        guardada = _COMPILADAS[clave] = (sentencia, _compilar(engine.dialect, sentencia,
                                                             parametros))
    compilada = guardada[1]
    if compilada is None:
        return session.connection().execute(sentencia, parametros)
    if compilada.sola and not session.in_transaction():
        with engine.connect() as conexion:
            return _directo(conexion, compilada, parametros)
    return _directo(session.connection(), compilada, parametros)


def _compilar(dialecto, sentencia, parametros: dict) -> _Compilada | None:
    compilada = sentencia.compile(dialect=dialecto, column_keys=list(parametros))
    if compilada.escaped_bind_names or any(b.expanding for b in compilada.binds.values()):
        return None  # names psycopg can't take as they are, or an IN list rendered per call
    for columna in getattr(sentencia, "exported_columns", ()):
        if columna.type.dialect_impl(dialecto).result_processor(dialecto, None) is not None:
            return None  # rows that need converting
    procesar = []
    fijos = {}
    for nombre, bind in compilada.binds.items():
        procesador = bind.type.dialect_impl(dialecto).bind_processor(dialecto)
        if procesador is not None:
            procesar.append((nombre, procesador))
        if nombre not in parametros:
            fijos[nombre] = bind.effective_value
    return _Compilada(compilada.string, fijos, tuple(procesar),
                      db.va_sola(compilada.string, sentencia.get_execution_options()))


def _directo(conexion: Connection, compilada: _Compilada, parametros: dict) -> Filas:
    valores = {**compilada.fijos, **parametros}
    for nombre, procesador in compilada.procesar:
        valores[nombre] = procesador(valores[nombre])
    dbapi = conexion.connection.dbapi_connection
    cursor = dbapi.cursor()
    sql = compilada.sql
    conexion.dispatch.before_cursor_execute(conexion, cursor, sql, valores, None, False)
    if "isolation_level" not in conexion.get_execution_options():
        db.poner_autocommit(dbapi, compilada.sola)
    try:
        cursor.execute(sql, valores)
        resultado = cursor.pgresult  # rows or not, without building `description`
        filas = cursor.fetchall() if resultado is not None and resultado.nfields else []
        rowcount = cursor.rowcount
    except psycopg.Error as e:
        # As SQLAlchemy's own execution raises it: its exception class, and a connection the
        # server dropped invalidated (the pool then replaces it; voice._seguro runs the
        # webhook again on a new one).
        perdida = conexion.dialect.is_disconnect(e, dbapi, cursor)
        if perdida:
            conexion.invalidate(e)
        raise DBAPIError.instance(sql, valores, e, psycopg.Error, hide_parameters=True,
                                  connection_invalidated=perdida,
                                  dialect=conexion.dialect) from e
    finally:
        cursor.close()
    conexion.dispatch.after_cursor_execute(conexion, cursor, sql, valores, None, False)
    return Filas(filas, rowcount)
