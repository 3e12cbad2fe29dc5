"""A real local Redis Cluster for the tests: 3 masters + 3 replicas of redis-server, free ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

NODOS = 6
# How long a silent master takes to be declared failed; its replica is promoted right after.
NODE_TIMEOUT_MS = 1000


def puertos_libres(n: int) -> list[int]:
    """n distinct ports the OS says are free on loopback (held together, then released)."""
    with ExitStack() as pila:
        sockets = [pila.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def esperar(condicion, segundos: float, que: str) -> None:
    """Poll until condicion() is true, or fail saying what never happened."""
    limite = time.monotonic() + segundos
    while time.monotonic() < limite:
        try:
            if condicion():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"el cluster de Redis no llegó a: {que}")


@dataclass
class Nodo:
    """One redis-server of the cluster."""

    puerto: int
    puerto_bus: int
    carpeta: Path
    proceso: subprocess.Popen | None = None

    def arrancar(self) -> None:
        """Start (or restart, with its nodes.conf: it rejoins the cluster) this server."""
        self.proceso = subprocess.Popen(
            ["redis-server", "--port", str(self.puerto), "--cluster-port", str(self.puerto_bus),
             "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout",
             str(NODE_TIMEOUT_MS), "--cluster-require-full-coverage", "no",
             "--save", "", "--appendonly", "no",
             "--dir", str(self.carpeta), "--logfile", str(self.carpeta / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        esperar(lambda: self.cliente().ping(), 10, f"arrancar el nodo {self.puerto}")

    def cliente(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.puerto, socket_connect_timeout=1,
                           socket_timeout=1, decode_responses=True)

    def matar(self) -> None:
        """SIGKILL: the server dies as a crashed machine would, without a word to the others."""
        if self.proceso and self.proceso.poll() is None:
            self.proceso.kill()
            self.proceso.wait(10)

    def detener(self) -> None:
        if self.proceso and self.proceso.poll() is None:
            self.proceso.terminate()
            self.proceso.wait(10)


@dataclass
class ClusterRedis:
    """The running cluster: its nodes and what a test asks of them."""

    nodos: list[Nodo] = field(default_factory=list)

    @property
    def url(self) -> str:
        """REDIS_URL as an operator would set it: any one node."""
        return f"redis://127.0.0.1:{self.nodos[0].puerto}"

    def vivos(self) -> list[Nodo]:
        return [n for n in self.nodos if n.proceso and n.proceso.poll() is None]

    def maestro_de(self, clave: str) -> Nodo:
        """The node that serves this key now (the master of its slot)."""
        cliente = self.vivos()[0].cliente()
        slot = cliente.cluster("keyslot", clave)
        for inicio, fin, (_, puerto, *_), *_ in cliente.execute_command("CLUSTER SLOTS"):
            if inicio <= slot <= fin:
                return next(n for n in self.nodos if n.puerto == puerto)
        raise AssertionError(f"ningún maestro sirve la clave {clave}")

    def sano(self) -> bool:
        """Every live node sees the cluster ok; every master has a replica, every replica is
        in sync with its master."""
        vivos = self.vivos()
        if any(n.cliente().cluster("info").get("cluster_state") != "ok" for n in vivos):
            return False
        replicacion = [n.cliente().info("replication") for n in vivos]
        return all(r["connected_slaves"] >= 1 if r["role"] == "master"
                   else r.get("master_link_status") == "up" for r in replicacion)

    def esperar_sano(self, segundos: float = 30) -> None:
        esperar(self.sano, segundos, "estado ok con sus réplicas sincronizadas")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master + 3-replica Redis Cluster on free local ports, torn down after the session;
    skipped (with the reason) where redis-server or redis-cli is missing."""
    faltan = [p for p in ("redis-server", "redis-cli") if not shutil.which(p)]
    if faltan:
        pytest.skip(f"Redis Cluster: falta {', '.join(faltan)} (paquete redis-server de Debian)")
    puertos = puertos_libres(2 * NODOS)
    raiz = tmp_path_factory.mktemp("redis-cluster")
    cluster = ClusterRedis()
    try:
        for i in range(NODOS):
            carpeta = raiz / str(puertos[i])
            carpeta.mkdir()
            nodo = Nodo(puertos[i], puertos[NODOS + i], carpeta)
            cluster.nodos.append(nodo)
            nodo.arrancar()
        subprocess.run(["redis-cli", "--cluster", "create",
                        *(f"127.0.0.1:{n.puerto}" for n in cluster.nodos),
                        "--cluster-replicas", "1", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        cluster.esperar_sano()
        yield cluster
    finally:
        for nodo in cluster.nodos:
            nodo.detener()
