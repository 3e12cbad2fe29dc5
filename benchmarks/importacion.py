"""Benchmark: `ivr import-citas` on N generated rows, first load and re-import, in seconds.

Generates an agenda of N citas (valid CURPs, accented surnames, one or two citas per person,
a few unidades), writes it as a CSV file the way Excel in es-MX saves it (Windows-1252, `;`,
dd/mm/aaaa, H:MM) or as plain UTF-8 (`--utf8`), then imports it twice into the database it is
given, committing each time: the first load creates everything, the second changes nothing.
Prints the seconds of each, and the CPU seconds this process spent (on a busy machine the two
part ways: the rest is waiting for the CPU or for the database). Numbers, not pass/fail:
compare runs on the same machine.

    .venv/bin/python benchmarks/importacion.py                      # a temporary SQLite file
    .venv/bin/python benchmarks/importacion.py --filas 100000 \\
        --db postgresql://postgres@127.0.0.1:5432/test

WARNING: it drops and recreates the tables of the database it is given.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session  # noqa: E402

from benchmarks.llamadas import curp_al_azar  # noqa: E402
from ivr import db  # noqa: E402
from ivr.domain.documento import validar_curp  # noqa: E402
from ivr.importer import COLUMNAS, importar_csv  # noqa: E402
from ivr.models import Base  # noqa: E402

CLAVES = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
APELLIDOS = ["Gómez", "Hernández", "Ruiz", "López", "Martínez", "Sánchez", "Pérez", "Núñez",
             "Rivera", "Torres", "Ramírez", "Cruz", "Morales", "Reyes", "Jiménez", "Vargas"]
NOMBRES = ["Ana", "José", "María", "Juan", "Sofía", "Raúl", "Begoña", "Iñaki"]


def filas(n: int, hoy: date, excel: bool, seed: int = 7) -> list[list[str]]:
    """N rows of valid citas; every third person has two."""
    rng = random.Random(seed)
    resultado, curps, claves = [], set(), set()
    while len(resultado) < n:
        apellido = rng.choice(APELLIDOS)
        curp = curp_al_azar(rng, apellido,
                            date(1950, 1, 1) + timedelta(days=rng.randrange(18000)))
        if curp in curps or not validar_curp(curp):  # e.g. an "inconvenient word" prefix
            continue
        curps.add(curp)
        persona = [curp, "", rng.choice(NOMBRES), apellido, rng.choice(APELLIDOS),
                   f"55{rng.randrange(10**8):08d}"]
        for _ in range(2 if len(curps) % 3 == 0 else 1):
            clave = "".join(rng.choice(CLAVES) for _ in range(6))
            if clave in claves:
                continue
            claves.add(clave)
            fecha = hoy + timedelta(days=rng.randrange(1, 60))
            hora = 8 * 60 + 15 * rng.randrange(32)
            inicio, fin = divmod(hora, 60), divmod(hora + 15, 60)
            if excel:
                fechas = fecha.strftime("%d/%m/%Y")
                horas = [f"{inicio[0]}:{inicio[1]:02d}", f"{fin[0]}:{fin[1]:02d}"]
            else:
                fechas = fecha.isoformat()
                horas = [f"{inicio[0]:02d}:{inicio[1]:02d}", f"{fin[0]:02d}:{fin[1]:02d}"]
            resultado.append([*persona, clave, f"UAPES No. {rng.randrange(1, 9)}",
                              f"{rng.randrange(1, 12):02d}", fechas, *horas,
                              "Agendada" if excel else "agendada"])
    return resultado[:n]


def archivo(ruta: Path, n: int, excel: bool) -> None:
    """Write the CSV: Excel es-MX style (cp1252, `;`) or UTF-8 with `,`."""
    separador, codificacion = (";", "cp1252") if excel else (",", "utf-8")
    lineas = [separador.join(COLUMNAS)]
    lineas += [separador.join(f) for f in filas(n, date.today(), excel)]
    ruta.write_bytes(("\r\n".join(lineas) + "\r\n").encode(codificacion))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    p.add_argument("--filas", type=int, default=20000)
    p.add_argument("--utf8", action="store_true",
                   help="UTF-8, `,`, AAAA-MM-DD instead of Excel's es-MX CSV")
    args = p.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{tmp.name}/bench.sqlite3"
    ruta = Path(tmp.name) / "agenda.csv"
    archivo(ruta, args.filas, excel=not args.utf8)
    engine = db.engine_for(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    print(f"base: {url.split('@')[-1] if args.db else 'SQLite temporal'}; "
          f"{args.filas} filas, {'UTF-8 ,' if args.utf8 else 'Windows-1252 ;'}")
    codigo = 0
    for vez in ("primera carga", "reimportación"):
        with Session(engine) as session:
            t0, cpu0 = time.perf_counter(), time.process_time()
            resultado = importar_csv(session, ruta)
            session.commit()
            segundos, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if resultado.errores:
            print(f"{vez}: {len(resultado.errores)} errores, p. ej. {resultado.errores[:3]}")
            codigo = 1
            break
        print(f"{vez}: {segundos:.2f} s, {cpu:.2f} s de CPU de este proceso "
              f"({resultado.creados} nuevas, "
              f"{resultado.actualizados} actualizadas, {resultado.sin_cambios} sin cambios)")
    engine.dispose()
    return codigo


if __name__ == "__main__":
    sys.exit(main())
