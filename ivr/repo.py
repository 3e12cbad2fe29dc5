"""Repository: lookups of derechohabientes and citas, the atomic cancellation, call records.

Functions take the session first and never commit (the web layer commits at the request edge).
What they write that the metrics count (a cancellation, a transfer, a call's end) they note in
the session (`anotados`), to be counted if and when that transaction commits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time

from sqlalchemy import (
    Integer,
    and_,
    any_,
    bindparam,
    delete,
    event,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ivr import sentencias
from ivr.db import ANOTADOS, SOLA
from ivr.domain.documento import normalizar
from ivr.domain.folio import nuevo_folio
from ivr.models import (
    MEXICO,
    Cancelacion,
    Cita,
    Derechohabiente,
    EventoOutbox,
    Llamada,
    Transferencia,
    Unidad,
    ahora_utc,
)

INTENTOS_FOLIO = 10


def anotados(session: Session) -> dict:
    """What the session's transaction wrote that is counted: the cancellations' channels, the
    transfers' reasons, and the calls that ended (call_sid -> outcome). Whoever counts takes
    it at the commit and drops it at a rollback (ivr.metricas)."""
    notas = session.info.get(ANOTADOS)
    if notas is None:
        notas = session.info[ANOTADOS] = {"cancelaciones": [], "transferencias": [],
                                          "llamadas": {}}
    return notas


# INSERT with ON CONFLICT, for each database.
_INSERTAR = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def _dialecto(session: Session) -> str:
    return session.get_bind().dialect.name


def _ejecutar(session: Session, sentencia, parametros: dict):
    """Run a Core statement (of tables, not mapped classes) on the session's connection, in
    its transaction: what loads no objects skips the ORM's execution and result machinery,
    and on PostgreSQL most of Core's too (ivr.sentencias)."""
    return sentencias.ejecutar(session, sentencia, parametros)


@dataclass(frozen=True, slots=True)
class CancelacionEscrita:
    """The cancellation record cancelar_cita just wrote, as values (what the outbox's events
    are written from): an ORM object would cost its instrumentation for nothing."""

    id: int
    cita_id: int
    folio: str
    solicitante_tipo: str
    solicitante_nombre: str | None
    motivo_codigo: int
    motivo_texto: str
    canal: str
    call_sid: str | None
    agente: str | None
    creada_en: datetime


@dataclass(frozen=True)
class ResultadoCancelacion:
    """What cancelar_cita did: 'cancelada' | 'ya_cancelada' | 'no_cancelable', and the folio;
    `nueva` when this call wrote the cancellation (not a repeat or a race lost)."""

    resultado: str
    folio: str | None
    cancelacion: Cancelacion | CancelacionEscrita | None = field(default=None, compare=False)
    nueva: bool = field(default=False, compare=False)


# The column of a document's keypad form, by its number of keys (CURP 18, RFC 13).
_TECLAS_DE = {18: Derechohabiente.curp_teclas, 13: Derechohabiente.rfc_teclas}
_DERECHOHABIENTE = Derechohabiente.__table__
_PERSONA = _DERECHOHABIENTE.c
_IDS_POR_TECLAS = {
    largo: select(_PERSONA.id).where(_PERSONA[columna.key] == bindparam("teclas"))
    .order_by(_PERSONA.id)
    for largo, columna in _TECLAS_DE.items()}


def _por_teclas(teclas: str):
    """The condition of buscar_por_teclas, None when no document has this many keys."""
    columna = _TECLAS_DE.get(len(teclas))
    return None if columna is None else columna == teclas


def buscar_por_teclas(session: Session, teclas: str) -> list[Derechohabiente]:
    """Derechohabientes whose CURP (18 keys) or RFC (13 keys) has this keypad form."""
    condicion = _por_teclas(teclas)
    if condicion is None:
        return []
    return list(session.scalars(select(Derechohabiente).where(condicion)
                                .order_by(Derechohabiente.id)))


