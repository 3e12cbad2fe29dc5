"""Benchmark: the line against its floor, under the Procfile's gunicorn and wrk.

Runs the floor (benchmarks/piso.py: a bare Flask view doing one Redis GET+SET and answering a
<Gather> built with the twilio library) and then the line, back to back, each under the
Procfile's `web:` gunicorn command (bound to 127.0.0.1 on a port the OS picks), with wrk
replaying whole keypad cancellations: one connection per caller, each walking its own calls step
by step (5, 1, 7, CURP, surname, cita, titular, motivo, confirm, status callback), signed as
Twilio signs, every answer checked. The agenda is loaded through the importer, sized from the
floor's pace so no caller runs dry. Prints webhooks/s, CPU per webhook (gunicorn, plus the
PostgreSQL backends and Redis) and latency for both, whether every call came out right, the
Redis memory of a live call, and the ratio on its last line.

    ./dev bench                                    # installs wrk if missing, then this
    .venv/bin/python benchmarks/capacidad.py --db postgresql://postgres@127.0.0.1:5432/bench \\
        --llamantes 50 --segundos 15

Redis: a redis-server of its own on a free local port (or --redis URL). PostgreSQL: --db, else
BENCH_DATABASE_URL, else the database ivr_bench on the local server (created if missing).
WARNING: it drops and recreates the tables of the database it is given.

The machine is measured as it is: on a shared machine the absolute figures move from run to
run; the ratio between the two halves of one run is what to compare.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

RAIZ = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RAIZ))

import redis  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from benchmarks.llamadas import agenda  # noqa: E402
from ivr import create_app, db, phone  # noqa: E402
from ivr.domain.keypad import a_teclas  # noqa: E402
from ivr.importer import importar_csv  # noqa: E402
from ivr.models import Base, Cancelacion, Cita, Derechohabiente, Llamada  # noqa: E402

TOKEN = "token-de-benchmark"
BASE = "https://linea.bench.test"
TECLAS_TRAS_APELLIDO = ("1", "1", "2", "1")  # this cita, as titular, motivo 2, confirm
CANCELADA = "quedó cancelada"
BD_PREDETERMINADA = "postgresql://postgres@127.0.0.1:5432/ivr_bench"
HOLGURA_AGENDA = 1.5  # the line could at most match the floor's pace; this much more agenda
TICK = os.sysconf("SC_CLK_TCK")


# -- one reference call, turned into a template for every other --------------------------------


@dataclass(frozen=True)
class Paso:
    """One webhook of the reference call: where, the form, and what its answer must contain."""

    ruta: str
    form: dict
    marca: str
    fin: bool  # its answer says the cita was cancelled


class Grabadora:
    """A transport that keeps each answer, in order."""

    def __init__(self, transporte):
        self.transporte = transporte
        self.base_url = transporte.base_url
        self.respuestas: list[str] = []

    def post(self, ruta, form, headers=None):
        r = self.transporte.post(ruta, form, headers)
        self.respuestas.append(r[2])
        return r

    def get(self, ruta, headers=None):
        return self.transporte.get(ruta, headers)


def llamada_de_referencia(tmp: Path, hoy: date) -> tuple[list[Paso], tuple[str, str], str]:
    """One whole keypad cancellation in-process, recorded: its steps, the person, the outcome."""
    csv_texto, (persona,) = agenda(1, hoy, seed=99)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/referencia.sqlite3", "REDIS_URL": None,
                      "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": BASE,
                      "AGENT_DIAL": "+525540001000", "AGENT_HOURS": "24/7",
                      "SECRET_KEY": "bench", "IN_PROCESS": True})
    with app.app_context():
        Base.metadata.create_all(db.engine_de(app))
        importar_csv(db.sesion(), io.StringIO(csv_texto))
        db.sesion().commit()
    grabadora = Grabadora(phone.FlaskTransport(app, BASE))
    tel = phone.Telefono(grabadora, TOKEN, public_base_url=BASE)
    tel.marcar()
    curp, apellido = persona
    for teclas in ("5", "1", "7", a_teclas(curp) + "#", a_teclas(apellido) + "#",
                   *TECLAS_TRAS_APELLIDO):
        tel.press(teclas)
    tel.silence()  # after the folio (which * would repeat), silence ends the call
    posts = [e for e in tel.transcripcion if e[0] == "post"]
    if tel.errores or len(posts) != len(grabadora.respuestas) or not tel.colgada:
        raise RuntimeError(f"la llamada de referencia no terminó bien: {tel.errores}")
    pasos = []
    for i, ((_, ruta, form), respuesta) in enumerate(zip(posts, grabadora.respuestas,
                                                         strict=True)):
        siguiente = posts[i + 1][1] if i + 1 < len(posts) else None
        if CANCELADA in respuesta:
            marca, fin = CANCELADA, True
        elif siguiente and siguiente != "/voice/status" and BASE + siguiente in respuesta:
            marca, fin = BASE + siguiente, False
        else:
            marca, fin = "<Response", False
        pasos.append(Paso(ruta, form, marca, fin))
    if sum(p.fin for p in pasos) != 1:
        raise RuntimeError("la llamada de referencia no canceló su cita")
    with app.app_context():
        desenlace = db.sesion().scalars(select(Llamada.desenlace)).one()
        db.engine_de(app).dispose()
    return pasos, persona, desenlace


def escribir_pedidos(carpeta: Path, pasos: list[Paso], referencia: tuple[str, str],
                     llamadas_por_llamante: list[list[tuple[str, str, str]]],
                     marca_fija: str | None = None) -> None:
    """One file per caller (1.tsv, 2.tsv...): its calls' webhooks in order, signed."""
    validador = RequestValidator(TOKEN)
    curp_ref, apellido_ref = a_teclas(referencia[0]), a_teclas(referencia[1])
    carpeta.mkdir(parents=True, exist_ok=True)
    for n, llamadas in enumerate(llamadas_por_llamante, start=1):
        lineas = []
        for call_sid, curp, apellido in llamadas:
            for paso in pasos:
                form = {**paso.form, "CallSid": call_sid}
                if form.get("Digits") == curp_ref:
                    form["Digits"] = a_teclas(curp)
                elif form.get("Digits") == apellido_ref:
                    form["Digits"] = a_teclas(apellido)
                firma = validador.compute_signature(BASE + paso.ruta, form)
                lineas.append("\t".join([paso.ruta, urlencode(form), firma,
                                         marca_fija or paso.marca, "1" if paso.fin else "0"]))
        (carpeta / f"{n}.tsv").write_text("\n".join(lineas) + "\n", encoding="utf-8")


