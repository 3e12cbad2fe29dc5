"""Benchmark: whole keypad cancellations, timed webhook by webhook.

Loads an agenda of N derechohabientes (one cita each) through the real importer, then places
N calls that each cancel one cita (5, 1, 7, CURP, surname, cita, titular, motivo, confirm),
signed and followed as Twilio would, and prints latency percentiles per webhook and calls per
second. Numbers, not pass/fail: compare runs on the same machine.

    .venv/bin/python benchmarks/llamadas.py                        # SQLite + in-process store
    .venv/bin/python benchmarks/llamadas.py --db postgresql://postgres@127.0.0.1:5432/test \\
        --redis redis://127.0.0.1:6379/14 --llamadas 300 --hilos 8
    .venv/bin/python benchmarks/llamadas.py --url http://127.0.0.1:8000 ...   # a running server
        (the server must use the same DATABASE_URL, REDIS_URL and TWILIO_AUTH_TOKEN)

WARNING: it drops and recreates the tables of the database it is given.
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr import create_app, db, phone  # noqa: E402
from ivr.demo import con_digito  # noqa: E402
from ivr.domain.documento import validar_curp  # noqa: E402
from ivr.domain.keypad import a_teclas  # noqa: E402
from ivr.importer import COLUMNAS, importar_csv  # noqa: E402
from ivr.models import Base  # noqa: E402

TOKEN = "token-de-benchmark"
LETRAS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
APELLIDOS = ["Gómez", "Hernández", "Ruiz", "López", "Martínez", "Sánchez", "Pérez", "Flores",
             "Rivera", "Torres", "Ramírez", "Cruz", "Morales", "Reyes", "Jiménez", "Vargas"]
ESTADOS = ["DF", "MC", "JC", "NL", "PL", "VZ", "GT", "OC"]


def curp_al_azar(rng: random.Random, apellido: str, nacimiento: date,
                 homoclave: str | None = None) -> str:
    """A CURP with its check digit, its first letter the surname's (as RENAPO forms them); the
    homoclave digit drawn unless given. It may still be an 'inconvenient word': validate it."""
    return con_digito(apellido[:1].upper() + rng.choice("AEIOU")
                      + "".join(rng.choice(LETRAS) for _ in range(2))
                      + nacimiento.strftime("%y%m%d") + rng.choice("HM") + rng.choice(ESTADOS)
                      + "".join(rng.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(3))
                      + (homoclave if homoclave is not None else rng.choice("0123456789")))


def _persona(i: int, rng: random.Random) -> tuple[str, str]:
    """A valid CURP and its surname."""
    apellido = APELLIDOS[i % len(APELLIDOS)]
    nacimiento = date(1950, 1, 1) + timedelta(days=i * 7 % 18000)
    # The homoclave digit makes CURPs unique; a clash just means another draw.
    return curp_al_azar(rng, apellido, nacimiento, str(i // 10 % 10)), apellido


def agenda(n: int, hoy: date, seed: int = 7) -> tuple[str, list[tuple[str, str]]]:
    """An importer CSV of n derechohabientes with one cita each, and their (CURP, surname).

    No two CURPs share their keypad form: each keyed call must find exactly one person."""
    rng = random.Random(seed)
    filas, personas, vistos, claves = [",".join(COLUMNAS)], [], set(), set()
    i = 0
    while len(personas) < n:
        curp, apellido = _persona(i, rng)
        i += 1
        if a_teclas(curp) in vistos or not validar_curp(curp):  # e.g. an "inconvenient word"
            continue
        vistos.add(a_teclas(curp))
        clave = "".join(rng.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(6))
        if clave in claves:
            continue
        claves.add(clave)
        fecha = hoy + timedelta(days=3 + len(personas) % 20)
        filas.append(",".join([curp, "", "Nombre", apellido, "", "5500000000", clave,
                               "UAPES No. 4", "01", fecha.isoformat(), "10:00", "10:15",
                               "agendada"]))
        personas.append((curp, apellido))
    return "\n".join(filas) + "\n", personas


def app_en_proceso(db_url: str, redis_url: str | None):
    """The app as the in-process call benchmarks run it: this database and Redis (None: the
    in-process store), the benchmark's token, agents around the clock."""
    return create_app({"DATABASE_URL": db_url, "REDIS_URL": redis_url,
                       "TWILIO_AUTH_TOKEN": TOKEN, "AGENT_DIAL": "+525540001000",
                       "AGENT_HOURS": "24/7", "SECRET_KEY": "bench", "IN_PROCESS": True})


