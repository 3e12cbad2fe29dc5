"""Per-call state under the CallSid, with a TTL: Redis (one server or a Redis Cluster; deflated
JSON), or an in-process store for one process."""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from ivr.estado import Estado

log = logging.getLogger(__name__)
PREFIJO = "ivr:llamada:"
ERRORES_REDIS = (redis.RedisError, RedisClusterException)
# How long a save on a Redis Cluster waits for a replica to have it (see RedisStore._replicar).
ESPERA_REPLICA_MS = 100
NIVEL_ZLIB = 6
# A state this long or shorter is stored as its JSON: with Redis's own overhead per key it
# stays well under 1 KB (`./dev bench` prints what a live call weighs).
SIN_DESINFLAR = 600


def clave(call_sid: str) -> str:
    """The key of a call's state. The CallSid in braces is the Redis Cluster hash tag: every key
    of one call lands in the same slot, so one node (and one MULTI) serves the whole call."""
    return f"{PREFIJO}{{{call_sid}}}"


def cliente_redis(url: str, modo: str | None = None,
                  una_conexion: bool = False) -> redis.Redis | RedisCluster:
    """A client for REDIS_URL: a Redis Cluster when *modo* is "cluster" (the URL names any one
    node; the others are discovered), else the one server; *una_conexion*: a client of one
    thread, which keeps its one connection instead of taking it from a pool for each request."""
    opciones = {"socket_connect_timeout": 2, "socket_timeout": 2}
    if modo == "cluster":
        return RedisCluster.from_url(url, **opciones)
    if una_conexion:
        # A pool checks a connection each time it lends it, and replaces a dropped one; one
        # kept connection is replaced when a request finds it dropped (a restart, an idle
        # timeout), and the request, idempotent here, is sent once more on the new one.
        opciones["retry"] = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    return redis.Redis.from_url(url, single_connection_client=una_conexion, **opciones)


def empacar(estado: Estado) -> bytes:
    """The state as stored in Redis: its compact JSON, deflated when it is long (mostly the
    last answer, kept to repeat it: a cita's read-back shrinks to about a third), so that a
    live call weighs under 1 KB; a short one (a menu's) is kept as it is, and deflating it
    costs its webhook no CPU."""
    texto = estado.a_json()
    if len(texto) <= SIN_DESINFLAR:
        return texto
    return zlib.compress(texto, NIVEL_ZLIB, wbits=-15)


def desempacar(valor: bytes) -> Estado:
    """The state stored by `empacar` (or, from before it, plain JSON)."""
    return Estado.de_json(valor if valor[:1] == b"{" else zlib.decompress(valor, wbits=-15))


class StoreError(RuntimeError):
    """The state store could not be reached; the caller gets an apology and an agent."""


