"""Deployable as platforms expect: the Python version, the lock files, `python -m ivr`."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

RAIZ = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((RAIZ / "pyproject.toml").read_text())["project"]
REGENERAR = "the lock is stale: run `./dev lock` and commit requirements*.txt"


def fijadas(archivo: str) -> dict[str, str]:
    """{package: pinned version} of a compiled requirements file; a package pinned apart per
    Python version appears once per marker ("deprecated ; python_full_version < '3.12'")."""
    versiones = {}
    for linea in (RAIZ / archivo).read_text().splitlines():
        linea = linea.strip()
        if not linea or linea.startswith(("#", "-e")):
            continue
        requisito = Requirement(linea)
        [especificador] = requisito.specifier
        assert especificador.operator == "==", linea
        nombre = canonicalize_name(requisito.name)
        versiones[f"{nombre} ; {requisito.marker}" if requisito.marker else nombre] = (
            especificador.version)
    return versiones


@pytest.mark.parametrize("archivo, dependencias", [
    ("requirements.txt", PYPROJECT["dependencies"]),
    ("requirements-dev.txt", PYPROJECT["dependencies"]
     + PYPROJECT["optional-dependencies"]["test"]),
])
def test_every_dependency_of_pyproject_is_pinned_within_its_range(archivo, dependencias):
    versiones = fijadas(archivo)
    for texto in dependencias:
        requisito = Requirement(texto)
        nombre = canonicalize_name(requisito.name)
        pines = {k: v for k, v in versiones.items() if k.split(" ;")[0] == nombre}
        assert pines, f"{nombre} falta en {archivo}: {REGENERAR}"
        for pin, version in pines.items():
            assert requisito.specifier.contains(version), (
                f"{archivo} fija {pin}=={version}, fuera de {requisito.specifier}: {REGENERAR}")


def test_both_lock_files_pin_the_same_versions():
    app, dev = fijadas("requirements.txt"), fijadas("requirements-dev.txt")
    assert {n: v for n, v in dev.items() if n in app} == app, REGENERAR


def test_the_buildpack_install_includes_the_project_itself():
    """A platform runs `pip install -r requirements.txt` only: the project must be in it (the
    Procfile's `ivr db upgrade`), editable so flows/ and audio_prompts/ stay beside it."""
    lineas = (RAIZ / "requirements.txt").read_text().splitlines()
    assert "-e ." in lineas
    assert "-e ." in (RAIZ / "requirements-dev.txt").read_text().splitlines()


def test_python_version_file_is_one_the_project_supports():
    version = (RAIZ / ".python-version").read_text().strip()
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(version + ".0")


def test_python_dash_m_ivr_is_the_ivr_command():
    resultado = subprocess.run([sys.executable, "-m", "ivr", "--help"], cwd=RAIZ,
                               capture_output=True, text=True, timeout=60)
    assert resultado.returncode == 0, resultado.stderr
    assert resultado.stdout.startswith("Uso: ivr ")
    assert "import-citas" in resultado.stdout and "demo-data" in resultado.stdout
