"""Benchmark: what each webhook of a keypad cancellation costs the server, step by step.

The capacity benchmark (capacidad.py) says how fast the whole line goes on this box; this one
says where its CPU goes. It runs the app in-process (Flask's test client, signed as Twilio
signs), places whole keypad cancellations one after another and prints, per webhook, the CPU
time the server spent on it (this thread's CPU clock, inside the WSGI app: the simulated
phone's own work is not counted, and a loaded machine hardly moves it) and how many SQL
statements and COMMITs it sent. With --sql, the statements of one call; with --perfil N, the
N functions that cost the most CPU (cProfile on the CPU clock, which inflates call-heavy code).

    .venv/bin/python benchmarks/pasos.py --db postgresql://postgres@127.0.0.1:5432/bench \\
        --redis redis://127.0.0.1:6379/14 --llamadas 300 [--sql] [--perfil 40]

WARNING: it drops and recreates the tables of the database it is given, and flushes nothing
in Redis (each call has its own CallSid).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from benchmarks.llamadas import TOKEN, agenda, app_en_proceso, cargar_agenda  # noqa: E402
from ivr import db, phone  # noqa: E402
from ivr.domain.keypad import a_teclas  # noqa: E402


class Medidor:
    """WSGI middleware: the CPU each request spent in the app, and the SQL it sent, by path."""

    def __init__(self, app, engine, perfil: cProfile.Profile | None):
        self.wsgi = app.wsgi_app
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.sql: dict[str, list[str]] = defaultdict(list)
        self.perfil = perfil
        self._ruta = threading.local()
        event.listen(engine, "before_cursor_execute", self._sentencia)
        event.listen(engine, "commit", lambda _c: self._anotar("COMMIT"))

    def _sentencia(self, _conn, _cursor, sentencia, *_args) -> None:
        self._anotar(" ".join(sentencia.split())[:100])

    def _anotar(self, texto: str) -> None:
        self.sql[getattr(self._ruta, "valor", "(fuera de un webhook)")].append(texto)

    def __call__(self, environ, start_response):
        self._ruta.valor = environ["PATH_INFO"]
        if self.perfil:
            self.perfil.enable()
        inicio = time.thread_time()
        cuerpo = list(self.wsgi(environ, start_response))
        self.cpu[environ["PATH_INFO"]].append(time.thread_time() - inicio)
        if self.perfil:
            self.perfil.disable()
        self._ruta.valor = None
        return cuerpo

    def olvidar(self) -> None:
        self.cpu.clear()
        self.sql.clear()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="DATABASE_URL (default: a temporary SQLite file)")
    p.add_argument("--redis", help="REDIS_URL (default: the in-process store)")
    p.add_argument("--llamadas", type=int, default=200)
    p.add_argument("--sql", action="store_true", help="print the statements of one call")
    p.add_argument("--perfil", type=int, default=0, metavar="N",
                   help="print the N functions with the most CPU (cumulative)")
    args = p.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    db_url = args.db or f"sqlite:///{tmp.name}/bench.sqlite3"
    app = app_en_proceso(db_url, args.redis)
    csv_texto, personas = agenda(args.llamadas + 1, date.today())
    cargar_agenda(app, csv_texto)
    engine = db.engine_de(app)
    perfil = cProfile.Profile(time.thread_time) if args.perfil else None
    medidor = Medidor(app, engine, None)
    app.wsgi_app = medidor
    transporte = phone.FlaskTransport(app, "http://localhost")

    def llamar(persona) -> None:
        curp, apellido = persona
        tel = phone.Telefono(transporte, TOKEN, public_base_url="http://localhost")
        tel.marcar()
        for teclas in ("5", "1", "7", a_teclas(curp) + "#", a_teclas(apellido) + "#",
                       "1", "1", "2", "1"):
            tel.press(teclas)
        tel.colgar()
        if "Su cita quedó cancelada." not in tel.dicho or tel.errores:
            raise SystemExit(f"la llamada no canceló: {tel.errores or tel.dicho[-200:]}")

    # The webhook's log line is formatted and written as in production (the app's handler
    # writes to whatever sys.stderr is), to /dev/null.
    with open(os.devnull, "w") as nulo, contextlib.redirect_stderr(nulo):
        llamar(personas[0])  # warms the caches; its statements are the ones printed
        medidas = dict(medidor.sql)
        medidor.olvidar()
        medidor.perfil = perfil
        for persona in personas[1:]:
            llamar(persona)
    if args.sql:
        for ruta, sentencias in medidas.items():
            print(f"{ruta}  ({len(sentencias)})")
            for s in sentencias:
                print(f"    {s}")
    n = len(personas) - 1
    print(f"base: {'SQLite temporal' if not args.db else db_url.split('@')[-1]}; estado: "
          f"{'Redis' if args.redis else 'en proceso'}; {n} llamadas")
    print(f"{'webhook':28} {'por llamada':>11} {'CPU ms':>8} {'p90 ms':>8} {'SQL':>5} "
          f"{'COMMIT':>6}")
    total_cpu = total_webhooks = total_sql = total_commit = 0.0
    for ruta, tiempos in medidor.cpu.items():
        sentencias = medidor.sql.get(ruta, [])
        commits = sentencias.count("COMMIT")
        por_llamada = len(tiempos) / n
        total_cpu += sum(tiempos)
        total_webhooks += len(tiempos)
        total_sql += len(sentencias) - commits
        total_commit += commits
        print(f"{ruta:28} {por_llamada:11.1f} {statistics.mean(tiempos) * 1000:8.2f} "
              f"{sorted(tiempos)[int(0.9 * len(tiempos))] * 1000:8.2f} "
              f"{(len(sentencias) - commits) / len(tiempos):5.1f} {commits / len(tiempos):6.1f}")
    print(f"una llamada: {total_webhooks / n:.0f} webhooks, {total_cpu / n * 1000:.1f} ms de CPU, "
          f"{total_sql / n:.0f} sentencias SQL y {total_commit / n:.0f} COMMIT")
    print(f"CPU por webhook: {total_cpu / total_webhooks * 1000:.2f} ms")
    if perfil:
        pstats.Stats(perfil, stream=sys.stdout).sort_stats("cumulative").print_stats(args.perfil)
    with app.app_context():
        db.engine_de(app).dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