class RedisStore:
    """State in Redis: any web process can serve any step of any call."""

    def __init__(self, url: str, ttl: int, modo: str | None = None):
        self.ttl = ttl
        self.url = url
        self.modo = modo
        self._cliente: redis.Redis | RedisCluster | None = None
        self._candado = threading.Lock()
        self._hilo = threading.local()

    @property
    def cliente(self) -> redis.Redis | RedisCluster:
        """The client, made on first use: a cluster client asks the cluster for its nodes when
        made, and a cluster that is down at start-up must still let calls hear the apology.
        One server: each thread has its own client and connection (a worker's threads are
        few and long-lived), as checking a connection out of a pool and back for each request
        cost more CPU than the request itself."""
        if self.modo != "cluster":
            hilo = self._hilo
            cliente = getattr(hilo, "cliente", None)
            # A process forked after this thread connected (a preloaded app) must not share the
            # parent's socket: its own client, as redis-py's pool does for its connections.
            if cliente is None or hilo.pid != os.getpid():
                # It connects when made: Redis's own error if it can't (a StoreError in _pedir).
                cliente = hilo.cliente = cliente_redis(self.url, una_conexion=True)
                hilo.pid = os.getpid()
            return cliente
        if self._cliente is None:
            with self._candado:
                if self._cliente is None:
                    try:
                        self._cliente = cliente_redis(self.url, self.modo)
                    except ERRORES_REDIS as e:
                        raise StoreError(f"Redis no responde: {type(e).__name__}") from e
        return self._cliente

    def _pedir(self, orden: Callable[[redis.Redis | RedisCluster], Any]) -> Any:
        """Run one request against Redis; any failure of Redis is a StoreError."""
        try:
            return orden(self.cliente)
        except ERRORES_REDIS as e:
            raise StoreError(f"Redis no responde: {type(e).__name__}") from e

    def _orden(self, *orden) -> Any:
        """One command to the one server, on this thread's connection, its raw reply: what a
        webhook sends (GET, SET, DEL) skips the client's per-command machinery (its lock,
        retry wrapper and reply callbacks), which cost more CPU than the round trip. A dropped
        connection is replaced and the command, idempotent, sent once more on the new one, as
        the client's retry does."""
        try:
            conexion = self.cliente.connection
            try:
                conexion.send_command(*orden)
                return conexion.read_response()
            except redis.ConnectionError:
                conexion.disconnect()
                conexion.send_command(*orden)
                return conexion.read_response()
        except ERRORES_REDIS as e:
            raise StoreError(f"Redis no responde: {type(e).__name__}") from e

    def get(self, call_sid: str) -> Estado | None:
        """The call's state, or None if there is none (new call, or expired)."""
        if self.modo == "cluster":
            valor = self._pedir(lambda c: c.get(clave(call_sid)))
        else:
            valor = self._orden("GET", clave(call_sid))
        return desempacar(valor) if valor else None

    def save(self, call_sid: str, estado: Estado) -> None:
        """Store the state and restart its TTL (on a cluster, once a replica has it too)."""
        valor = empacar(estado)
        if self.modo == "cluster":
            self._pedir(lambda c: self._guardar_replicado(c, clave(call_sid), valor))
        else:
            self._orden("SET", clave(call_sid), valor, "EX", self.ttl)

    def _guardar_replicado(self, cluster: RedisCluster, k: str, valor: bytes) -> None:
        # Replication is asynchronous: a master that dies just after a write takes the write
        # with it, and its promoted replica would serve the call one step behind what the caller
        # heard. WAIT holds the answer until a replica has the write; it counts the writes of
        # its own connection, so SET and WAIT go together, on one connection of the key's
        # master, in one round trip.
        nodo = cluster.get_redis_connection(cluster.get_node_from_key(k))
        tubo = nodo.pipeline(transaction=False)
        tubo.set(k, valor, ex=self.ttl)
        tubo.execute_command("WAIT", 1, ESPERA_REPLICA_MS)
        try:
            _, copias = tubo.execute()
        except redis.ResponseError:
            # The slot moved (MOVED/ASK during a resharding or a failover): the cluster client
            # follows the move and refreshes its map; the replica's copy is not waited for.
            cluster.set(k, valor, ex=self.ttl)
            copias = None
        if not copias:
            log.warning("estado sin copia en una réplica clave=%s", k)

    def delete(self, call_sid: str) -> None:
        """Drop the state of an ended call."""
        if self.modo == "cluster":
            self._pedir(lambda c: c.delete(clave(call_sid)))
        else:
            self._orden("DEL", clave(call_sid))

    def ttl_de(self, call_sid: str) -> int:
        """Seconds left before the state expires (-2 when there is none)."""
        return self._pedir(lambda c: c.ttl(clave(call_sid)))


class MemoryStore:
    """State in this process's memory, for a newcomer's first run: one process only."""

    def __init__(self, ttl: int, reloj=time.monotonic):
        self.ttl = ttl
        self.reloj = reloj
        self._datos: dict[str, tuple[float, bytes]] = {}
        self._candado = threading.Lock()

    def get(self, call_sid: str) -> Estado | None:
        """The call's state, or None if there is none (new call, or expired)."""
        with self._candado:
            item = self._datos.get(call_sid)
            if item is None:
                return None
            vence, valor = item
            if vence <= self.reloj():
                del self._datos[call_sid]
                return None
            return Estado.de_json(valor)

    def save(self, call_sid: str, estado: Estado) -> None:
        """Store the state and restart its TTL; expired calls are swept on the way."""
        with self._candado:
            ahora = self.reloj()
            for sid in [s for s, (vence, _) in self._datos.items() if vence <= ahora]:
                del self._datos[sid]
            self._datos[call_sid] = (ahora + self.ttl, estado.a_json())

    def delete(self, call_sid: str) -> None:
        """Drop the state of an ended call."""
        with self._candado:
            self._datos.pop(call_sid, None)


def init_app(app) -> None:
    """Attach the store the config asks for: Redis when REDIS_URL is set (a Redis Cluster with
    REDIS_MODE=cluster), else in-process."""
    ttl = int(app.config["STATE_TTL_SECONDS"])
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["ivr_store"] = RedisStore(url, ttl, app.config.get("REDIS_MODE"))
    else:
        app.extensions["ivr_store"] = MemoryStore(ttl)
        if app.config.get("AVISOS_DE_SERVIDOR", True):
            log.warning("REDIS_URL no está definido: el estado de las llamadas vive en este "
                        "proceso; sirve para un solo proceso (desarrollo), no para producción")
