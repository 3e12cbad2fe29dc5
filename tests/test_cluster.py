"""Call state on a real Redis Cluster (REDIS_MODE=cluster): whole calls, and a master that dies
in the middle of them."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from ivr import create_app, db
from ivr.models import Cancelacion, Cita, Llamada, Transferencia
from ivr.store import StoreError, clave
from tests.cluster_redis import esperar
from tests.llamadas import GODINEZ, GOMEZ, HERNANDEZ, NUNEZ, cargar_agenda, nueva_app
from tests.llamadas import Llamada as LlamadaDePrueba
from tests.test_llamada import identificar

CANCELADA = "Su cita quedó cancelada."
DISCULPA = "Lo sentimos, tuvimos un problema con su llamada."


@pytest.fixture
def app_cluster(redis_cluster, tmp_path):
    """The line with its call state on the cluster (REDIS_URL names one node) and the test
    agenda."""
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria",
                    REDIS_URL=redis_cluster.url, REDIS_MODE="cluster")
    cargar_agenda(app)
    yield app
    db.engine_de(app).dispose()


def _sid_en(redis_cluster, en_el_nodo: bool, nodo) -> str:
    """A CallSid whose state lives (or does not live) on this master."""
    while True:
        sid = "CA" + secrets.token_hex(16)
        if (redis_cluster.maestro_de(clave(sid)) is nodo) == en_el_nodo:
            return sid


def _terminar(llamada: LlamadaDePrueba, colgar: bool = True) -> None:
    """From the cita's read-back to the end: cancel as titular, motivo 2, confirm (answering
    the node it is at, so a repeated question is answered again); then hang up, which ends a
    talk with an agent and posts the status callback."""
    teclas = {"cita": "1", "solicitante": "1", "motivo": "2", "confirmacion": "1"}
    while llamada.nodo not in (None, "cancelada"):  # at the folio the caller may hang up
        llamada.press(teclas[llamada.nodo])
    if colgar:
        llamada.tel.colgar()


def _desenlace(app, call_sid: str) -> tuple:
    """What the records say of a call: its outcome, its cancellation's call, its transfers."""
    with app.app_context():
        s = db.sesion()
        llamada = s.get(Llamada, call_sid)
        cancelada_por = s.scalars(select(Cancelacion.call_sid).where(
            Cancelacion.call_sid == call_sid)).all()
        razones = s.scalars(select(Transferencia.razon).where(
            Transferencia.call_sid == call_sid)).all()
        return llamada.desenlace, cancelada_por, razones


def test_whole_calls_on_the_cluster_keep_each_call_in_one_slot(app_cluster, redis_cluster):
    llamadas = [identificar(LlamadaDePrueba(app_cluster), p) for p in (GOMEZ, HERNANDEZ, NUNEZ)]
    for llamada in llamadas:
        sid = llamada.tel.call_sid
        assert llamada.nodo == "cita"
        # The CallSid is the key's hash tag: the slot is the CallSid's own.
        nodo = redis_cluster.maestro_de(clave(sid))
        assert nodo.cliente().cluster("keyslot", clave(sid)) == \
            nodo.cliente().cluster("keyslot", sid)
        assert nodo.cliente().exists(clave(sid)) == 1
        assert 3500 <= nodo.cliente().ttl(clave(sid)) <= 3600
    for llamada in llamadas:
        _terminar(llamada)
        assert CANCELADA in llamada.dicho
        sid = llamada.tel.call_sid
        assert _desenlace(app_cluster, sid) == ("cancelada", [sid], [])
        assert redis_cluster.maestro_de(clave(sid)).cliente().exists(clave(sid)) == 0


