"""ivr.sentencias: the repository's Core statements run as SQLAlchemy would run them, on
PostgreSQL straight on psycopg: same rows, same transaction, listeners, exceptions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from ivr import sentencias
from ivr.models import Llamada, Unidad

AHORA = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
UNIDAD = Unidad.__table__
LLAMADA = Llamada.__table__
_NOMBRES = select(UNIDAD.c.id, UNIDAD.c.nombre).where(UNIDAD.c.nombre.like(bindparam("patron"))) \
    .order_by(UNIDAD.c.id)
_RENOMBRAR = update(UNIDAD).where(UNIDAD.c.nombre == bindparam("antes")) \
    .values(nombre=bindparam("despues"))
_ALTA = insert(UNIDAD).returning(UNIDAD.c.id)
# A JSON value (the call's path) and a value the statement carries itself.
_LLAMADA = insert(LLAMADA).values(desenlace="prueba").returning(LLAMADA.c.ruta, LLAMADA.c.desenlace)


def _directa(sentencia, parametros) -> bool:
    guardada = sentencias._COMPILADAS.get((id(sentencia), frozenset(parametros)))  # noqa: SLF001
    return guardada is not None and guardada[1] is not None


def test_the_same_rows_and_counts_as_sqlalchemys_own_execution(session):
    for nombre in ("Norte", "Nodo"):
        sentencias.ejecutar(session, _ALTA, {"nombre": nombre})
    filas = sentencias.ejecutar(session, _NOMBRES, {"patron": "No%"}).all()
    assert [tuple(f) for f in filas] == [tuple(f) for f in session.connection().execute(
        _NOMBRES, {"patron": "No%"})]
    assert [f[1] for f in filas] == ["Norte", "Nodo"]
    sur = sentencias.ejecutar(session, _ALTA, {"nombre": "Sur"}).scalar()
    assert list(sentencias.ejecutar(session, _NOMBRES, {"patron": "S%"}).scalars()) == [sur]
    assert sentencias.ejecutar(session, _NOMBRES, {"patron": "X%"}).first() is None
    assert sentencias.ejecutar(session, _RENOMBRAR, {"antes": "Sur", "despues": "Sud"}) \
        .rowcount == 1
    fila = sentencias.ejecutar(session, _LLAMADA, {"call_sid": "CA1", "ruta": ["curp", "cita"],
                                                   "iniciada_en": AHORA}).first()
    assert tuple(fila) == (["curp", "cita"], "prueba")
    session.rollback()  # all of it in the session's transaction
    assert session.scalars(select(Unidad.nombre)).all() == []
    if session.get_bind().dialect.name == "postgresql":
        assert _directa(_NOMBRES, {"patron": "X%"}) and _directa(_LLAMADA, {
            "call_sid": 0, "ruta": 0, "iniciada_en": 0})
    else:
        assert not _directa(_NOMBRES, {"patron": "X%"})  # SQLite: SQLAlchemy's own path


def test_the_engines_listeners_hear_each_statement(session, engine):
    oidas = []

    def oir(_conexion, _cursor, sql, parametros, _contexto, _varias):
        oidas.append((sql.split()[0], "A%" in (parametros.values() if isinstance(parametros, dict)
                                               else parametros)))

    event.listen(engine, "before_cursor_execute", oir)
    try:
        sentencias.ejecutar(session, _NOMBRES, {"patron": "A%"})
    finally:
        event.remove(engine, "before_cursor_execute", oir)
    assert oidas == [("SELECT", True)]


def test_a_database_error_is_sqlalchemys_exception(session):
    sentencias.ejecutar(session, _ALTA, {"nombre": "Centro"})
    session.commit()
    alta = insert(UNIDAD).values(id=bindparam("id"))
    (id_,) = session.scalars(select(Unidad.id)).all()
    with pytest.raises(IntegrityError):
        sentencias.ejecutar(session, alta, {"id": id_, "nombre": "Otra"})
    session.rollback()
    assert session.scalars(select(Unidad.nombre)).all() == ["Centro"]


@pytest.mark.postgres
def test_a_connection_the_server_dropped_is_invalidated_and_replaced(postgres_url):
    from ivr.db import engine_for
    from ivr.models import Base

    engine = engine_for(postgres_url, pool_size=1, max_overflow=0)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as s:
            sentencias.ejecutar(s, _NOMBRES, {"patron": "%"}).all()
            pid = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            s.commit()
        otro = engine_for(postgres_url)
        with otro.connect() as otra:
            otra.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        otro.dispose()
        with Session(engine) as s, pytest.raises(DBAPIError) as error:
            sentencias.ejecutar(s, _NOMBRES, {"patron": "%"})
        assert error.value.connection_invalidated
        with Session(engine) as s:  # the pool gives a new connection
            assert sentencias.ejecutar(s, _NOMBRES, {"patron": "%"}).all() == []
            assert s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    finally:
        with engine.begin() as conexion:
            conexion.execute(text("DELETE FROM unidad"))
        engine.dispose()
