"""Models, the database plumbing and the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import threading
import time as reloj
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.mx import curp as stdnum_curp

from ivr import db, repo
from ivr.domain.folio import ALFABETO
from ivr.models import (
    MEXICO,
    Base,
    Cancelacion,
    Cita,
    Derechohabiente,
    Llamada,
    Transferencia,
    Unidad,
)

# Tuesday 24 November 2026, 10:00 in Mexico City.
AHORA = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
HOY = date(2026, 11, 24)


def con_digito(base17: str) -> str:
    return base17 + stdnum_curp.calc_check_digit(base17 + "0")


GOMEZ = con_digito("GOMA850123HDFRRN0")
GODINEZ = con_digito("GOMC850123HDFRRN0")  # same keys as GOMEZ (A and C are both on 2)
NUNEZ = con_digito("NUSM881122XDFXXR0")


@dataclass
class Agenda:
    unidad: int
    gomez: int
    godinez: int
    nunez: int
    futura: int
    mas_tarde_hoy: int
    otra_futura: int
    empezada: int
    pasada: int
    cancelada: int
    atendida: int


def nueva_persona(curp, nombre, apellido, rfc=None) -> Derechohabiente:
    return Derechohabiente(curp=curp, rfc=rfc, nombre=nombre, primer_apellido=apellido)


def sembrar(session: Session) -> Agenda:
    """Three people and their citas around AHORA, committed."""
    unidad = Unidad(nombre="UAPES No. 4")
    gomez = nueva_persona(GOMEZ, "Ana", "Gómez", rfc="GOMA850123AB1")
    godinez = nueva_persona(GODINEZ, "Carlos", "Godínez")
    nunez = nueva_persona(NUNEZ, "Mar", "Núñez")
    session.add_all([unidad, gomez, godinez, nunez])
    session.flush()

    def cita(persona, clave, fecha, inicio, estado="agendada"):
        fin = (datetime.combine(fecha, inicio) + timedelta(minutes=15)).time()
        c = Cita(clave=clave, derechohabiente_id=persona.id, unidad_id=unidad.id,
                 ventanilla="02", fecha=fecha, hora_inicio=inicio, hora_fin=fin, estado=estado)
        session.add(c)
        session.flush()
        return c.id

    agenda = Agenda(
        unidad=unidad.id, gomez=gomez.id, godinez=godinez.id, nunez=nunez.id,
        otra_futura=cita(gomez, "UC7HW4", date(2026, 12, 9), time(9, 30)),
        futura=cita(gomez, "UC3QK2", date(2026, 12, 2), time(15, 0)),
        mas_tarde_hoy=cita(gomez, "UC5TR8", HOY, time(10, 0, 30)),
        empezada=cita(gomez, "PZ9K3T", HOY, time(9, 30)),
        pasada=cita(gomez, "PZ3M8N", date(2026, 11, 20), time(9, 0)),
        cancelada=cita(gomez, "LP6H4J", date(2026, 12, 1), time(8, 0), estado="cancelada"),
        atendida=cita(godinez, "GD7Q2K", date(2026, 12, 3), time(9, 0), estado="atendida"),
    )
    session.commit()
    return agenda


@pytest.fixture
def agenda(session) -> Agenda:
    return sembrar(session)


def cancelar(session, cita_id, call_sid="CA" + "1" * 32, ahora=AHORA, canal="ivr"):
    return repo.cancelar_cita(session, cita_id, solicitante_tipo="titular",
                              solicitante_nombre=None, motivo_codigo=2,
                              motivo_texto="No puedo asistir en la fecha u horario", canal=canal,
                              call_sid=call_sid, ahora=ahora)


# -- db.py ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url, esperada", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgresql://u@h/d?sslmode=require", "postgresql+psycopg://u@h/d?sslmode=require"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
])
def test_normalizar_url(url, esperada):
    assert db.normalizar_url(url) == esperada


def test_engine_for_postgres_usa_psycopg3():
    assert db.engine_for("postgres://u@h/d").dialect.driver == "psycopg"


def _app(tmp_path: Path, **config) -> Flask:
    app = Flask("prueba", instance_path=str(tmp_path / "instance"))
    app.config.update(config)
    db.init_app(app)
    return app


def test_url_por_omision_es_sqlite_en_la_carpeta_de_instancia(tmp_path):
    app = _app(tmp_path)
    assert db.url_de(app) == f"sqlite:///{tmp_path / 'instance' / 'ivr.sqlite3'}"
    assert db.url_de(_app(tmp_path, DATABASE_URL="postgres://u@h/d")) == \
        "postgresql+psycopg://u@h/d"


def test_sesion_por_peticion_y_descarte_de_lo_no_confirmado(tmp_path):
    app = _app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/app.sqlite3")
    Base.metadata.create_all(db.engine_de(app))
    with app.app_context():
        assert db.sesion() is db.get_session()
        db.sesion().add(Unidad(nombre="confirmada"))
        db.confirmar()
        db.sesion().add(Unidad(nombre="sin confirmar"))
        db.sesion().flush()
    with app.app_context():
        nombres = db.sesion().scalars(select(Unidad.nombre)).all()
        db.descartar()
    assert nombres == ["confirmada"]
    db.engine_de(app).dispose()


def test_en_postgresql_una_lectura_no_abre_transaccion_y_una_escritura_si(tmp_path, engine):
    """A SELECT outside a transaction goes alone (no BEGIN/COMMIT round trips); a write opens
    the transaction, and what follows it, reads included, is in it until the commit."""
    from psycopg.pq import TransactionStatus as T

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite is in-process: no round trips to save")
    app = _app(tmp_path, DATABASE_URL=engine.url.render_as_string(hide_password=False))

    def estado():
        return db.sesion().connection().connection.dbapi_connection.info.transaction_status

    try:
        with app.app_context():
            assert db.sesion().scalars(select(Unidad.id)).all() == []
            assert estado() == T.IDLE  # nothing to commit, nothing to roll back
            db.sesion().add(Unidad(nombre="A"))
            db.sesion().flush()
            assert estado() == T.INTRANS
            assert db.sesion().scalars(select(Unidad.nombre)).all() == ["A"]
            db.sesion().add(Unidad(nombre="B"))
            db.sesion().flush()
            db.descartar()  # both writes go together
            assert db.sesion().scalars(select(Unidad.nombre)).all() == []
            assert estado() == T.IDLE
            # A SELECT that locks opens the transaction holding its locks.
            db.sesion().scalars(select(Unidad.id).with_for_update()).all()
            assert estado() == T.INTRANS
            db.confirmar()
        with app.app_context():  # a user's own isolation level is theirs
            conexion = db.sesion().connection(
                execution_options={"isolation_level": "REPEATABLE READ"})
            conexion.execute(select(Unidad.id)).all()
            assert estado() == T.INTRANS
    finally:
        db.engine_de(app).dispose()


def test_en_postgresql_el_fin_de_una_llamada_va_solo_y_sin_esperar_al_disco(tmp_path, engine):
    """A call's record that is not *duradero* goes alone when nothing else was written (one
    round trip, committed at once), and joins the transaction of a write before it; either
    way its commit doesn't wait for the disk (synchronous_commit off for that transaction)."""
    from psycopg.pq import TransactionStatus as T

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no round trips nor synchronous_commit")
    app = _app(tmp_path, DATABASE_URL=engine.url.render_as_string(hide_password=False))

    def dbapi():
        return db.sesion().connection().connection.dbapi_connection

    def registradas() -> set[str]:
        with engine.connect() as otra:
            return set(otra.scalars(select(Llamada.call_sid)))

    try:
        with app.app_context():
            assert repo.registrar_llamada(db.sesion(), "CA1", terminada_en=AHORA, duradero=False,
                                          desenlace_por_omision="colgo_completed") \
                == "colgo_completed"
            assert dbapi().info.transaction_status == T.IDLE
            assert registradas() == {"CA1"}  # committed by itself, before any commit
            db.sesion().add(Unidad(nombre="A"))
            db.sesion().flush()
            repo.registrar_llamada(db.sesion(), "CA2", terminada_en=AHORA, duradero=False)
            assert dbapi().info.transaction_status == T.INTRANS
            assert db.sesion().scalar(text("SELECT current_setting('synchronous_commit')")) \
                == "off"
            assert registradas() == {"CA1"}  # with the write before it, at its commit
            db.confirmar()
            assert registradas() == {"CA1", "CA2"}
            assert db.sesion().scalar(text("SELECT current_setting('synchronous_commit')")) \
                == "on"  # the next transaction's own
    finally:
        db.engine_de(app).dispose()