def ids_por_teclas(session: Session, teclas: str) -> list[int]:
    """The ids of buscar_por_teclas's derechohabientes (no object loaded: the phone needs
    only who they are)."""
    sentencia = _IDS_POR_TECLAS.get(len(teclas))
    if sentencia is None:
        return []
    return list(_ejecutar(session, sentencia, {"teclas": teclas}).scalars())


def buscar_por_documento(session: Session, documento: str) -> list[Derechohabiente]:
    """Derechohabientes with exactly this CURP or RFC (after normalising it)."""
    documento = normalizar(documento or "")
    if not documento:
        return []
    return list(session.scalars(
        select(Derechohabiente)
        .where(or_(Derechohabiente.curp == documento, Derechohabiente.rfc == documento))
        .order_by(Derechohabiente.id)))


def _hoy_y_hora(ahora: datetime) -> tuple[date, time]:
    """`ahora` as Mexico City's date and wall time, the terms _NO_INICIADA compares in."""
    if ahora.tzinfo is None:
        raise ValueError("ahora debe tener zona horaria")
    local = ahora.astimezone(MEXICO)
    return local.date(), local.time().replace(tzinfo=None)


# The phone's statements are built once, with their values as parameters: building one costs
# more than running it (and its cache key is then computed once).

# The cita starts after the instant given as Mexico City's date and time (_hoy_y_hora).
_NO_INICIADA = or_(Cita.fecha > bindparam("hoy"),
                   and_(Cita.fecha == bindparam("hoy"), Cita.hora_inicio > bindparam("hora")))


def citas_cancelables(session: Session, derechohabiente_id: int, ahora: datetime) -> list[Cita]:
    """The derechohabiente's citas still agendadas and not yet started, in date order."""
    hoy, hora = _hoy_y_hora(ahora)
    return list(session.scalars(_CITAS_CANCELABLES, {"derechohabiente_id": derechohabiente_id,
                                                     "hoy": hoy, "hora": hora}))


_CITAS_CANCELABLES = (
    select(Cita)
    .where(Cita.derechohabiente_id == bindparam("derechohabiente_id"), Cita.estado == "agendada",
           _NO_INICIADA)
    .order_by(Cita.fecha, Cita.hora_inicio, Cita.id))


@dataclass(frozen=True, slots=True)
class CitaLeida:
    """A cita as the phone reads it: its values, and its unidad's name (no ORM object)."""

    id: int
    clave: str
    unidad_id: int
    ventanilla: str
    fecha: date
    hora_inicio: time
    hora_fin: time
    tramite: str
    estado: str
    unidad: str | None  # the unidad's name


@dataclass(frozen=True)
class Candidato:
    """Someone a CURP or RFC matched: the surname to check, and the citas they could cancel
    (agendadas and not started, in date order)."""

    id: int
    primer_apellido: str
    apellido_teclas: str
    citas: list[CitaLeida]


_CITA = Cita.__table__
_UNIDAD = Unidad.__table__
# CitaLeida's columns, in its order.
_CITA_LEIDA = (_CITA.c.id, _CITA.c.clave, _CITA.c.unidad_id, _CITA.c.ventanilla, _CITA.c.fecha,
               _CITA.c.hora_inicio, _CITA.c.hora_fin, _CITA.c.tramite, _CITA.c.estado,
               _UNIDAD.c.nombre)
_CON_UNIDAD = _CITA.outerjoin(_UNIDAD, _UNIDAD.c.id == _CITA.c.unidad_id)


