"""Production safety at start-up and the edge every request passes (issue 8: production
safety, the request size cap)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ivr import create_app
from ivr.cli import main
from ivr.config import RAIZ
from tests.llamadas import BASE, TOKEN, nueva_app

FALTA_REDIS = ("falta REDIS_URL: con TWILIO_AUTH_TOKEN (producción) el estado de las llamadas "
               "debe vivir en Redis, compartido por todos los procesos web; "
               "defina REDIS_URL=redis://…")
SIN_TOKEN = ("TWILIO_AUTH_TOKEN no está definido: todos los webhooks de Twilio serán "
             "rechazados (403); defínalo con el Auth Token de la cuenta")


@pytest.fixture
def entorno(monkeypatch, tmp_path):
    """A production-like environment: nothing set but a database."""
    for variable in ("REDIS_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "LOG_FORMAT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/ivr.sqlite3")
    return monkeypatch


def _mensajes(caplog, nivel) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == nivel]


def test_con_token_y_sin_redis_no_arranca(entorno, caplog):
    entorno.setenv("TWILIO_AUTH_TOKEN", "x")
    with pytest.raises(RuntimeError) as error:
        create_app()
    assert str(error.value) == "configuración inválida: " + FALTA_REDIS
    assert _mensajes(caplog, logging.CRITICAL) == ["no arranca: " + FALTA_REDIS]


def test_con_token_y_redis_arranca_sin_avisos(entorno, caplog):
    entorno.setenv("TWILIO_AUTH_TOKEN", "x")
    entorno.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")  # not reached at start-up
    create_app()
    assert _mensajes(caplog, logging.ERROR) == [] == _mensajes(caplog, logging.CRITICAL)


def test_sin_token_avisa_que_todo_webhook_sera_rechazado(entorno, caplog):
    app = create_app()
    assert _mensajes(caplog, logging.ERROR) == [SIN_TOKEN]
    assert app.test_client().post("/voice/incoming", data={"CallSid": "CA1"}).status_code == 403


def test_los_comandos_no_avisan_del_token_que_no_usan(entorno, caplog):
    resultado = CliRunner().invoke(main, ["db", "upgrade"])
    assert resultado.exit_code == 0, resultado.output
    assert SIN_TOKEN not in caplog.text


def test_el_telefono_de_escritorio_funciona_con_token_y_sin_redis(entorno):
    """`ivr call` serves its own call in its own process: the in-process store is enough."""
    entorno.setenv("TWILIO_AUTH_TOKEN", "x")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["demo-data"]).exit_code == 0
    llamada = runner.invoke(main, ["call", "5", "1", "7", "q"])
    assert llamada.exit_code == 0, llamada.output
    assert ("IVR: Marque su CURP o RFC, cada letra con su tecla, y al final gato. O dígala."
            in llamada.output)


def test_gunicorn_no_arranca_sin_redis_y_dice_que_definir(tmp_path):
    """The Procfile's web command, as a platform runs it, with the token and no Redis: one
    line saying what to set, before any worker starts."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LOG_FORMAT")}
    env.update(TWILIO_AUTH_TOKEN="x", DATABASE_URL=f"sqlite:///{tmp_path}/ivr.sqlite3",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metricas"))
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proceso = subprocess.run(
        [gunicorn, "--bind", "127.0.0.1:0", "--workers", "2", "ivr:create_app()"],
        cwd=RAIZ, env=env, capture_output=True, text=True, timeout=120)
    assert proceso.returncode == 1
    [linea] = [linea for linea in proceso.stderr.splitlines() if "REDIS_URL" in linea]
    assert linea.endswith("[CRITICAL] no arranca: " + FALTA_REDIS)
    assert "Booting worker" not in proceso.stderr and "Traceback" not in proceso.stderr


@pytest.mark.parametrize("ruta", ["/voice//curp", "/voice/%2Fcurp", "/voice/%2F0",
                                  "//voice/incoming", "/audio//es-MX/x.mp3"])
def test_una_doble_barra_es_404_y_no_una_redireccion(tmp_path, ruta):
    """Found by the probe's profile: werkzeug answered 308 to a merged-slashes URL."""
    from twilio.request_validator import RequestValidator

    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria")
    form = {"CallSid": "CA" + "1" * 32, "Digits": "5"}
    firma = RequestValidator(TOKEN).compute_signature(BASE + ruta, form)
    respuesta = app.test_client().post(ruta, data=form, base_url=BASE,
                                       headers={"X-Twilio-Signature": firma})
    assert respuesta.status_code == 404


# -- the request size cap ------------------------------------------------------------------


class Cuerpo:
    """A request body that counts what the server reads of it."""

    def __init__(self, largo: int):
        self.largo = largo
        self.leido = 0

    def read(self, n: int = -1) -> bytes:
        n = self.largo - self.leido if n is None or n < 0 else min(n, self.largo - self.leido)
        self.leido += n
        return b"a" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)



