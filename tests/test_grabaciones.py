"""/audio serves the catalog's recordings and nothing else on the disk (issue 8, defect 2)."""

from __future__ import annotations

import shutil

import pytest

from ivr.config import RAIZ
from tests.llamadas import nueva_app

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00grabacion"


@pytest.fixture
def app(tmp_path):
    """The app with a prompts folder holding one recording, a non-audio file beside it, and
    secrets around it (a `.env` and a `pyproject.toml` one level up, as in a checkout)."""
    raiz = tmp_path / "checkout"
    prompts = raiz / "audio_prompts"
    (prompts / "es-MX").mkdir(parents=True)
    shutil.copy(RAIZ / "audio_prompts" / "es-MX.yaml", prompts / "es-MX.yaml")
    (prompts / "es-MX" / "bienvenida.mp3").write_bytes(MP3)
    (prompts / "es-MX" / "notas.txt").write_text("notas internas")
    (prompts / "es-MX" / "sin_prompt.mp3").write_bytes(MP3)  # no prompt with that id
    (prompts / "en-US").mkdir()
    (prompts / "en-US" / "bienvenida.mp3").write_bytes(MP3)
    (prompts / ".env").write_text("TWILIO_AUTH_TOKEN=secreto")
    (raiz / ".env").write_text("TWILIO_AUTH_TOKEN=secreto")
    (raiz / "pyproject.toml").write_text("[project]")
    return nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", PROMPTS_DIR=str(prompts))


def test_una_grabacion_del_catalogo_se_sirve(app):
    with app.test_client().get("/audio/es-MX/bienvenida.mp3") as respuesta:
        assert respuesta.status_code == 200
        assert respuesta.data == MP3
        assert respuesta.mimetype == "audio/mpeg"


@pytest.mark.parametrize("ruta", [
    "/audio/%2e%2e/pyproject.toml",
    "/audio/..%2fpyproject.toml",
    "/audio/es-MX/..%2f..%2fpyproject.toml",
    "/audio/es-MX/%2e%2e%2f.env",
    "/audio/..%2f.env",
    "/audio/es-MX/.env",
    "/audio/./.env",
    "/audio/es-MX/%2fetc%2fpasswd",
    "/audio/%2fetc/passwd",
    "/audio/es-MX/notas.txt",         # not audio
    "/audio/es-MX/sin_prompt.mp3",    # audio, but no prompt of the catalog
    "/audio/en-US/bienvenida.mp3",    # a language the line doesn't speak
    "/audio/es-MX/bienvenida.mp3%00.txt",
    "/audio/es-MX/BIENVENIDA.MP3",
    "/audio/es-MX/",
    "/audio/es-MX",
])
def test_nada_fuera_de_las_grabaciones(app, ruta):
    with app.test_client().get(ruta, follow_redirects=True) as respuesta:
        assert respuesta.status_code == 404
        assert b"secreto" not in respuesta.data and b"[project]" not in respuesta.data


@pytest.mark.parametrize("ruta", [
    "/audio/%2e%2e/pyproject.toml", "/audio/..%2fdev", "/audio/..%2fProcfile",
    "/audio/..%2fREADME.md", "/audio/es-MX.yaml/x", "/audio/%2e%2e/.gitignore",
])
def test_los_archivos_del_proyecto_no_se_sirven(tmp_path, ruta):
    """The probe's own requests, against the real checkout's prompts folder."""
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria")
    with app.test_client().get(ruta, follow_redirects=True) as respuesta:
        assert respuesta.status_code == 404
