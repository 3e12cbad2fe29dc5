"""Per-call state: the in-process store and real Redis behave the same, and both expire."""

import json
import os
import threading
import time
import zlib

import pytest
import redis

from ivr.estado import CAMPOS, Estado
from ivr.store import SIN_DESINFLAR, MemoryStore, RedisStore, StoreError, clave

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_o_skip():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as e:
        pytest.skip(f"Redis no disponible en {REDIS_URL}: {type(e).__name__}")


@pytest.fixture(params=["memoria", pytest.param("redis", marks=pytest.mark.redis)])
def store(request):
    if request.param == "memoria":
        return MemoryStore(ttl=60)
    _redis_o_skip()
    return RedisStore(REDIS_URL, ttl=60)


def test_save_get_delete_roundtrip(store):
    sid = f"CAtest{time.time_ns()}"
    assert store.get(sid) is None
    estado = Estado(sid, nodo="curp", ruta=["menu_principal"], intentos=1)
    store.save(sid, estado)
    assert store.get(sid) == estado
    store.delete(sid)
    assert store.get(sid) is None


def test_memory_state_expires():
    ahora = [1000.0]
    store = MemoryStore(ttl=60, reloj=lambda: ahora[0])
    store.save("CA1", Estado("CA1", nodo="curp"))
    ahora[0] += 59
    assert store.get("CA1") == Estado("CA1", nodo="curp")
    ahora[0] += 2
    assert store.get("CA1") is None


def _en_redis(ttl: int = 60) -> tuple[RedisStore, str]:
    """A Redis store holding one new call's state at the CURP."""
    _redis_o_skip()
    store = RedisStore(REDIS_URL, ttl=ttl)
    sid = f"CA{time.time_ns()}"
    store.save(sid, Estado(sid, nodo="curp"))
    return store, sid


@pytest.mark.redis
def test_redis_state_has_a_ttl():
    store, sid = _en_redis(ttl=120)
    assert 110 <= store.ttl_de(sid) <= 120
    store.delete(sid)


def test_dead_redis_raises_store_error():
    store = RedisStore("redis://127.0.0.1:1/0", ttl=60)
    with pytest.raises(StoreError):
        store.get("CA1")
    with pytest.raises(StoreError):
        store.save("CA1", Estado("CA1"))


@pytest.mark.redis
def test_redis_keeps_the_state_deflated_and_still_reads_plain_json():
    _redis_o_skip()
    store = RedisStore(REDIS_URL, ttl=60)
    sid = f"CAzip{time.time_ns()}"
    twiml = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://ivr/voice/'
             'cita" input="dtmf speech" language="es-MX"><Say language="es-MX" voice="Polly.Mia">'
             + "Su cita para el trámite de préstamo personal es el miércoles 2 de diciembre. " * 8
             + "</Say></Gather></Response>")
    estado = Estado(call_sid=sid, nodo="cita", ruta=["menu_principal", "curp"], previo=twiml)
    store.save(sid, estado)
    guardado = redis.Redis.from_url(REDIS_URL).get(clave(sid))
    assert not guardado.startswith(b"{") and len(guardado) < 0.6 * len(estado.a_json())
    assert store.get(sid) == estado
    # A state saved as plain JSON before a deploy is read after it.
    redis.Redis.from_url(REDIS_URL).set(clave(sid), estado.a_json(), ex=60)
    assert store.get(sid) == estado
    # And one the standard library's json wrote, deflated, as the previous version did.
    anterior = json.dumps({"call_sid": sid, "nodo": "cita", "ruta": ["menu_principal", "curp"],
                           "previo": twiml}, ensure_ascii=False, separators=(",", ":"))
    redis.Redis.from_url(REDIS_URL).set(
        clave(sid), zlib.compress(anterior.encode(), 6, wbits=-15), ex=60)
    assert store.get(sid) == estado
    store.delete(sid)


@pytest.mark.redis
def test_a_short_state_is_kept_as_its_json_and_stays_under_a_kilobyte():
    _redis_o_skip()
    store = RedisStore(REDIS_URL, ttl=60)
    sid = f"CAcorto{time.time_ns()}"
    estado = Estado(call_sid=sid, nodo="menu_principal", ruta=["menu_principal"],
                    previo=["menu_principal", "menu_principal_pregunta"])
    store.save(sid, estado)
    cliente = redis.Redis.from_url(REDIS_URL)
    assert cliente.get(clave(sid)) == estado.a_json()
    assert store.get(sid) == estado
    # The longest one kept as JSON, with Redis's overhead for the key: under 1 KB.
    cliente.set(clave(sid), b"x" * SIN_DESINFLAR, ex=60)
    assert cliente.memory_usage(clave(sid)) < 1024
    store.delete(sid)


def test_a_copy_of_the_state_shares_no_container_with_it():
    estado = Estado("CA1", params={"n": 1, "citas": [{"x": 1}]}, ruta=["menu"],
                    entradas=[["menu", "teclas", False]], candidatos=[1], citas=[2],
                    motivo={"codigo": 1, "texto": "Uno"},
                    transferencia_pendiente={"razon": "pidio_agente"})
    copia = estado.copia()
    assert copia == estado
    for nombre in CAMPOS:
        valor = getattr(estado, nombre)
        if isinstance(valor, (list, dict)):  # every container, including one added later
            assert getattr(copia, nombre) is not valor, nombre
    assert copia.entradas[0] is not estado.entradas[0]


def test_every_kind_of_value_comes_back_as_it_went(store):
    sid = f"CAvalores{time.time_ns()}"
    estado = Estado(sid, desde="+525511112222", nodo="motivo", intentos=2,
                    params={"n": 2, "clave": "ve chica, ñu", "menos_de_36h": False,
                            "citas": [{"tecla": "1", "fecha": "sábado 5 de diciembre"}]},
                    entradas=[["curp", "voz", True]],
                    motivo={"codigo": 5, "texto": "me mudo \"ya\""},
                    solicitante_nombre="María José Ñúñez \u2028<&>", terminada=True,
                    previo=["cita", "cita_pregunta", ["cita_lectura", "Su cita: <b> & 'c'"]])
    store.save(sid, estado)
    assert store.get(sid) == estado
    store.delete(sid)


@pytest.mark.redis
def test_each_thread_keeps_its_own_connection_and_gets_a_new_one_when_it_drops():
    store, sid = _en_redis()
    propio = store.cliente
    assert store.cliente is propio  # the same thread: the same client, one connection
    otros = []
    hilo = threading.Thread(target=lambda: otros.append((store.cliente, store.get(sid))))
    hilo.start()
    hilo.join()
    assert otros[0][0] is not propio and otros[0][1] == Estado(sid, nodo="curp")
    # The server drops this thread's connection (a restart, a timeout): the next request
    # connects again instead of failing the caller.
    mio = propio.client_id()
    redis.Redis.from_url(REDIS_URL).client_kill_filter(_id=mio)
    assert store.get(sid) == Estado(sid, nodo="curp")
    assert propio.client_id() != mio
    store.delete(sid)


@pytest.mark.redis
def test_a_forked_process_does_not_share_the_parents_connection():
    store, sid = _en_redis()
    padre = store.cliente
    lector, escritor = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own connection, and the state is read through it
        try:
            bien = store.cliente is not padre and store.get(sid) == Estado(sid, nodo="curp")
            os.write(escritor, b"1" if bien else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(lector, 1) == b"1"
    assert store.cliente is padre and store.get(sid) == Estado(sid, nodo="curp")
    store.delete(sid)
