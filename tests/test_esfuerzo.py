"""The caller-effort benchmark walks both whole calls (its figures are printed, not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RAIZ = Path(__file__).resolve().parent.parent


def test_el_benchmark_de_esfuerzo_recorre_los_dos_caminos():
    r = subprocess.run([sys.executable, str(RAIZ / "benchmarks" / "esfuerzo.py"),
                        "--llamadas", "1", "--texto"],
                       capture_output=True, text=True, timeout=120, cwd=RAIZ)
    assert r.returncode == 0, r.stdout + r.stderr
    lineas = r.stdout.splitlines()
    pasos = [linea.split("  ")[0] for linea in lineas
             if linea[:1].isalpha() and not linea.startswith(("paso", "total", "teclado:"))]
    # The keypad goes 5, 1, 7; by voice "cancelar mi cita" at the first menu skips two menus.
    assert pasos == [
        "menú principal", "menú préstamos", "menú citas", "CURP", "apellido",
        "lectura de la cita", "solicitante", "motivo", "confirmación", "cancelada y folio",
        "menú principal", "CURP", "apellido", "lectura de la cita", "solicitante", "motivo",
        "confirmación", "cancelada y folio"]
    assert "    «Su cita quedó cancelada. Su folio es: " in r.stdout
    assert lineas[-1].startswith("teclado: ") and "; voz: " in lineas[-1]
