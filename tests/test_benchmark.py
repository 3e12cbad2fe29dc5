"""The capacity benchmark runs end to end on a tiny setting (its figures are not checked)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RAIZ = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not shutil.which("wrk"),
                    reason="wrk no está instalado (./dev test lo instala: paquete wrk de Debian)")
@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server no está instalado")
@pytest.mark.parametrize("rondas", [1, 2])
def test_el_benchmark_corre_y_termina_con_la_proporcion(tmp_path, rondas):
    # In two rounds the floor and the line alternate, the line on fresh citas each round: the
    # check that every cita was cancelled by its own call covers both.
    r = subprocess.run(
        [sys.executable, str(RAIZ / "benchmarks" / "capacidad.py"),
         "--db", f"sqlite:///{tmp_path}/bench.sqlite3", "--llamantes", "2",
         "--segundos", str(rondas), "--rondas", str(rondas), "--vivas", "2",
         "--trabajadores", "1"],
        capture_output=True, text=True, timeout=120)
    lineas = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert [linea.split()[0] for linea in lineas if linea.startswith(("piso ", "línea "))] == [
        "piso", "línea"]
    assert any(linea.startswith("correcto bajo carga: ") for linea in lineas)
    assert any(linea.startswith("estado en Redis por llamada viva (2 en la lectura de la cita): ")
               for linea in lineas)
    assert lineas[-1].startswith("proporción línea/piso: webhooks/s ")