def test_a_master_dies_mid_call_its_replica_takes_over_and_no_call_goes_wrong(
        app_cluster, redis_cluster):
    # Four calls wait at the cita's read-back: two of them keep their state on the master
    # that will die. Two go on while it is down, two once its replica has been promoted.
    primera = LlamadaDePrueba(app_cluster, call_sid="CA" + secrets.token_hex(16))
    condenado = redis_cluster.maestro_de(clave(primera.tel.call_sid))
    durante = [primera, LlamadaDePrueba(app_cluster, call_sid=_sid_en(redis_cluster, False,
                                                                      condenado))]
    despues = [LlamadaDePrueba(app_cluster, call_sid=_sid_en(redis_cluster, en, condenado))
               for en in (True, False)]
    todas = durante + despues
    for llamada, persona in zip(todas, (GOMEZ, GODINEZ, HERNANDEZ, NUNEZ), strict=True):
        identificar(llamada, persona)
        assert llamada.nodo == "cita"
    condenado.matar()
    try:
        for llamada in durante:
            _terminar(llamada, colgar=False)
        esperar(lambda: redis_cluster.maestro_de(clave(primera.tel.call_sid)) is not condenado,
                30, "promover la réplica del maestro caído")
        for llamada in despues:
            _terminar(llamada)
        for llamada in durante:  # a talk with an agent outlasts the failover
            llamada.tel.colgar()
    finally:
        condenado.arrancar()  # it rejoins as the replica of the promoted one
        redis_cluster.esperar_sano()

    # The call whose master was down heard the apology and went to an agent, or went on.
    apartada = durante[0]
    if DISCULPA in " ".join(e[1] for e in apartada.tel.transcripcion if e[0] == "say"):
        assert apartada.tel.transferido_a == "+525540001000"
        assert _desenlace(app_cluster, apartada.tel.call_sid) == (
            "transferida", [], ["error_interno"])
        with app_cluster.app_context():
            cita = db.sesion().scalars(select(Cita).where(Cita.clave == "UC3QK2")).one()
            assert cita.estado == "agendada"
    else:
        assert CANCELADA in apartada.dicho
    # Every other call went on to its cancellation: the promoted replica had their state.
    for llamada in [durante[1], *despues]:
        sid = llamada.tel.call_sid
        assert CANCELADA in llamada.dicho, llamada.dicho
        assert _desenlace(app_cluster, sid) == ("cancelada", [sid], [])
    # Every call is over: none left a state behind.
    for llamada in todas:
        sid = llamada.tel.call_sid
        assert redis_cluster.maestro_de(clave(sid)).cliente().exists(clave(sid)) == 0


@pytest.mark.parametrize(("extra", "problema"), [
    ({"REDIS_MODE": "sentinel", "REDIS_URL": "redis://127.0.0.1:6379"},
     "REDIS_MODE debe ser cluster o single (o no estar definido), no 'sentinel'"),
    ({"REDIS_MODE": "cluster", "REDIS_URL": None},
     "REDIS_MODE=cluster necesita REDIS_URL: redis://host:puerto de un nodo"),
    ({"REDIS_MODE": "cluster", "REDIS_URL": "redis://127.0.0.1:7000/3"},
     "REDIS_MODE=cluster: un Redis Cluster solo tiene la base 0; quite el número de base de "
     "REDIS_URL"),
])
def test_a_bad_redis_mode_stops_the_start_up_saying_why(extra, problema):
    with pytest.raises(RuntimeError) as e:
        create_app({"SECRET_KEY": "x", **extra})
    assert str(e.value) == f"configuración inválida: {problema}"  # one line: gunicorn prints it


def test_a_cluster_down_at_start_up_still_lets_calls_hear_the_apology(tmp_path):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria",
                    REDIS_URL="redis://127.0.0.1:1", REDIS_MODE="cluster")
    llamada = LlamadaDePrueba(app)
    assert llamada.dicho.startswith(DISCULPA)
    assert llamada.tel.estado == "transferred"


def test_the_status_after_an_apology_keeps_the_transfer_the_line_recorded(app_cluster,
                                                                          monkeypatch):
    # The state can't be read at one step (its master is down): the caller hears the apology
    # and goes to an agent, and the apology's transfer is what the state then holds. When the
    # talk ends, the call's record says it was transferred, and why.
    llamada = identificar(LlamadaDePrueba(app_cluster), GOMEZ)
    store = app_cluster.extensions["ivr_store"]
    leer = store.get

    def caido(call_sid):
        raise StoreError("Redis no responde: ConnectionError")

    monkeypatch.setattr(store, "get", caido)
    llamada.press("1")
    assert llamada.dicho.startswith(DISCULPA)
    assert llamada.tel.transferido_a == "+525540001000"
    monkeypatch.setattr(store, "get", leer)
    assert store.get(llamada.tel.call_sid).nodo == "agente"  # the apology's transfer
    llamada.tel.colgar()
    with app_cluster.app_context():
        registro = db.sesion().get(Llamada, llamada.tel.call_sid)
        assert (registro.desenlace, registro.razon, registro.ultimo_nodo) == (
            "transferida", "error_interno", "agente")
        assert registro.terminada_en is not None
    assert store.get(llamada.tel.call_sid) is None