def test_sqlite_con_llaves_foraneas(tmp_path):
    engine = db.engine_for(f"sqlite:///{tmp_path}/fk.sqlite3")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Cita(clave="AAAAAA", derechohabiente_id=99, unidad_id=99, ventanilla="1",
                   fecha=HOY, hora_inicio=time(9), hora_fin=time(10)))
        with pytest.raises(IntegrityError):
            s.flush()
    engine.dispose()


# -- models --------------------------------------------------------------------------------


def test_formas_de_teclado_siguen_a_los_valores():
    d = nueva_persona(NUNEZ, "Mar", "Núñez", rfc="NUSM881122AB1")
    assert (d.curp_teclas, d.rfc_teclas, d.apellido_teclas) == \
        (teclas_de(NUNEZ), "6876881122221", "68639")
    d.primer_apellido = "De la O"
    assert d.apellido_teclas == "33526"
    d.rfc = None
    assert d.rfc_teclas is None


def teclas_de(curp: str) -> str:
    teclado = {c: t for t, letras in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO",
                                      "7": "PQRS", "8": "TUV", "9": "WXYZ"}.items()
               for c in letras}
    return "".join(teclado.get(c, c) for c in curp)


def test_inicio_de_la_cita_en_hora_de_la_ciudad_de_mexico():
    c = Cita(fecha=date(2026, 12, 2), hora_inicio=time(15, 0), hora_fin=time(15, 15))
    assert c.inicio == datetime(2026, 12, 2, 21, 0, tzinfo=UTC)
    assert c.inicio.tzinfo == MEXICO
    assert c.fin - c.inicio == timedelta(minutes=15)