def cargar_agenda(app, csv_texto: str) -> float:
    """Fresh tables, and the agenda loaded through the importer; the seconds the import took
    (a bad agenda ends the benchmark, saying why)."""
    with app.app_context():
        engine = db.engine_de(app)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        t0 = time.perf_counter()
        resultado = importar_csv(db.sesion(), io.StringIO(csv_texto))
        if resultado.errores:
            raise SystemExit(f"agenda inválida: {resultado.errores[:3]}")
        db.sesion().commit()
        return time.perf_counter() - t0


class Cronometro:
    """A transport that times each request by its path."""

    def __init__(self, transporte):
        self.transporte = transporte
        self.base_url = transporte.base_url
        self.tiempos: dict[str, list[float]] = defaultdict(list)
        self._cerrojo = threading.Lock()

    def _medir(self, ruta, fn):
        t0 = time.perf_counter()
        r = fn()
        dt = time.perf_counter() - t0
        with self._cerrojo:
            self.tiempos[urlsplit(ruta).path].append(dt)
        return r

    def post(self, ruta, form, headers=None):
        return self._medir(ruta, lambda: self.transporte.post(ruta, form, headers))

    def get(self, ruta, headers=None):
        return self._medir(ruta, lambda: self.transporte.get(ruta, headers))


def _ms(valores: list[float], q: float) -> float:
    ordenados = sorted(valores)
    return 1000 * ordenados[min(len(ordenados) - 1, int(q * len(ordenados)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="DATABASE_URL (default: a temporary SQLite file)")
    p.add_argument("--redis", help="REDIS_URL (default: the in-process store)")
    p.add_argument("--url", help="a running server's base URL instead of the app in-process")
    p.add_argument("--llamadas", type=int, default=200)
    p.add_argument("--hilos", type=int, default=1, help="concurrent calls")
    args = p.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    db_url = args.db or f"sqlite:///{tmp.name}/bench.sqlite3"
    app = app_en_proceso(db_url, args.redis)
    logging.getLogger("ivr").setLevel(logging.WARNING)
    hoy = date.today()
    csv_texto, personas = agenda(args.llamadas, hoy)
    importacion = cargar_agenda(app, csv_texto)
    base = args.url or "http://localhost"
    cronometro = Cronometro(phone.HttpTransport(args.url) if args.url
                            else phone.FlaskTransport(app, base))

    def llamar(persona) -> bool:
        curp, apellido = persona
        tel = phone.Telefono(cronometro, TOKEN, public_base_url=base)
        tel.marcar()
        for teclas in ("5", "1", "7", a_teclas(curp) + "#", a_teclas(apellido) + "#",
                       "1", "1", "2", "1"):
            tel.press(teclas)
        return "Su cita quedó cancelada." in tel.dicho and not tel.errores

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.hilos) as grupo:
        resultados = list(grupo.map(llamar, personas))
    total = time.perf_counter() - t0

    print(f"agenda: {args.llamadas} citas importadas en {importacion * 1000:.0f} ms")
    print(f"base: {db_url.split('@')[-1] if args.db else 'SQLite temporal'}; estado: "
          f"{'Redis' if args.redis else 'en proceso'}; "
          f"{'servidor ' + args.url if args.url else 'app en proceso'}; hilos: {args.hilos}")
    print(f"llamadas completas: {sum(resultados)}/{len(resultados)} en {total:.2f} s "
          f"({len(resultados) / total:.1f} llamadas/s, "
          f"{sum(len(v) for v in cronometro.tiempos.values()) / total:.0f} webhooks/s)")
    print(f"{'webhook':28} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for ruta, valores in sorted(cronometro.tiempos.items()):
        print(f"{ruta:28} {len(valores):6d} {statistics.median(valores) * 1000:8.1f} "
              f"{_ms(valores, 0.95):8.1f} {max(valores) * 1000:8.1f}")
    with app.app_context():
        db.engine_de(app).dispose()
    return 0 if all(resultados) else 1


if __name__ == "__main__":
    sys.exit(main())