@functools.cache
def _candidatos_con_citas(dialecto: str):
    """candidatos_con_citas's statement. The ids: on PostgreSQL one array parameter (`=
    ANY`), the same SQL whatever their number; elsewhere an IN list, rendered for each call."""
    ids = (_PERSONA.id == any_(bindparam("ids", type_=ARRAY(Integer)))
           if dialecto == "postgresql" else _PERSONA.id.in_(bindparam("ids", expanding=True)))
    return (
        select(_PERSONA.id, _PERSONA.primer_apellido, _PERSONA.apellido_teclas, *_CITA_LEIDA)
        .select_from(_DERECHOHABIENTE
                     .outerjoin(_CITA, and_(_CITA.c.derechohabiente_id == _PERSONA.id,
                                            _CITA.c.estado == "agendada", _NO_INICIADA))
                     .outerjoin(_UNIDAD, _UNIDAD.c.id == _CITA.c.unidad_id))
        .where(ids)
        .order_by(_PERSONA.id, _CITA.c.fecha, _CITA.c.hora_inicio, _CITA.c.id))


_CITA_CON_UNIDAD = (select(*_CITA_LEIDA).select_from(_CON_UNIDAD)
                    .where(_CITA.c.id == bindparam("cita_id")))
LEIDAS = "ivr_citas_leidas"  # session.info key: {cita id: CitaLeida}


def _leidas(session: Session) -> dict[int, CitaLeida]:
    """The citas this session read in its current transaction, or before it began (alone,
    ivr.sentencias: nothing of the session's was uncommitted then): emptied when that
    transaction ends (_olvidar_leidas), a commit with none begun included, and by a
    cancellation."""
    leidas = session.info.get(LEIDAS)
    if leidas is None:
        leidas = session.info[LEIDAS] = {}
    return leidas


@event.listens_for(Session, "after_transaction_end")
def _olvidar_leidas(session: Session, transaccion) -> None:
    if transaccion.parent is None:  # the session's own transaction, not a savepoint
        session.info.pop(LEIDAS, None)


def candidatos_con_citas(session: Session, ids: list[int], ahora: datetime) -> list[Candidato]:
    """These derechohabientes (by id) with their cancellable citas, in one query. The citas
    are kept for the session's transaction: reading one back (cita_leida) then needs no
    query."""
    hoy, hora = _hoy_y_hora(ahora)
    filas = _ejecutar(session, _candidatos_con_citas(_dialecto(session)),
                      {"ids": ids, "hoy": hoy, "hora": hora})
    candidatos: dict[int, Candidato] = {}
    leidas = _leidas(session)
    for fila in filas:
        id_ = fila[0]
        candidato = candidatos.get(id_)
        if candidato is None:
            candidato = candidatos[id_] = Candidato(id_, fila[1], fila[2], [])
        if fila[3] is not None:
            cita = leidas[fila[3]] = CitaLeida(*fila[3:])
            candidato.citas.append(cita)
    return list(candidatos.values())


def cita_leida(session: Session, cita_id: int) -> CitaLeida | None:
    """The cita with its unidad's name (None when there is no such cita): no query when this
    transaction read it already (candidatos_con_citas)."""
    cita = _leidas(session).get(cita_id)
    if cita is not None:
        return cita
    fila = _ejecutar(session, _CITA_CON_UNIDAD, {"cita_id": cita_id}).first()
    return CitaLeida(*fila) if fila else None


def fecha_de_cita(session: Session, cita_id: int) -> date | None:
    """The cita's date (None when there is no such cita)."""
    return _ejecutar(session, _FECHA_DE_CITA, {"cita_id": cita_id}).scalar()


_FECHA_DE_CITA = select(_CITA.c.fecha).where(_CITA.c.id == bindparam("cita_id"))


def ultima_cancelacion(session: Session, derechohabiente_id: int) -> Cancelacion | None:
    """The cancellation of the derechohabiente's last cita (by date), when that cita is the
    one cancelled: "your last cita was cancelled, folio …" must be about the last one."""
    ultima = session.scalars(
        select(Cita).where(Cita.derechohabiente_id == derechohabiente_id)
        .order_by(Cita.fecha.desc(), Cita.hora_inicio.desc(), Cita.id.desc()).limit(1)).first()
    if ultima is None or ultima.estado != "cancelada":
        return None
    return cancelacion_de(session, ultima.id)


def cancelacion_de(session: Session, cita_id: int) -> Cancelacion | None:
    """The cancellation of this cita, if it has one."""
    return session.scalars(select(Cancelacion).where(Cancelacion.cita_id == cita_id)).first()