def test_estado_de_cita_restringido(session, agenda):
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE cita SET estado = 'perdida' WHERE id = :id"),
                        {"id": agenda.futura})


def test_valores_por_omision(session, agenda):
    cita = session.get(Cita, agenda.futura)
    assert cita.tramite == "préstamo personal"
    t = repo.registrar_transferencia(session, call_sid="CA1", razon="pidio_agente", nodo="curp")
    assert (t.identificado, t.atendida, t.creada_en.tzinfo is not None) == (False, False, True)


# -- lookups -------------------------------------------------------------------------------


def test_buscar_por_teclas_de_curp_da_todos_los_que_comparten_teclas(session, agenda):
    encontrados = repo.buscar_por_teclas(session, teclas_de(GOMEZ))
    assert [d.id for d in encontrados] == [agenda.gomez, agenda.godinez]


def test_buscar_por_teclas_de_rfc(session, agenda):
    assert [d.id for d in repo.buscar_por_teclas(session, "4662850123221")] == [agenda.gomez]


@pytest.mark.parametrize("teclas", ["", "466285012322", "46628501232211", "4" * 17, "4" * 19])
def test_buscar_por_teclas_de_otro_largo_no_encuentra_nada(session, agenda, teclas):
    assert repo.buscar_por_teclas(session, teclas) == []


