"""Per-call state under the CallSid, with a TTL: Redis, or an in-process store for one process."""

from __future__ import annotations

import logging
import threading
import time

import redis

from ivr.estado import Estado

log = logging.getLogger(__name__)
PREFIJO = "ivr:llamada:"


class StoreError(RuntimeError):
    """The state store could not be reached; the caller gets an apology and an agent."""


class RedisStore:
    """State in Redis: any web process can serve any step of any call."""

    def __init__(self, url: str, ttl: int):
        self.ttl = ttl
        self.cliente = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
        )

    def get(self, call_sid: str) -> Estado | None:
        """The call's state, or None if there is none (new call, or expired)."""
        try:
            valor = self.cliente.get(PREFIJO + call_sid)
        except redis.RedisError as e:
            raise StoreError(f"Redis no responde: {type(e).__name__}") from e
        return Estado.de_json(valor) if valor else None

    def save(self, call_sid: str, estado: Estado) -> None:
        """Store the state and restart its TTL."""
        try:
            self.cliente.set(PREFIJO + call_sid, estado.a_json(), ex=self.ttl)
        except redis.RedisError as e:
            raise StoreError(f"Redis no responde: {type(e).__name__}") from e

    def delete(self, call_sid: str) -> None:
        """Drop the state of an ended call."""
        try:
            self.cliente.delete(PREFIJO + call_sid)
        except redis.RedisError as e:
            raise StoreError(f"Redis no responde: {type(e).__name__}") from e

    def ttl_de(self, call_sid: str) -> int:
        """Seconds left before the state expires (-2 when there is none)."""
        return self.cliente.ttl(PREFIJO + call_sid)


class MemoryStore:
    """State in this process's memory, for a newcomer's first run: one process only."""

    def __init__(self, ttl: int, reloj=time.monotonic):
        self.ttl = ttl
        self.reloj = reloj
        self._datos: dict[str, tuple[float, str]] = {}
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
    """Attach the store the config asks for: Redis when REDIS_URL is set, else in-process."""
    ttl = int(app.config["STATE_TTL_SECONDS"])
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["ivr_store"] = RedisStore(url, ttl)
    else:
        app.extensions["ivr_store"] = MemoryStore(ttl)
        log.warning("REDIS_URL no está definido: el estado de las llamadas vive en este proceso; "
                    "sirve para un solo proceso (desarrollo), no para producción")