def _post(app, ruta: str, cuerpo: Cuerpo, firma: str | None = None) -> int:
    """POST the body straight to the WSGI app (a test client would read it to build the
    request) and give the status code."""
    environ = EnvironBuilder(path=ruta, base_url=BASE, method="POST",
                             content_type="application/x-www-form-urlencoded",
                             headers={"X-Twilio-Signature": firma} if firma else {}).get_environ()
    environ["wsgi.input"] = cuerpo
    environ["CONTENT_LENGTH"] = str(cuerpo.largo)
    _, estado, _ = run_wsgi_app(app, environ, buffered=True)
    return int(estado.split()[0])


TREINTA_MB = 30 * 1024 * 1024


@pytest.fixture
def app(tmp_path):
    return nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria")


@pytest.mark.parametrize(("ruta", "firma"), [
    ("/voice/incoming", "Zm9y"), ("/voice/incoming", None), ("/voice/curp", "Zm9y"),
    ("/voice/no-existe", None), ("/agent/entrar", None), ("/otra/cosa", None),
])
def test_un_post_de_30_mb_se_rechaza_sin_leerlo(app, ruta, firma):
    cuerpo = Cuerpo(TREINTA_MB)
    assert _post(app, ruta, cuerpo, firma) == 413
    assert cuerpo.leido == 0


def test_un_webhook_de_twilio_de_tamano_normal_pasa(app):
    from twilio.request_validator import RequestValidator

    form = {"CallSid": "CA" + "1" * 32, "From": "+525511112222", "To": "+525540001000",
            "AccountSid": "AC" + "2" * 32, "CallStatus": "in-progress", "Direction": "inbound",
            "SpeechResult": "cancelar mi cita " * 200}  # ~3.4 KB, longer than any transcript
    firma = RequestValidator(TOKEN).compute_signature(BASE + "/voice/incoming", form)
    respuesta = app.test_client().post("/voice/incoming", data=form, base_url=BASE,
                                       headers={"X-Twilio-Signature": firma})
    assert respuesta.status_code == 200


def test_el_tope_es_de_64_kb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    justo = Cuerpo(64 * 1024)
    assert _post(app, "/voice/incoming", justo, "Zm9y") == 403  # refused for its signature
    assert justo.leido == justo.largo
    assert _post(app, "/voice/incoming", Cuerpo(64 * 1024 + 1), "Zm9y") == 413


# -- the app's hooks and views --------------------------------------------------------------


def test_un_hook_asincrono_sigue_pasando_por_async_to_sync(app, monkeypatch):
    """The app keeps which functions are plain (not coroutines) to skip Flask's check at each
    request; a coroutine function is never taken for one, asked once or twice."""

    def sincrona():
        return None

    async def asincrona():
        return None

    envueltas = []
    monkeypatch.setattr(app, "async_to_sync", lambda f: envueltas.append(f) or "envuelta")
    for _ in range(2):
        assert app.ensure_sync(sincrona) is sincrona
        assert app.ensure_sync(asincrona) == "envuelta"
    assert envueltas == [asincrona, asincrona]