@pytest.mark.parametrize("documento, quien", [
    (GOMEZ, "gomez"), (GOMEZ.lower(), "gomez"), (f" {GOMEZ[:4]}-{GOMEZ[4:]} ", "gomez"),
    ("goma850123ab1", "gomez"), (GODINEZ, "godinez"), ("", None), ("GOMA850123AB2", None),
])
def test_buscar_por_documento(session, agenda, documento, quien):
    encontrados = repo.buscar_por_documento(session, documento)
    assert [d.id for d in encontrados] == ([getattr(agenda, quien)] if quien else [])


def test_citas_cancelables_en_orden_y_solo_las_que_no_empiezan(session, agenda):
    citas = repo.citas_cancelables(session, agenda.gomez, AHORA)
    assert [c.id for c in citas] == [agenda.mas_tarde_hoy, agenda.futura, agenda.otra_futura]


def test_citas_cancelables_comparan_en_hora_local(session, agenda):
    # 23 Nov 23:50 in Mexico City is already 24 Nov in UTC: a cita at 23:55 on the 23rd counts.
    session.add(Cita(clave="NZ5W2Q", derechohabiente_id=agenda.nunez, unidad_id=agenda.unidad,
                     ventanilla="1", fecha=date(2026, 11, 23), hora_inicio=time(23, 55),
                     hora_fin=time(23, 59)))
    session.flush()
    ahora = datetime(2026, 11, 24, 5, 50, tzinfo=UTC)
    assert [c.clave for c in repo.citas_cancelables(session, agenda.nunez, ahora)] == ["NZ5W2Q"]
    assert repo.citas_cancelables(session, agenda.nunez, ahora + timedelta(minutes=5)) == []


def test_citas_cancelables_exige_hora_con_zona(session, agenda):
    with pytest.raises(ValueError):
        repo.citas_cancelables(session, agenda.gomez, datetime(2026, 11, 24, 10, 0))


def test_ids_por_teclas_son_los_de_buscar_por_teclas(session, agenda):
    assert repo.ids_por_teclas(session, teclas_de(GOMEZ)) == [agenda.gomez, agenda.godinez]
    assert repo.ids_por_teclas(session, "4662850123221") == [agenda.gomez]
    assert repo.ids_por_teclas(session, "4" * 17) == []


