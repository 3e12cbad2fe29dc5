"""The line behind a real PgBouncer in transaction mode (PGBOUNCER=1), as the README's Scaling
section recommends past a few boxes: each transaction may get another server connection."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ivr import db
from ivr.models import Cancelacion, Llamada
from tests.cluster_redis import puertos_libres
from tests.llamadas import GOMEZ, HERNANDEZ, NUNEZ, RUIZ, cargar_agenda, nueva_app
from tests.llamadas import Llamada as LlamadaDePrueba
from tests.test_cluster import _terminar
from tests.test_llamada import identificar

pytestmark = pytest.mark.postgres
PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None)
CANCELADA = "Su cita quedó cancelada."


def _esperar_puerto(puerto: int, proceso: subprocess.Popen, log) -> None:
    limite = time.monotonic() + 15
    while time.monotonic() < limite:
        if proceso.poll() is not None:
            raise AssertionError(f"pgbouncer terminó al arrancar:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", puerto), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("pgbouncer no escuchó en 15 s")


@pytest.fixture(scope="module")
def pgbouncer_url(postgres_url):
    """A PgBouncer in transaction mode in front of the tests' PostgreSQL: two server
    connections, kept open and handed out in turn (server_round_robin), so consecutive
    transactions of one client connection land on different server connections."""
    if PGBOUNCER is None:
        pytest.skip("pgbouncer no está instalado (./dev test lo instala con apt, como root)")
    destino = make_url(postgres_url)
    # Its own folder under /tmp: pytest's are private to root, and PgBouncer may run as another
    # user.
    carpeta = Path(tempfile.mkdtemp(prefix="ivr-pgbouncer-"))
    puerto = puertos_libres(1)[0]
    usuario = destino.username or "postgres"
    (carpeta / "usuarios.txt").write_text(f'"{usuario}" ""\n')
    log = carpeta / "pgbouncer.log"
    (carpeta / "pgbouncer.ini").write_text(f"""\
[databases]
{destino.database} = host={destino.host or '127.0.0.1'} port={destino.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {puerto}
unix_socket_dir =
auth_type = trust
auth_file = {carpeta / 'usuarios.txt'}
pool_mode = transaction
default_pool_size = 2
min_pool_size = 2
server_round_robin = 1
max_client_conn = 200
""")
    comando = [PGBOUNCER, str(carpeta / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root; the database's own system user runs it.
        shutil.chown(carpeta, user="postgres")
        for archivo in carpeta.iterdir():
            shutil.chown(archivo, user="postgres")
        comando = ["runuser", "-u", "postgres", "--", *comando]
    with open(log, "ab") as salida:
        proceso = subprocess.Popen(comando, stdout=salida, stderr=subprocess.STDOUT)
    try:
        _esperar_puerto(puerto, proceso, log)
        url = destino.set(host="127.0.0.1", port=puerto).render_as_string(hide_password=False)
        _abrir_dos_conexiones(url)
        yield url
    finally:
        proceso.terminate()
        proceso.wait(10)
        shutil.rmtree(carpeta, ignore_errors=True)


def _abrir_dos_conexiones(url: str) -> None:
    """Two transactions at once make PgBouncer open its two server connections now."""
    engine = db.engine_for(url, pgbouncer=True, pool_size=2)
    try:
        with engine.connect() as una, engine.connect() as otra:
            una.execute(text("SELECT 1"))
            otra.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _consultas_repetidas(engine, veces: int) -> None:
    """The same statement in separate transactions, as a worker serves webhooks: psycopg
    prepares it on the server from its fifth execution on."""
    with engine.connect() as conexion:
        for i in range(veces):
            assert conexion.execute(text("SELECT :n + 1"), {"n": i}).scalar() == i + 1
            conexion.commit()


def test_without_pgbouncer_mode_a_prepared_statement_goes_missing(pgbouncer_url):
    # What PGBOUNCER=1 is for: without it, the statement prepared on one server connection is
    # asked for on the other one.
    engine = db.engine_for(pgbouncer_url, pool_size=1)
    try:
        with pytest.raises(DBAPIError, match="prepared statement"):
            _consultas_repetidas(engine, 12)
    finally:
        engine.dispose()


def test_with_pgbouncer_mode_nothing_is_prepared_and_every_statement_runs(pgbouncer_url):
    engine = db.engine_for(pgbouncer_url, pgbouncer=True, pool_size=1)
    try:
        _consultas_repetidas(engine, 40)
    finally:
        engine.dispose()


def _dicho_todo(llamada: LlamadaDePrueba) -> str:
    return " ".join(e[1] for e in llamada.tel.transcripcion if e[0] == "say")


def test_whole_calls_through_pgbouncer_cancel_with_their_folios(pgbouncer_url):
    # Four callers at a time through two server connections cancel their citas; then each of
    # them calls four times more and finds nothing left to cancel. Every statement of the path
    # runs more than five times on a pooled connection (psycopg's threshold for preparing it):
    # with PGBOUNCER unset, those repeated calls hear the apology.
    app = nueva_app(pgbouncer_url, "memoria", PGBOUNCER=True, DATABASE_POOL_SIZE=2)
    cargar_agenda(app)
    personas = [GOMEZ, HERNANDEZ, NUNEZ, RUIZ]

    def cancelar(persona) -> tuple[str, str]:
        llamada = LlamadaDePrueba(app)
        identificar(llamada, persona)
        if llamada.nodo == "citas":
            llamada.press("1")
        _terminar(llamada)
        return llamada.tel.call_sid, _dicho_todo(llamada)

    def otra_vez(persona) -> tuple[str, str]:
        llamada = LlamadaDePrueba(app)
        identificar(llamada, persona)
        dicho = _dicho_todo(llamada)
        llamada.tel.colgar()
        return llamada.tel.call_sid, dicho

    try:
        with ThreadPoolExecutor(4) as grupo:
            canceladas = list(grupo.map(cancelar, personas))
            repetidas = list(grupo.map(otra_vez, personas * 4))
        assert all(CANCELADA in dicho for _, dicho in canceladas), canceladas
        assert all(CANCELADA not in dicho and "problema" not in dicho
                   for _, dicho in repetidas), repetidas
        with app.app_context():
            s = db.sesion()
            folios = s.scalars(select(Cancelacion.folio)).all()
            registros = [s.get(Llamada, sid) for sid, _ in canceladas + repetidas]
        assert len(folios) == len(personas) and all(folios)
        assert all(r is not None and r.terminada_en is not None for r in registros)
    finally:
        db.engine_de(app).dispose()