_CANCELAR = (update(_CITA)
             .where(_CITA.c.id == bindparam("cita_id"), _CITA.c.estado == "agendada",
                    _NO_INICIADA)
             .values(estado="cancelada"))


@functools.cache
def _insertar_cancelacion(dialecto: str):
    return (_INSERTAR[dialecto](Cancelacion.__table__)
            .on_conflict_do_nothing(index_elements=["folio"])
            .returning(Cancelacion.__table__.c.id))


def _cancelar_y_escribir():
    """PostgreSQL: _CANCELAR and the first _insertar_cancelacion as one statement (one round
    trip, not two), data-modifying CTEs: the record is inserted from the UPDATE's RETURNING, so
    only when the cita was cancelled. Its one row: how many citas the UPDATE changed (0 or 1),
    and the record's id (None when the folio was taken: the cita stays cancelled, the caller
    tries another folio). SQLite has no data-modifying CTEs: there the two go apart."""
    tabla = Cancelacion.__table__
    cambiada = _CANCELAR.returning(_CITA.c.id).cte("cambiada")
    # The record's values but its cita's (CancelacionEscrita's fields: what cancelar_cita
    # passes).
    valores = [campo.name for campo in fields(CancelacionEscrita)
               if campo.name not in ("id", "cita_id")]
    escrita = (pg_insert(tabla)
               .from_select(["cita_id", *valores],
                            select(cambiada.c.id,
                                   *(bindparam(nombre, type_=tabla.c[nombre].type)
                                     for nombre in valores)))
               .on_conflict_do_nothing(index_elements=["folio"])
               .returning(tabla.c.id)
               .cte("escrita"))
    return select(select(func.count()).select_from(cambiada).scalar_subquery(),
                  select(escrita.c.id).scalar_subquery())


_CANCELAR_Y_ESCRIBIR = _cancelar_y_escribir()


def cancelar_cita(session: Session, cita_id: int, *, solicitante_tipo: str,
                  solicitante_nombre: str | None, motivo_codigo: int, motivo_texto: str,
                  canal: str, call_sid: str | None, ahora: datetime,
                  agente: str | None = None) -> ResultadoCancelacion:
    """Cancel the cita if it is still agendada and not started, race-safe; flushes, no commit.

    The conditional UPDATE takes the cita's row lock (PostgreSQL) or the write lock (SQLite),
    held until the caller commits or rolls back: a concurrent cancel waits, then finds the cita
    no longer agendada and reports 'ya_cancelada' with the first one's folio. A repeated
    webhook of the same call (same call_sid) gets 'cancelada' with the same folio again.
    On PostgreSQL the UPDATE and the record's INSERT are one statement (_CANCELAR_Y_ESCRIBIR).
    """
    hoy, hora = _hoy_y_hora(ahora)
    valores = {"cita_id": cita_id, "folio": nuevo_folio(), "solicitante_tipo": solicitante_tipo,
               "solicitante_nombre": solicitante_nombre, "motivo_codigo": motivo_codigo,
               "motivo_texto": motivo_texto, "canal": canal, "call_sid": call_sid,
               "agente": agente, "creada_en": ahora.astimezone(UTC)}
    dialecto = _dialecto(session)
    if dialecto == "postgresql":
        cambiadas, nuevo_id = _ejecutar(session, _CANCELAR_Y_ESCRIBIR,
                                        {**valores, "hoy": hoy, "hora": hora}).first()
    else:
        cambiadas = _ejecutar(session, _CANCELAR,
                              {"cita_id": cita_id, "hoy": hoy, "hora": hora}).rowcount
        nuevo_id = _ejecutar(session, _insertar_cancelacion(dialecto), valores).scalar() \
            if cambiadas == 1 else None
    _leidas(session).pop(cita_id, None)
    cita = session.identity_map.get(session.identity_key(Cita, cita_id))
    if cita is not None:
        session.expire(cita, ["estado"])
    if cambiadas != 1:
        previa = cancelacion_de(session, cita_id)
        if previa is None:
            return ResultadoCancelacion("no_cancelable", None)
        if call_sid is not None and previa.call_sid == call_sid:
            return ResultadoCancelacion("cancelada", previa.folio, previa)
        return ResultadoCancelacion("ya_cancelada", previa.folio, previa)
    intentos = 1
    while nuevo_id is None:
        # A folio already taken inserted nothing (and undid nothing, the UPDATE included: no
        # savepoint needed); the cita's own unique cancellation still fails loudly, as it must.
        if intentos == INTENTOS_FOLIO:
            raise RuntimeError(f"no se encontró un folio libre en {INTENTOS_FOLIO} intentos")
        valores["folio"] = nuevo_folio()
        nuevo_id = _ejecutar(session, _insertar_cancelacion(dialecto), valores).scalar()
        intentos += 1
    anotados(session)["cancelaciones"].append(canal)
    cancelacion = CancelacionEscrita(id=nuevo_id, **valores)
    return ResultadoCancelacion("cancelada", cancelacion.folio, cancelacion, nueva=True)


