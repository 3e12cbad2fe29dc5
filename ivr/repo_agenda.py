"""Repository of the agenda's way in and out: bulk reads and writes for `ivr import-citas`,
the query of `ivr export-cancelaciones`.

Functions take the session first and never commit. Reads go in a few large batches; rows are
written by COPY on PostgreSQL and by multi-row INSERTs elsewhere, so 100,000 rows cost a few
round trips instead of hundreds of thousands.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Row,
    any_,
    bindparam,
    case,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from ivr.models import Cancelacion, Cita, Derechohabiente, EventoOutbox, Unidad

# Keys per lookup query. PostgreSQL takes them as one array parameter (`= ANY(:claves)`),
# which costs the same to send and plan whatever its length; elsewhere they go in an IN list,
# one parameter each, kept well under SQLite's limit on parameters.
LOTE_ARREGLO = 20_000
LOTE_IN = 500
# The fields of a derechohabiente and of a cita that an import compares and writes.
CAMPOS_PERSONA = ("rfc", "nombre", "primer_apellido", "segundo_apellido", "telefono")
CAMPOS_CITA = ("unidad_id", "ventanilla", "fecha", "hora_inicio", "hora_fin", "estado")

_persona = Derechohabiente.__table__
_unidad = Unidad.__table__
_cita = Cita.__table__
_cancelacion = Cancelacion.__table__


def _es_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _copiar(session: Session, tabla, filas: list[dict]) -> None:
    """Insert rows with PostgreSQL's COPY, in the session's transaction.

    A multi-row INSERT of 100,000 rows spends most of its time in psycopg turning each batch's
    long statement into PostgreSQL's placeholders (in Python, uncached for long statements);
    COPY sends rows with no statement to parse. Python-side scalar defaults, which COPY can't
    know, are filled in here.
    """
    columnas = [c for c in tabla.columns
                if c.name in filas[0] or (c.default is not None and c.default.is_scalar)]
    por_defecto = {c.name: c.default.arg for c in columnas if c.name not in filas[0]}
    nombres = ", ".join(c.name for c in columnas)
    conexion = session.connection().connection.driver_connection
    with conexion.cursor() as cursor, \
            cursor.copy(f"COPY {tabla.name} ({nombres}) FROM STDIN") as copia:
        for fila in filas:
            fila = fila | por_defecto
            copia.write_row([fila[c.name] for c in columnas])


def _donde_en(session: Session, columna, valores: Iterable) -> Iterator:
    """WHERE clauses that together select the rows whose *columna* is one of *valores*."""
    valores = list(valores)
    if _es_postgresql(session):
        for i in range(0, len(valores), LOTE_ARREGLO):
            yield columna == any_(bindparam(None, valores[i:i + LOTE_ARREGLO],
                                            type_=ARRAY(columna.type)))
    else:
        for i in range(0, len(valores), LOTE_IN):
            yield columna.in_(valores[i:i + LOTE_IN])


def personas_por_curp(session: Session, curps: Iterable[str]) -> dict[str, Row]:
    """The stored derechohabientes with these CURPs: curp → (id, *CAMPOS_PERSONA)."""
    columnas = [_persona.c.id, *(_persona.c[c] for c in CAMPOS_PERSONA)]
    encontradas = {}
    for donde in _donde_en(session, _persona.c.curp, curps):
        encontradas.update((fila.curp, fila) for fila in
                           session.execute(select(_persona.c.curp, *columnas).where(donde)).all())
    return encontradas


def unidades_por_nombre(session: Session, nombres: Iterable[str]) -> dict[str, int]:
    """The ids of the stored unidades with these names."""
    encontradas = {}
    for donde in _donde_en(session, _unidad.c.nombre, nombres):
        encontradas.update(session.execute(select(_unidad.c.nombre, _unidad.c.id)
                                           .where(donde)).all())
    return encontradas


def citas_por_clave(session: Session, claves: Iterable[str]) -> dict[str, Row]:
    """The stored citas with these claves: clave → (id, curp of its derechohabiente,
    *CAMPOS_CITA, cancelada_aqui: whether it has a cancellation by phone or agent)."""
    cancelada_aqui = exists().where(_cancelacion.c.cita_id == _cita.c.id)
    encontradas = {}
    for donde in _donde_en(session, _cita.c.clave, claves):
        consulta = (select(_cita.c.clave, _cita.c.id, _persona.c.curp,
                           *(_cita.c[c] for c in CAMPOS_CITA),
                           cancelada_aqui.label("cancelada_aqui"))
                    .join(_persona, _persona.c.id == _cita.c.derechohabiente_id)
                    .where(donde))
        encontradas.update((fila.clave, fila) for fila in session.execute(consulta).all())
    return encontradas


def insertar_personas(session: Session, personas: list[dict]) -> dict[str, int]:
    """Insert derechohabientes (every column but id, keypad forms included); curp → new id."""
    if not personas:
        return {}
    if _es_postgresql(session):
        _copiar(session, _persona, personas)
        ids = {}
        for donde in _donde_en(session, _persona.c.curp, [p["curp"] for p in personas]):
            ids.update(session.execute(select(_persona.c.curp, _persona.c.id).where(donde)).all())
        return ids
    return dict(session.execute(insert(_persona).returning(_persona.c.curp, _persona.c.id),
                                personas).all())


def actualizar_personas(session: Session, personas: list[dict]) -> None:
    """Update derechohabientes by id: each dict holds id and the same columns to set."""
    if personas:
        _actualizar(session, _persona, personas)


def insertar_unidades(session: Session, nombres: list[str]) -> dict[str, int]:
    """Insert unidades by name; name → new id."""
    if not nombres:
        return {}
    return dict(session.execute(insert(_unidad).returning(_unidad.c.nombre, _unidad.c.id),
                                [{"nombre": n} for n in nombres]).all())


def insertar_citas(session: Session, citas: list[dict]) -> None:
    """Insert citas (clave, derechohabiente_id and CAMPOS_CITA; tramite takes its default)."""
    if not citas:
        return
    if _es_postgresql(session):
        _copiar(session, _cita, citas)
    else:
        session.execute(insert(_cita), citas)


def actualizar_citas(session: Session, citas: list[dict]) -> None:
    """Update citas by id with CAMPOS_CITA; a cita with a cancellation stays cancelada.

    The guard is in the statement, not only in the caller's comparison, so a cita cancelled by
    phone between the import's read and this write is still not brought back.
    """
    if not citas:
        return
    cancelada_aqui = exists().where(_cancelacion.c.cita_id == _cita.c.id)
    _actualizar(session, _cita, citas,
                estado=case((cancelada_aqui, "cancelada"), else_=bindparam("_estado")))


def _actualizar(session: Session, tabla, filas: list[dict], **expresiones) -> None:
    # One executemany: the same columns for every row (bind names can't be the columns' own).
    valores = {c: bindparam("_" + c) for c in filas[0] if c != "id"} | expresiones
    session.execute(update(tabla).where(tabla.c.id == bindparam("_id")).values(valores),
                    [{"_" + k: v for k, v in f.items()} for f in filas])


# -- the way out -------------------------------------------------------------------------------


def _entregada_al_sistema():
    """Whether the cancellation's outbox event reached the Sistema de Citas."""
    o = EventoOutbox
    return exists().where(o.cancelacion_id == Cancelacion.id, o.destino == "sistema_citas",
                          o.estado == "entregado")


def cancelaciones_entre(session: Session, desde: datetime, hasta: datetime) -> list[Row]:
    """The cancellations made in [desde, hasta), oldest first, with their cita, unidad, person,
    agent and whether the Sistema de Citas got them."""
    c = Cancelacion
    consulta = (select(Cita.clave, Derechohabiente.curp, c.folio, Cita.fecha, Cita.hora_inicio,
                       Unidad.nombre.label("unidad"), Cita.ventanilla, c.motivo_codigo,
                       c.motivo_texto, c.solicitante_tipo, c.solicitante_nombre, c.canal,
                       c.agente, c.creada_en.label("cancelada_en"),
                       _entregada_al_sistema().label("entregada_al_sistema"))
                .join(Cita, Cita.id == c.cita_id)
                .join(Derechohabiente, Derechohabiente.id == Cita.derechohabiente_id)
                .join(Unidad, Unidad.id == Cita.unidad_id)
                .where(c.creada_en >= desde, c.creada_en < hasta)
                .order_by(c.creada_en, c.id))
    return session.execute(consulta).all()