def test_candidatos_con_citas_en_una_consulta(session, agenda, engine):
    from sqlalchemy import event

    sentencias = []
    escuchar = lambda *a: sentencias.append(a[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", escuchar)
    try:
        candidatos = repo.candidatos_con_citas(
            session, [agenda.godinez, agenda.gomez, agenda.nunez, 999_999], AHORA)
        # The same citas as citas_cancelables, each person with their own, in id order.
        assert [(c.id, [cita.id for cita in c.citas]) for c in candidatos] == [
            (agenda.gomez, [c.id for c in repo.citas_cancelables(session, agenda.gomez, AHORA)]),
            (agenda.godinez, []), (agenda.nunez, [])]
        assert len(sentencias) == 2  # the one query, and citas_cancelables' for the check
        gomez = candidatos[0]
        assert (gomez.primer_apellido, gomez.apellido_teclas) == ("Gómez", "46639")
        # Reading a cita back in the same transaction needs no query, even once nothing else
        # refers to what the query read.
        primera = gomez.citas[0].id
        del candidatos, gomez
        gc.collect()
        cita = repo.cita_leida(session, primera)
        assert len(sentencias) == 2
    finally:
        event.remove(engine, "before_cursor_execute", escuchar)
    assert (cita.id, cita.unidad_id, cita.unidad) == (primera, agenda.unidad,
                                                      session.get(Unidad, agenda.unidad).nombre)
    assert repo.candidatos_con_citas(session, [], AHORA) == []


def test_cita_leida_lee_de_la_base_lo_que_la_transaccion_no_tiene_al_dia(session, agenda):
    cita = repo.cita_leida(session, agenda.futura)
    assert (cita.estado, cita.unidad_id) == ("agendada", agenda.unidad)
    gomez = agenda.gomez
    leidas = repo.candidatos_con_citas(session, [gomez], AHORA)[0].citas
    assert agenda.futura in [c.id for c in leidas]
    cancelar(session, agenda.futura)  # forgets what was read of the cita
    assert repo.cita_leida(session, agenda.futura).estado == "cancelada"
    assert repo.cita_leida(session, 999_999) is None


def test_cita_leida_no_sobrevive_a_la_transaccion(session, agenda, engine):
    from sqlalchemy import event

    repo.candidatos_con_citas(session, [agenda.gomez], AHORA)
    session.commit()
    sentencias = []
    escuchar = lambda *a: sentencias.append(a[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", escuchar)
    try:
        assert repo.cita_leida(session, agenda.futura).id == agenda.futura
    finally:
        event.remove(engine, "before_cursor_execute", escuchar)
    assert len(sentencias) == 1  # read again: another transaction may have changed it


def test_fecha_de_cita(session, agenda):
    assert repo.fecha_de_cita(session, agenda.futura) == session.get(Cita, agenda.futura).fecha
    assert repo.fecha_de_cita(session, 999_999) is None


def test_ultima_cancelacion_es_la_de_su_ultima_cita(session, agenda):
    assert repo.ultima_cancelacion(session, agenda.gomez) is None
    # Only the cancellation of the caller's last cita by date counts, whatever the order in
    # which citas were cancelled.
    segunda = cancelar(session, agenda.futura, ahora=AHORA - timedelta(days=1))
    assert repo.ultima_cancelacion(session, agenda.gomez) is None  # Dec 9 is still agendada
    ultima = cancelar(session, agenda.otra_futura)
    assert repo.ultima_cancelacion(session, agenda.gomez).folio == ultima.folio != segunda.folio
    assert repo.ultima_cancelacion(session, agenda.godinez) is None  # attended, not cancelled


# -- cancelling ----------------------------------------------------------------------------


def test_cancelar_cita(session, agenda):
    resultado = cancelar(session, agenda.futura)
    assert resultado.resultado == "cancelada"
    assert len(resultado.folio) == 7 and set(resultado.folio) <= set(ALFABETO)
    session.commit()
    assert session.get(Cita, agenda.futura).estado == "cancelada"
    c = session.scalars(select(Cancelacion)).one()
    assert (c.cita_id, c.folio, c.solicitante_tipo, c.motivo_codigo, c.canal, c.call_sid) == \
        (agenda.futura, resultado.folio, "titular", 2, "ivr", "CA" + "1" * 32)
    # SQLite gives timestamps back without their zone; they were stored in UTC.
    assert (c.creada_en if c.creada_en.tzinfo else c.creada_en.replace(tzinfo=UTC)) == AHORA


def test_cancelar_actualiza_la_cita_ya_cargada_en_la_sesion(session, agenda):
    cita = session.get(Cita, agenda.futura)
    assert cita.estado == "agendada"
    cancelar(session, agenda.futura)
    assert cita.estado == "cancelada"


def test_cancelar_no_confirma(session, agenda):
    cancelar(session, agenda.futura)
    session.rollback()
    assert session.get(Cita, agenda.futura).estado == "agendada"
    assert session.scalar(select(func.count()).select_from(Cancelacion)) == 0


def test_webhook_repetido_recibe_el_mismo_folio(session, agenda):
    primero = cancelar(session, agenda.futura)
    session.commit()
    assert cancelar(session, agenda.futura) == primero
    otro = cancelar(session, agenda.futura, call_sid="CA" + "2" * 32)
    assert (otro.resultado, otro.folio) == ("ya_cancelada", primero.folio)


def test_sin_call_sid_la_segunda_vez_es_ya_cancelada(session, agenda):
    primero = cancelar(session, agenda.futura, call_sid=None, canal="agente")
    assert cancelar(session, agenda.futura, call_sid=None, canal="agente") == \
        repo.ResultadoCancelacion("ya_cancelada", primero.folio)


@pytest.mark.parametrize("cual", ["empezada", "pasada", "cancelada", "atendida"])
def test_no_cancelable(session, agenda, cual):
    assert cancelar(session, getattr(agenda, cual)) == \
        repo.ResultadoCancelacion("no_cancelable", None)
    assert session.scalar(select(func.count()).select_from(Cancelacion)) == 0


def test_cita_inexistente_no_es_cancelable(session, agenda):
    assert cancelar(session, 999_999).resultado == "no_cancelable"


def test_cancelable_hasta_el_ultimo_segundo(session, agenda):
    # mas_tarde_hoy starts at 10:00:30 local.
    assert cancelar(session, agenda.mas_tarde_hoy, ahora=AHORA + timedelta(seconds=30)) \
        .resultado == "no_cancelable"
    assert cancelar(session, agenda.mas_tarde_hoy, ahora=AHORA + timedelta(seconds=29)) \
        .resultado == "cancelada"


def test_folio_repetido_se_reintenta(session, agenda, monkeypatch):
    primero = cancelar(session, agenda.futura)
    session.commit()
    folios = iter([primero.folio, primero.folio, "QWE2345"])
    monkeypatch.setattr(repo, "nuevo_folio", lambda: next(folios))
    segundo = cancelar(session, agenda.otra_futura)
    assert segundo == repo.ResultadoCancelacion("cancelada", "QWE2345")
    session.commit()
    assert session.get(Cita, agenda.otra_futura).estado == "cancelada"


def test_sin_folio_libre_falla(session, agenda, monkeypatch):
    primero = cancelar(session, agenda.futura)
    session.commit()
    monkeypatch.setattr(repo, "nuevo_folio", lambda: primero.folio)
    with pytest.raises(RuntimeError):
        cancelar(session, agenda.otra_futura)


def test_la_cancelacion_propia_de_la_cita_falla_en_voz_alta(session, agenda):
    """Only a taken folio is retried: a cita that somehow has a cancellation record already
    (while still agendada) fails loudly, and its UPDATE goes with the rolled back transaction."""
    session.add(Cancelacion(cita_id=agenda.futura, folio="QWE2345", solicitante_tipo="titular",
                            motivo_codigo=2, motivo_texto="x", canal="agente"))
    session.commit()
    with pytest.raises(IntegrityError):
        cancelar(session, agenda.futura)
    session.rollback()
    assert session.get(Cita, agenda.futura).estado == "agendada"


def test_en_postgresql_cancelar_es_una_sentencia(session, engine, agenda, monkeypatch):
    """On PostgreSQL the cita's UPDATE and its record's INSERT go as one statement (one round
    trip), compiled once and run straight on psycopg; a folio taken then costs the INSERT
    alone, without undoing the UPDATE."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no data-modifying CTEs: the two statements go apart there")
    from ivr import sentencias

    primero = cancelar(session, agenda.futura)
    session.commit()
    oidas = []

    def oir(_conexion, _cursor, sql, *_):
        oidas.append(sql.split()[0])

    folios = iter([primero.folio, "QWE2345"])
    monkeypatch.setattr(repo, "nuevo_folio", lambda: next(folios))
    event.listen(engine, "before_cursor_execute", oir)
    try:
        segundo = cancelar(session, agenda.otra_futura)
    finally:
        event.remove(engine, "before_cursor_execute", oir)
    assert segundo == repo.ResultadoCancelacion("cancelada", "QWE2345")
    assert oidas == ["WITH", "INSERT"]
    compiladas = [compilada for sentencia, compilada in sentencias._COMPILADAS.values()  # noqa: SLF001
                  if sentencia is repo._CANCELAR_Y_ESCRIBIR]  # noqa: SLF001
    assert compiladas and None not in compiladas
    session.commit()
    assert session.get(Cita, agenda.otra_futura).estado == "cancelada"


def test_carrera_de_dos_cancelaciones(engine, agenda):
    """Two calls confirm the same cita at once: one cancels it, the other hears its folio."""
    barrera = threading.Barrier(2)
    resultados: dict[int, repo.ResultadoCancelacion] = {}
    terminos: dict[int, float] = {}
    errores: list[BaseException] = []

    def intento(i: int) -> None:
        try:
            with Session(engine) as s:
                s.get(Derechohabiente, agenda.gomez)  # a read first, as in a real request
                barrera.wait(timeout=10)
                resultados[i] = cancelar(s, agenda.futura, call_sid=f"CA{i}")
                terminos[i] = reloj.monotonic()
                reloj.sleep(0.3)  # keep the lock a while: the other one must wait for it
                s.commit()
        except BaseException as e:  # noqa: B036 - reported to the main thread
            errores.append(e)

    hilos = [threading.Thread(target=intento, args=(i,)) for i in (1, 2)]
    for h in hilos:
        h.start()
    for h in hilos:
        h.join(timeout=30)
    assert errores == []
    assert sorted(r.resultado for r in resultados.values()) == ["cancelada", "ya_cancelada"]
    assert resultados[1].folio == resultados[2].folio
    # The loser's UPDATE waited for the winner's commit: the race was real, not sequential.
    assert abs(terminos[1] - terminos[2]) >= 0.25
    with Session(engine) as s:
        assert s.scalars(select(Cancelacion.folio)).all() == [resultados[1].folio]
        assert s.get(Cita, agenda.futura).estado == "cancelada"


# -- calls and transfers -------------------------------------------------------------------


def test_registrar_llamada_crea_y_actualiza(session, agenda):
    sid = "CA" + "7" * 32
    assert repo.registrar_llamada(session, sid, desde="+525511112222", iniciada_en=AHORA,
                                  ruta=["menu_principal"]) is None  # no outcome yet
    session.commit()
    assert repo.registrar_llamada(session, sid, terminada_en=AHORA + timedelta(minutes=3),
                                  desenlace="cancelada", ultimo_nodo="confirmacion",
                                  derechohabiente_id=agenda.gomez,
                                  iniciada_en=AHORA + timedelta(minutes=1),
                                  ruta=["menu_principal", "curp"]) == "cancelada"
    session.commit()
    guardada = session.get(Llamada, sid)
    assert (guardada.desde, guardada.desenlace, guardada.ruta, guardada.ultimo_nodo,
            guardada.derechohabiente_id) == \
        ("+525511112222", "cancelada", ["menu_principal", "curp"], "confirmacion", agenda.gomez)
    assert _utc(guardada.iniciada_en) == AHORA  # kept from the record's creation
    assert _utc(guardada.terminada_en) == AHORA + timedelta(minutes=3)
    assert session.scalar(select(func.count()).select_from(Llamada)) == 1


def _utc(momento: datetime) -> datetime:
    # SQLite gives timestamps back without their zone; they were stored in UTC.
    return momento if momento.tzinfo else momento.replace(tzinfo=UTC)


def test_registrar_llamada_actualiza_la_llamada_ya_cargada_en_la_sesion(session):
    repo.registrar_llamada(session, "CA4", desde="+525511112222", ultimo_nodo="curp")
    cargada = session.get(Llamada, "CA4")
    repo.registrar_llamada(session, "CA4", ultimo_nodo="apellido")
    assert cargada.ultimo_nodo == "apellido"


def test_registrar_llamada_que_solo_termina(session):
    terminada = AHORA + timedelta(minutes=1)
    assert repo.registrar_llamada(session, "CA9", terminada_en=terminada,
                                  desenlace_por_omision="colgo_completed") == "colgo_completed"
    session.commit()
    llamada = session.get(Llamada, "CA9")
    assert _utc(llamada.iniciada_en) == terminada and llamada.ruta == []
    assert llamada.desenlace == "colgo_completed"


def test_el_desenlace_por_omision_no_borra_uno_anterior(session):
    repo.registrar_llamada(session, "CA8", desenlace="transferida", razon="pidio_agente")
    assert repo.registrar_llamada(session, "CA8", terminada_en=AHORA,
                                  desenlace_por_omision="colgo_completed") == "transferida"
    assert repo.registrar_llamada(session, "CA7", ultimo_nodo="curp",
                                  desenlace_por_omision="colgo_in-progress") == \
        "colgo_in-progress"
    session.commit()
    assert (session.get(Llamada, "CA8").desenlace, session.get(Llamada, "CA8").razon) == \
        ("transferida", "pidio_agente")


def test_una_llamada_terminada_no_termina_dos_veces(session):
    """A repeated status callback: the first end is kept, and only it is noted for the
    metrics."""
    assert repo.registrar_llamada(session, "CA6", terminada_en=AHORA, duracion_segundos=30,
                                  desenlace_por_omision="colgo_completed") == "colgo_completed"
    assert repo.anotados(session)["llamadas"] == {"CA6": "colgo_completed"}
    session.commit()
    session.info.pop(repo.ANOTADOS)  # nobody counts in this test: as the metrics would
    assert repo.registrar_llamada(session, "CA6", terminada_en=AHORA + timedelta(minutes=1),
                                  duracion_segundos=31, desenlace="otro") == "colgo_completed"
    assert repo.anotados(session)["llamadas"] == {}
    session.commit()
    llamada = session.get(Llamada, "CA6")
    assert (_utc(llamada.terminada_en), llamada.duracion_segundos) == (AHORA, 30)


def test_registrar_llamada_no_confirma(session):
    repo.registrar_llamada(session, "CA5", desde="+525511112222")
    session.rollback()
    assert session.get(Llamada, "CA5") is None
    assert session.scalar(select(func.count()).select_from(Llamada)) == 0


def test_transferencias(session, agenda):
    sid = "CA" + "8" * 32
    primera = repo.registrar_transferencia(session, call_sid=sid, razon="pidio_agente",
                                           nodo="cita", identificado=True,
                                           derechohabiente_id=agenda.gomez,
                                           cita_id=agenda.futura, creada_en=AHORA,
                                           contexto={"ruta": ["curp"]})
    segunda = repo.registrar_transferencia(session, call_sid=sid, razon="reintentos_agotados",
                                           nodo="motivo", creada_en=AHORA + timedelta(minutes=1))
    assert primera.id and segunda.id
    assert repo.ultima_transferencia(session, sid) is segunda
    assert repo.actualizar_dial_status(session, segunda.id, "no-answer") is segunda
    assert repo.actualizar_dial_status(session, 12345, "busy") is None
    session.commit()
    assert (primera.dial_status, segunda.dial_status) == (None, "no-answer")
    assert repo.transferencia_por_id(session, primera.id).contexto == {"ruta": ["curp"]}
    assert repo.transferencia_por_id(session, 12345) is None
    assert session.scalar(select(func.count()).select_from(Transferencia)) == 2


@pytest.mark.postgres
def test_behind_pgbouncer_psycopg_prepares_no_statement(postgres_url):
    # PgBouncer in transaction mode hands each transaction any server connection: a statement
    # prepared on one would be missing on the next. PGBOUNCER=1 turns them off.
    from ivr import create_app

    for pgbouncer, umbral in ((True, None), (False, 5)):
        app = create_app({"DATABASE_URL": postgres_url, "PGBOUNCER": pgbouncer,
                          "DATABASE_POOL_SIZE": 3, "DATABASE_MAX_OVERFLOW": 1,
                          "SECRET_KEY": "x"})
        engine = db.engine_de(app)
        try:
            with engine.connect() as conexion:
                assert conexion.connection.dbapi_connection.prepare_threshold == umbral
            assert (engine.pool.size(), engine.pool._max_overflow) == (3, 1)
        finally:
            engine.dispose()