@functools.lru_cache(maxsize=64)
def _registrar_llamada(dialecto: str, campos: tuple[str, ...], con_omision: bool,
                       termina: bool, duradero: bool):
    """registrar_llamada's statement for these fields (its values are the parameters)."""
    tabla = Llamada.__table__
    sentencia = _INSERTAR[dialecto](tabla)
    nuevos = sentencia.excluded
    cambios = {nombre: nuevos[nombre] for nombre in campos}
    if "desenlace" not in campos and con_omision:
        cambios["desenlace"] = func.coalesce(func.nullif(tabla.c.desenlace, ""), nuevos.desenlace)
    sentencia = sentencia.on_conflict_do_update(
        index_elements=[tabla.c.call_sid], set_=cambios or {"call_sid": nuevos.call_sid},
        where=tabla.c.terminada_en.is_(None) if termina else None)
    devuelve = [tabla.c.desenlace]
    if not duradero and dialecto == "postgresql":
        # SET LOCAL synchronous_commit TO OFF, said by the statement itself (set_config's
        # third argument: for this transaction only), without a round trip of its own.
        devuelve.append(func.set_config("synchronous_commit", "off", true()))
    sentencia = sentencia.returning(*devuelve)
    return sentencia if duradero else sentencia.execution_options(**{SOLA: True})


def registrar_llamada(session: Session, call_sid: str, *, desenlace_por_omision: str | None = None,
                      duradero: bool = True, **campos) -> str | None:
    """Create the call's record or update it with these fields, in one statement (a repeated
    or concurrent webhook of the same call is fine); the record's outcome is returned.

    `iniciada_en` is kept from the record's creation. `desenlace_por_omision` is the outcome
    when neither these fields nor the record have one. With `terminada_en` the call ends now,
    unless its record says it ended already (a repeated status callback): the record is then
    left as it was, and the call is not counted as ended twice.

    Not *duradero* (on PostgreSQL): a record nobody on the phone heard about (the end of a
    call), whose commit need not hold the worker for an fsync (milliseconds to tens of
    milliseconds on a busy disk): a crash of the database server may lose the last fraction of
    a second of them. When nothing else was written in the transaction, it goes alone: one
    round trip, instead of BEGIN, the statement, SET LOCAL and COMMIT; after another write,
    it joins that write's transaction, which then commits the same way."""
    inicio = campos.pop("iniciada_en", None) or campos.get("terminada_en") or ahora_utc()
    valores = {"ruta": [], **campos, "call_sid": call_sid, "iniciada_en": inicio}
    if not campos.get("desenlace"):
        valores["desenlace"] = desenlace_por_omision
    termina = "terminada_en" in campos
    sentencia = _registrar_llamada(_dialecto(session), tuple(sorted(campos)),
                                   bool(desenlace_por_omision), termina, duradero)
    desenlace = _ejecutar(session, sentencia, valores).first()
    cargada = session.identity_map.get(session.identity_key(Llamada, call_sid))
    if cargada is not None:
        session.expire(cargada)
    if desenlace is None:  # it had ended already: nothing was written
        return session.scalar(select(Llamada.desenlace).where(Llamada.call_sid == call_sid))
    if termina:
        anotados(session)["llamadas"][call_sid] = desenlace[0]
    return desenlace[0]