def nuevo_sid() -> str:
    return "CA" + secrets.token_hex(16)


# -- processes and their CPU ---------------------------------------------------------------------


def cpu_de(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 if it is gone."""
    try:
        campos = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(campos[11]) + int(campos[12])) / TICK


def hijos_de(pid: int) -> list[int]:
    hijos = []
    for entrada in Path("/proc").iterdir():
        if entrada.name.isdigit():
            try:
                campos = (entrada / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(campos[1]) == pid:
                hijos.append(int(entrada.name))
    return hijos


def puerto_libre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisPropio:
    """A redis-server of the benchmark's own on a free local port, without persistence."""

    def __init__(self, carpeta: Path):
        self.puerto = puerto_libre()
        self.proceso = subprocess.Popen(
            ["redis-server", "--port", str(self.puerto), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(carpeta)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.puerto}/0"
        cliente = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                cliente.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.cerrar()
        raise RuntimeError("redis-server no arrancó")

    @property
    def pid(self) -> int:
        return self.proceso.pid

    def cerrar(self) -> None:
        self.proceso.terminate()
        self.proceso.wait(10)


def comando_web(app_spec: str | None = None) -> str:
    """The Procfile's web command, bound to 127.0.0.1 on a port the OS picks."""
    linea = next(linea for linea in (RAIZ / "Procfile").read_text().splitlines()
                 if linea.startswith("web:"))
    comando = linea.split(":", 1)[1].strip()
    if "0.0.0.0:$PORT" not in comando or "'ivr:create_app()'" not in comando:
        raise RuntimeError(f"el web: del Procfile cambió de forma: {comando}")
    comando = comando.replace("0.0.0.0:$PORT", "127.0.0.1:0")
    if app_spec:
        comando = comando.replace("'ivr:create_app()'", shlex.quote(app_spec))
    return comando


class Gunicorn:
    """The web command running in the background until closed."""

    def __init__(self, comando: str, entorno: dict, trabajadores: int, carpeta: Path):
        self.log = carpeta / f"gunicorn-{secrets.token_hex(3)}.log"
        env = {**os.environ, **entorno, "WEB_CONCURRENCY": str(trabajadores),
               "PATH": f"{RAIZ / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
               "PYTHONPATH": str(RAIZ)}
        with open(self.log, "wb") as log:
            self.proceso = subprocess.Popen(["bash", "-c", "exec " + comando], cwd=RAIZ, env=env,
                                            stdout=subprocess.DEVNULL, stderr=log)
        limite = time.monotonic() + 60
        while time.monotonic() < limite:
            texto = self.log.read_text(errors="replace")
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", texto)
            if m and texto.count("Booting worker") >= trabajadores:
                self.puerto = int(m.group(1))
                self._esperar_reposo(limite)
                return
            if self.proceso.poll() is not None:
                break
            time.sleep(0.1)
        self.cerrar()
        raise RuntimeError(f"gunicorn no arrancó:\n{self.log.read_text()[-3000:]}")

    def _esperar_reposo(self, limite: float) -> None:
        # A worker is booted before it imports the app (seconds, on a busy machine); it is
        # ready when it sits in accept(), using no CPU: wait for a second without any.
        anterior, quietos = -1.0, 0
        while quietos < 5 and time.monotonic() < limite:
            cpu = sum(cpu_de(p) for p in self.pids())
            quietos = quietos + 1 if cpu == anterior else 0
            anterior = cpu
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.puerto}"

    def errores(self) -> list[str]:
        """The ERROR lines (and gunicorn's worker timeouts) the server logged."""
        return [linea for linea in self.log.read_text(errors="replace").splitlines()
                if " ERROR " in linea or "[CRITICAL]" in linea or "[ERROR]" in linea]

    def pids(self) -> list[int]:
        return [self.proceso.pid, *hijos_de(self.proceso.pid)]

    def cerrar(self) -> None:
        if self.proceso.poll() is None:
            self.proceso.send_signal(signal.SIGTERM)
            try:
                self.proceso.wait(30)
            except subprocess.TimeoutExpired:
                self.proceso.kill()
                self.proceso.wait()


# -- one measured run ----------------------------------------------------------------------------


@dataclass
class Medida:
    """What wrk and /proc said about one half of the run."""

    peticiones: int
    segundos: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errores: int
    completas: int
    agotados: int
    socket: int
    cpu_app_s: float
    cpu_pg_s: float | None
    cpu_redis_s: float | None
    muestra: str = ""

    @property
    def por_segundo(self) -> float:
        return self.peticiones / self.segundos

    def ms_por_webhook(self, cpu_s: float | None) -> float | None:
        return None if cpu_s is None else 1000 * cpu_s / max(self.peticiones, 1)


def backends_pg(db_url: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the benchmark's database."""
    if not db_url or not db_url.startswith("postgres"):
        return {}
    engine = db.engine_for(db_url)
    try:
        with engine.connect() as c:
            pids = c.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND pid <> pg_backend_pid()")).all()
    finally:
        engine.dispose()
    return {pid: cpu_de(pid) for pid in pids}


def correr_wrk(wrk: str, servidor: Gunicorn, carpeta: Path, modo: str, llamantes: int,
               segundos: int, db_url: str | None, redis_pid: int | None) -> Medida:
    """wrk against the server: one thread and one connection per caller."""
    pg0 = backends_pg(db_url)
    app0 = sum(cpu_de(p) for p in servidor.pids())
    redis0 = cpu_de(redis_pid) if redis_pid else None
    salida = subprocess.run(
        [wrk, f"-t{llamantes}", f"-c{llamantes}", f"-d{segundos}s", "--timeout", "15s",
         "-s", str(RAIZ / "benchmarks" / "carga.lua"), servidor.url, "--", str(carpeta), modo],
        capture_output=True, text=True, check=True).stdout
    app1 = sum(cpu_de(p) for p in servidor.pids())
    redis1 = cpu_de(redis_pid) if redis_pid else None
    pg1 = backends_pg(db_url)
    cpu_pg = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items()) if pg1 else None
    m = re.search(r"^RESULTADO (.*)$", salida, re.M)
    if not m:
        raise RuntimeError(f"wrk no dio resultado:\n{salida}")
    v = {k: int(n) for k, n in (par.split("=") for par in m.group(1).split())}
    muestra = re.search(r"^MUESTRA (.*)$", salida, re.M)
    return Medida(
        peticiones=v["peticiones"], segundos=v["duracion_us"] / 1e6, p50_ms=v["p50_us"] / 1000,
        p99_ms=v["p99_us"] / 1000, max_ms=v["max_us"] / 1000, errores=v["errores"],
        completas=v["completas"], agotados=v["agotados"], socket=v["socket"],
        cpu_app_s=app1 - app0, cpu_pg_s=cpu_pg,
        cpu_redis_s=None if redis0 is None else redis1 - redis0,
        muestra=muestra.group(1) if muestra else "")


def juntar(medidas: list[Medida]) -> Medida:
    """Several rounds of one server as one measure: counts and CPU added up, latency the
    median round's (wrk gives percentiles per run, not its samples), the worst maximum."""
    if len(medidas) == 1:
        return medidas[0]

    def suma(valores):
        return None if any(v is None for v in valores) else sum(valores)

    return Medida(
        peticiones=sum(m.peticiones for m in medidas), segundos=sum(m.segundos for m in medidas),
        p50_ms=statistics.median(m.p50_ms for m in medidas),
        p99_ms=statistics.median(m.p99_ms for m in medidas),
        max_ms=max(m.max_ms for m in medidas), errores=sum(m.errores for m in medidas),
        completas=sum(m.completas for m in medidas), agotados=sum(m.agotados for m in medidas),
        socket=sum(m.socket for m in medidas), cpu_app_s=sum(m.cpu_app_s for m in medidas),
        cpu_pg_s=suma([m.cpu_pg_s for m in medidas]),
        cpu_redis_s=suma([m.cpu_redis_s for m in medidas]),
        muestra=next((m.muestra for m in medidas if m.muestra), ""))


# -- the agenda and the checks after the run ------------------------------------------------------


def preparar_base(db_url: str) -> None:
    """Create the database if it is missing (PostgreSQL), and fresh tables."""
    url = make_url(db.normalizar_url(db_url))
    if url.get_backend_name() == "postgresql":
        admin = db.engine_for(url.set(database="postgres").render_as_string(hide_password=False),
                              isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                existe = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": url.database})
                if not existe:
                    c.execute(text(f'CREATE DATABASE "{url.database}"'))
        finally:
            admin.dispose()
    engine = db.engine_for(db_url)
    try:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def importar(db_url: str, csv_texto: str) -> float:
    """Load the agenda through the importer; seconds it took."""
    app = create_app({"DATABASE_URL": db_url, "REDIS_URL": None, "SECRET_KEY": "bench",
                      "IN_PROCESS": True})
    with app.app_context():
        t0 = time.perf_counter()
        resultado = importar_csv(db.sesion(), io.StringIO(csv_texto))
        if resultado.errores:
            raise RuntimeError(f"agenda inválida: {resultado.errores[:3]}")
        db.sesion().commit()
        segundos = time.perf_counter() - t0
        db.engine_de(app).dispose()
    return segundos


def revisar(db_url: str, sid_por_curp: dict[str, str], medida: Medida, desenlace: str,
            cortadas: int) -> list[str]:
    """What went wrong under load, in the agenda and in the call records (empty: nothing)."""
    problemas = []
    if medida.errores or medida.socket:
        problemas.append(f"{medida.errores} respuestas inesperadas y {medida.socket} errores de "
                         f"conexión ({medida.muestra})")
    if medida.agotados:
        problemas.append(f"{medida.agotados} llamantes se quedaron sin llamadas: agenda corta")
    engine = db.engine_for(db_url)
    try:
        with engine.connect() as c:
            filas = c.execute(select(Derechohabiente.curp, Cancelacion.call_sid, Cancelacion.folio)
                              .join(Cita, Cita.derechohabiente_id == Derechohabiente.id)
                              .join(Cancelacion, Cancelacion.cita_id == Cita.id)).all()
            malas = c.scalar(select(func.count()).select_from(Llamada).where(
                Llamada.terminada_en.is_not(None), Llamada.desenlace != desenlace))
    finally:
        engine.dispose()
    ajenas = sum(1 for curp, sid, folio in filas if sid_por_curp.get(curp) != sid or not folio)
    # Calls cut by the end of a run (one per caller) may have cancelled without wrk seeing
    # the answer.
    if not medida.completas <= len(filas) <= medida.completas + cortadas:
        problemas.append(f"{len(filas)} cancelaciones para {medida.completas} llamadas completas")
    if ajenas:
        problemas.append(f"{ajenas} citas canceladas por otra llamada o sin folio")
    if malas:
        problemas.append(f"{malas} llamadas terminadas con un desenlace distinto de {desenlace}")
    return problemas


def memoria_por_llamada(servidor: Gunicorn, redis_url: str, personas, propio: bool,
                        hilos: int = 8) -> tuple[float, float | None]:
    """Redis bytes per live call, with calls waiting at the cita's read-back: the sum of MEMORY
    USAGE of their keys, and the growth of used_memory (own Redis only), per call."""
    cliente = redis.Redis.from_url(redis_url)
    # Requests wrk sent just before it stopped may still be in the server's queue.
    claves, limite = -1, time.monotonic() + 30
    while cliente.dbsize() != claves and time.monotonic() < limite:
        claves = cliente.dbsize()
        time.sleep(1)
    antes = set(cliente.scan_iter(count=1000))
    usada0 = cliente.info("memory")["used_memory"]

    def hasta_la_lectura(persona) -> None:
        curp, apellido = persona
        tel = phone.Telefono(phone.HttpTransport(servidor.url), TOKEN, public_base_url=BASE)
        tel.marcar()
        for teclas in ("5", "1", "7", a_teclas(curp) + "#", a_teclas(apellido) + "#"):
            tel.press(teclas)
        if tel.errores or not tel.esperando:
            raise RuntimeError(f"una llamada no llegó a la lectura de la cita: {tel.errores}")

    with ThreadPoolExecutor(hilos) as grupo:
        list(grupo.map(hasta_la_lectura, personas))
    nuevas = set(cliente.scan_iter(count=1000)) - antes
    por_claves = sum(cliente.memory_usage(k) or 0 for k in nuevas) / len(personas)
    usada = (cliente.info("memory")["used_memory"] - usada0) / len(personas) if propio else None
    return por_claves, usada


# -- the report ----------------------------------------------------------------------------------


def _ms(valor: float | None) -> str:
    return "—" if valor is None else f"{valor:.2f} ms"


def imprimir(nombre: str, m: Medida) -> None:
    print(f"{nombre:9} {m.por_segundo:11,.0f} {_ms(m.ms_por_webhook(m.cpu_app_s)):>11} "
          f"{_ms(m.ms_por_webhook(m.cpu_pg_s)):>11} {_ms(m.ms_por_webhook(m.cpu_redis_s)):>9} "
          f"{m.p50_ms:7.1f} {m.p99_ms:7.1f} {m.max_ms:8.1f} {m.completas:9,d} {m.errores:8d}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL") or BD_PREDETERMINADA,
                   help="PostgreSQL (or SQLite) URL; its tables are dropped and recreated")
    p.add_argument("--redis", help="a Redis URL instead of a redis-server of its own "
                                   "(its database is flushed)")
    p.add_argument("--llamantes", type=int, default=50, help="concurrent callers (connections)")
    p.add_argument("--segundos", type=int, default=15, help="seconds of load for each half")
    p.add_argument("--rondas", type=int, default=1,
                   help="rounds: floor and line alternate this many times, each half of "
                        "--segundos split between them (a busy machine then weighs on both)")
    p.add_argument("--trabajadores", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)),
                   help="gunicorn workers (WEB_CONCURRENCY)")
    p.add_argument("--vivas", type=int, default=200,
                   help="calls left waiting at the read-back to weigh their Redis state")
    p.add_argument("--wrk", default=shutil.which("wrk"), help="the wrk binary")
    args = p.parse_args(argv)
    # The in-process parts (reference call, import) would narrate every webhook.
    logging.getLogger("ivr").setLevel(logging.ERROR)
    if not args.wrk:
        print("falta wrk: `./dev bench` lo instala (paquete wrk de Debian)", file=sys.stderr)
        return 2

    tmp = tempfile.TemporaryDirectory(prefix="ivr-bench-")
    carpeta = Path(tmp.name)
    hoy = date.today()
    pasos, referencia, desenlace = llamada_de_referencia(carpeta, hoy)
    redis_propio = None if args.redis else RedisPropio(carpeta)
    redis_url = args.redis or redis_propio.url
    redis_pid = redis_propio.pid if redis_propio else None
    servidores: list[Gunicorn] = []
    try:
        # The floor: it keeps no agenda, so a few calls per caller, replayed in a loop.
        redis.Redis.from_url(redis_url).flushdb()
        _, pocas = agenda(args.llamantes * 4, hoy, seed=3)
        escribir_pedidos(carpeta / "piso", pasos, referencia,
                         [[(nuevo_sid(), *persona) for persona in pocas[i::args.llamantes]]
                          for i in range(args.llamantes)], marca_fija="<Gather")
        piso = Gunicorn(comando_web("benchmarks.piso:app"), {"REDIS_URL": redis_url},
                        args.trabajadores, carpeta)
        servidores.append(piso)
        segundos = max(1, round(args.segundos / args.rondas))
        medidas_piso = [correr_wrk(args.wrk, piso, carpeta / "piso", "ciclico", args.llamantes,
                                   segundos, None, redis_pid)]

        # The line: one cita per call, enough for the floor's pace and then some, every round.
        por_llamante = math.ceil(medidas_piso[0].por_segundo * segundos * HOLGURA_AGENDA
                                 / len(pasos) / args.llamantes) + 1
        csv_texto, personas = agenda(
            args.llamantes * por_llamante * args.rondas + args.vivas, hoy)
        preparar_base(args.db)
        segundos_importacion = importar(args.db, csv_texto)
        vivas, personas = personas[:args.vivas], personas[args.vivas:]
        sid_por_curp = {}
        por_ronda = args.llamantes * por_llamante
        for r in range(args.rondas):
            de_la_ronda = personas[r * por_ronda:(r + 1) * por_ronda]
            llamadas = [[(nuevo_sid(), *persona) for persona in de_la_ronda[i::args.llamantes]]
                        for i in range(args.llamantes)]
            escribir_pedidos(carpeta / f"linea{r}", pasos, referencia, llamadas)
            sid_por_curp.update({curp: sid for calls in llamadas for sid, curp, _ in calls})
        redis.Redis.from_url(redis_url).flushdb()
        linea = Gunicorn(comando_web(), {
            "DATABASE_URL": args.db, "REDIS_URL": redis_url, "TWILIO_AUTH_TOKEN": TOKEN,
            "PUBLIC_BASE_URL": BASE, "AGENT_DIAL": "+525540001000", "AGENT_HOURS": "24/7",
            "SECRET_KEY": "bench"}, args.trabajadores, carpeta)
        servidores.append(linea)
        medidas_linea = []
        for r in range(args.rondas):
            if r:  # the floor again, while the line waits idle
                medidas_piso.append(correr_wrk(args.wrk, piso, carpeta / "piso", "ciclico",
                                               args.llamantes, segundos, None, redis_pid))
            medidas_linea.append(correr_wrk(args.wrk, linea, carpeta / f"linea{r}", "unico",
                                            args.llamantes, segundos, args.db, redis_pid))
        piso.cerrar()
        m_piso, m_linea = juntar(medidas_piso), juntar(medidas_linea)
        problemas = revisar(args.db, sid_por_curp, m_linea, desenlace,
                            args.llamantes * args.rondas)
        errores_log = linea.errores()
        if errores_log:
            problemas.append(f"{len(errores_log)} errores en el registro del servidor, el "
                             f"primero: {errores_log[0][:300]}")
        por_claves, usada = memoria_por_llamada(linea, redis_url, vivas, redis_propio is not None)
        linea.cerrar()
    finally:
        for servidor in servidores:
            servidor.cerrar()
        if redis_propio:
            redis_propio.cerrar()

    print(f"agenda: {len(personas) + len(vivas):,} citas importadas en "
          f"{segundos_importacion:.1f} s; base: {make_url(args.db).database}; "
          f"Redis: {'propio' if redis_propio else 'el de --redis'}")
    print(f"servidor: {comando_web()} (WEB_CONCURRENCY={args.trabajadores}); "
          f"{args.llamantes} llamantes, {args.segundos} s cada mitad"
          + (f" en {args.rondas} rondas alternadas" if args.rondas > 1 else "") + "; "
          f"una llamada = {len(pasos)} webhooks")
    print(f"{'':9} {'webhooks/s':>11} {'CPU app':>11} {'CPU PG':>11} {'CPU Redis':>9} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'máx ms':>8} {'llamadas':>9} {'errores':>8}")
    imprimir("piso", m_piso)
    imprimir("línea", m_linea)
    if problemas:
        print("INCORRECTO bajo carga: " + "; ".join(problemas))
    else:
        print(f"correcto bajo carga: {m_linea.completas:,} llamadas completas, cada cita "
              f"cancelada por su llamada con su folio, 0 respuestas inesperadas")
    print(f"estado en Redis por llamada viva ({len(vivas)} en la lectura de la cita): "
          f"{por_claves:,.0f} B por MEMORY USAGE"
          + (f", {usada:,.0f} B de used_memory" if usada is not None else ""))
    print(f"proporción línea/piso: webhooks/s {m_linea.por_segundo / m_piso.por_segundo:.2f}× "
          f"(meta ≥ 0.6), p99 {m_linea.p99_ms / m_piso.p99_ms:.2f}× (meta ≤ 1.5)")
    return 1 if problemas else 0


if __name__ == "__main__":
    sys.exit(main())