def registrar_transferencia(session: Session, **campos) -> Transferencia:
    """Record a transfer to the agents; flushed, so it has its id."""
    transferencia = Transferencia(**campos)
    session.add(transferencia)
    session.flush()
    anotados(session)["transferencias"].append(transferencia.razon)
    return transferencia


def transferencia_por_id(session: Session, transferencia_id: int) -> Transferencia | None:
    """The transfer with this id, if any."""
    return session.get(Transferencia, transferencia_id)


def ultima_transferencia(session: Session, call_sid: str) -> Transferencia | None:
    """The call's latest transfer to the agents, if any."""
    return session.scalars(
        select(Transferencia).where(Transferencia.call_sid == call_sid)
        .order_by(Transferencia.creada_en.desc(), Transferencia.id.desc()).limit(1)).first()


SIN_MARCAR = ("fuera_de_horario", "sin_destino")  # transfers recorded without a dial


def contar_marcaciones(session: Session, call_sid: str) -> int:
    """How many times the line dialled (or queued for) the agents in this call."""
    return session.scalar(
        select(func.count()).select_from(Transferencia)
        .where(Transferencia.call_sid == call_sid,
               or_(Transferencia.dial_status.is_(None),
                   Transferencia.dial_status.not_in(SIN_MARCAR))))


def actualizar_dial_status(session: Session, transferencia_id: int,
                           dial_status: str) -> Transferencia | None:
    """Record how this transfer's dial or queue ended (DialCallStatus/QueueResult)."""
    transferencia = session.get(Transferencia, transferencia_id)
    if transferencia is not None:
        transferencia.dial_status = dial_status
        session.flush()
    return transferencia


# The agent leg's states in the order a call goes through them: a late, out-of-order status
# callback (Twilio does not promise order) must not move a finished leg back to "ringing".
ORDEN_ESTADO_AGENTE = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3,
                       "answered": 3, "completed": 4, "busy": 4, "no-answer": 4, "failed": 4,
                       "canceled": 4}


def registrar_estado_agente(session: Session, transferencia_id: int, estado: str,
                            ahora: datetime) -> Transferencia | None:
    """Record the state of the agent's leg of this transfer (its <Dial> statusCallback)."""
    transferencia = session.get(Transferencia, transferencia_id)
    if transferencia is None or estado not in ORDEN_ESTADO_AGENTE:
        return None
    anterior = ORDEN_ESTADO_AGENTE.get(transferencia.agente_estado or "", -1)
    if ORDEN_ESTADO_AGENTE[estado] >= anterior:
        transferencia.agente_estado = estado
        transferencia.agente_estado_en = ahora
        session.flush()
    return transferencia


def deshacer_cancelaciones(session: Session, claves: list[str]) -> int:
    """Undo the cancellations of these citas (the demo agenda's reset, never a real one): their
    undelivered outbox events and cancellation records go, the citas are agendadas again.
    How many were cancelled."""
    ids = list(session.scalars(select(Cita.id).where(Cita.clave.in_(claves))))
    if not ids:
        return 0
    session.execute(delete(EventoOutbox).where(EventoOutbox.cita_id.in_(ids)))
    deshechas = session.execute(delete(Cancelacion).where(Cancelacion.cita_id.in_(ids)))
    session.execute(update(Cita).where(Cita.id.in_(ids)).values(estado="agendada")
                    .execution_options(synchronize_session=False))
    session.expire_all()
    session.info.pop(LEIDAS, None)
    return deshechas.rowcount
