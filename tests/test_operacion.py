"""Operating the service: /healthz, /readyz and /metrics, as a platform and a scraper use them."""

import http.client
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from ivr import db, metricas, phone, repo, repo_outbox
from ivr.models import Cancelacion, Cita
from ivr.models import Llamada as LlamadaRegistro
from tests.llamadas import GOMEZ, REDIS_URL, TOKEN, _redis_o_skip, cargar_agenda, nueva_app
from tests.test_llamada import identificar

RAIZ = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "token-del-scraper"


@pytest.fixture
def puerto_muerto():
    """A loopback port where nothing listens (bound, not listening: connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def puerto_mudo():
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def muestras(texto: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {(m.name, tuple(sorted(m.labels.items()))): m.value
            for familia in text_string_to_metric_families(texto) for m in familia.samples}


def raspar(app) -> dict[tuple, float]:
    respuesta = app.test_client().get("/metrics",
                                      headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert respuesta.status_code == 200
    assert respuesta.content_type.startswith("text/plain; version=")
    return muestras(respuesta.get_data(as_text=True))


def diferencia(antes: dict, despues: dict) -> dict[tuple, float]:
    """What changed between two scrapes (counters only grow), without the process collectors."""
    return {k: v - antes.get(k, 0) for k, v in despues.items()
            if k[0].startswith("ivr_") and v != antes.get(k, 0)}


# -- health ------------------------------------------------------------------------------------


def test_healthz_answers_even_with_every_dependency_down(tmp_path, puerto_muerto):
    app = nueva_app(f"postgresql://postgres@127.0.0.1:{puerto_muerto}/nadie", "memoria",
                    REDIS_URL=f"redis://127.0.0.1:{puerto_muerto}/0")
    respuesta = app.test_client().get("/healthz")
    assert (respuesta.status_code, respuesta.get_json()) == (200, {"vivo": True})


def test_readyz_is_ready_when_both_answer(app):
    respuesta = app.test_client().get("/readyz")
    assert respuesta.status_code == 200
    cuerpo = respuesta.get_json()
    assert cuerpo["listo"] is True and cuerpo["fallan"] == []
    assert cuerpo["comprobaciones"]["base_de_datos"] == "ok"
    esperado = "ok" if app.config["REDIS_URL"] else "ok (en este proceso, sin REDIS_URL)"
    assert cuerpo["comprobaciones"]["redis"] == esperado


def test_readyz_with_redis_stopped_names_redis(tmp_path, puerto_muerto):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria",
                    REDIS_URL=f"redis://127.0.0.1:{puerto_muerto}/0")
    respuesta = app.test_client().get("/readyz")
    assert respuesta.status_code == 503
    cuerpo = respuesta.get_json()
    assert (cuerpo["listo"], cuerpo["fallan"]) == (False, ["redis"])
    assert cuerpo["comprobaciones"] == {"base_de_datos": "ok", "redis": "falla: ConnectionError"}


def test_readyz_does_not_wait_past_a_second_for_a_silent_redis(tmp_path, puerto_mudo):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria",
                    REDIS_URL=f"redis://127.0.0.1:{puerto_mudo}/0")
    cuerpo = app.test_client().get("/readyz").get_json()
    assert cuerpo["comprobaciones"]["redis"] == "sin respuesta en 1 s"
    assert cuerpo["fallan"] == ["redis"]
    assert cuerpo["ms"] < 1900  # the client's own timeout is 2 s: the deadline cut it short


@pytest.mark.postgres
def test_readyz_with_the_database_down_names_it(postgres_url, puerto_muerto):
    app = nueva_app(f"postgresql://postgres@127.0.0.1:{puerto_muerto}/nadie", "redis")
    respuesta = app.test_client().get("/readyz")
    assert respuesta.status_code == 503
    assert respuesta.get_json()["comprobaciones"] == {
        "base_de_datos": "falla: OperationalError", "redis": "ok"}


def test_health_needs_no_signature_and_shows_no_personal_data(app):
    cliente = app.test_client()
    for ruta in ("/healthz", "/readyz"):
        texto = cliente.get(ruta).get_data(as_text=True)
        assert GOMEZ.curp not in texto and "postgres@" not in texto and "redis://" not in texto


# -- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("configurado, cabecera", [
    (None, None),
    (None, "Bearer "),
    (METRICS_TOKEN, None),
    (METRICS_TOKEN, "Bearer otro"),
    (METRICS_TOKEN, METRICS_TOKEN),  # not as a bearer token
])
def test_metrics_is_404_without_the_token(tmp_path, configurado, cabecera):
    app = nueva_app(f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria", METRICS_TOKEN=configurado)
    headers = {"Authorization": cabecera} if cabecera is not None else {}
    assert app.test_client().get("/metrics", headers=headers).status_code == 404


@pytest.fixture
def app_con_metricas(app):
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    return app


def test_known_calls_are_counted(app_con_metricas, llamar):
    app = app_con_metricas
    antes = raspar(app)
    # cancels, hears the folio and stays silent: the line says goodbye
    identificar(llamar(), GOMEZ).press("1").press("1").press("2").press("1").silence()
    llamar().press("0").tel.colgar()  # an agent from the main menu, then the caller hangs up
    llamar().press("5").tel.colgar()  # hangs up at the loans menu
    cambio = diferencia(antes, raspar(app))
    assert cambio[("ivr_cancelaciones_total", (("canal", "ivr"),))] == 1
    assert cambio[("ivr_transferencias_total", (("razon", "pidio_agente"),))] == 1
    llamadas = {dict(k[1])["desenlace"]: v for k, v in cambio.items()
                if k[0] == "ivr_llamadas_total"}
    with app.app_context():  # one per call, under the outcome its record keeps
        registradas = Counter(db.sesion().scalars(select(LlamadaRegistro.desenlace)))
    assert llamadas == registradas and sum(llamadas.values()) == 3
    assert (llamadas["cancelada"], llamadas["colgo_completed"]) == (1, 1)
    por_nodo = {dict(k[1])["nodo"]: v for k, v in cambio.items()
                if k[0] == "ivr_webhook_seconds_count"}
    assert por_nodo == {"incoming": 3, "menu_principal": 3, "menu_prestamos": 1,
                        "menu_citas": 1, "curp": 1, "apellido": 1, "cita": 1, "solicitante": 1,
                        "motivo": 1, "confirmacion": 1, "cancelada": 1, "status": 3,
                        "susurro": 1,
                        # The dial's result at the transfer node; the agent leg's 4 events.
                        "agente": 1, "agente_estado": 4}


def test_outbox_pending_is_read_from_the_database_at_each_scrape(app_con_metricas, llamar):
    app = app_con_metricas
    app.config["SISTEMA_CITAS_WEBHOOK_URL"] = "https://citas.example.test/eventos"
    assert raspar(app)[("ivr_outbox_pendientes", ())] == 0
    identificar(llamar(), GOMEZ).press("1").press("1").press("2").press("1")
    with app.app_context():
        [cancelacion] = db.sesion().scalars(select(Cancelacion)).all()
        escritos = len(repo_outbox.eventos_de_cancelacion(db.sesion(), cancelacion.id))
    assert escritos == 1  # nobody delivers it in this test: it stays pending
    assert raspar(app)[("ivr_outbox_pendientes", ())] == 1


def test_metrics_still_answer_with_the_database_down(tmp_path, puerto_muerto):
    app = nueva_app(f"postgresql://postgres@127.0.0.1:{puerto_muerto}/nadie", "memoria",
                    METRICS_TOKEN=METRICS_TOKEN)
    vistas = raspar(app)
    assert not [k for k in vistas if k[0] == "ivr_outbox_pendientes"]


def test_a_rolled_back_cancellation_counts_nothing_and_the_agents_channel_counts(
        app_con_metricas):
    app = app_con_metricas
    antes = raspar(app)
    with app.app_context():
        sesion = db.sesion()
        cita = sesion.query(Cita).filter_by(clave="UC3QK2").one()
        datos = {"solicitante_tipo": "titular", "solicitante_nombre": None, "motivo_codigo": 1,
                 "motivo_texto": "Ya no necesito el préstamo", "call_sid": None,
                 "ahora": datetime(2026, 11, 24, 16, tzinfo=UTC)}
        assert repo.cancelar_cita(sesion, cita.id, canal="agente", **datos).resultado == "cancelada"
        sesion.rollback()
        assert diferencia(antes, raspar(app)) == {}
        assert repo.cancelar_cita(sesion, cita.id, canal="agente", **datos).resultado == "cancelada"
        sesion.commit()
    assert diferencia(antes, raspar(app)) == {
        ("ivr_cancelaciones_total", (("canal", "agente"),)): 1}


def test_a_probe_of_an_unknown_node_does_not_make_a_new_label(app_con_metricas):
    app = app_con_metricas
    antes = raspar(app)
    for nodo in ("xyz", "abc"):
        app.test_client().post(f"/voice/{nodo}")  # unsigned: 403
    cambio = diferencia(antes, raspar(app))
    assert cambio[("ivr_webhook_seconds_count", (("nodo", "desconocido"),))] == 2
    assert not [k for k in cambio if ("nodo", "xyz") in k[1]]


LLAMADA_EN_OTRO_PROCESO = textwrap.dedent("""
    import sys
    from ivr import phone
    from tests.llamadas import BASE, GOMEZ, HERNANDEZ, TOKEN, nueva_app
    from tests.test_llamada import teclas

    persona = {"gomez": GOMEZ, "hernandez": HERNANDEZ}[sys.argv[2]]
    app = nueva_app(sys.argv[1], "memoria")
    tel = phone.Telefono(phone.FlaskTransport(app, BASE), TOKEN, public_base_url=BASE)
    tel.marcar()
    for teclas_ in ["5", "1", "7", teclas(persona.curp), teclas(persona.primer_apellido),
                    "1", "1", "2", "1"]:
        tel.press(teclas_)
    tel.silence()  # after the folio
    assert tel.colgada, tel.dicho
""")


def test_two_worker_processes_add_up(tmp_path, monkeypatch):
    """Two processes, as gunicorn's workers, each cancel one cita: one scrape sees both."""
    directorio = tmp_path / "metricas"
    directorio.mkdir()
    url = f"sqlite:///{tmp_path}/ivr.sqlite3"
    cargar_agenda(nueva_app(url, "memoria"))
    entorno = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directorio)}
    procesos = [subprocess.Popen([sys.executable, "-c", LLAMADA_EN_OTRO_PROCESO, url, persona],
                                 cwd=RAIZ, env=entorno) for persona in ("gomez", "hernandez")]
    assert [p.wait(timeout=60) for p in procesos] == [0, 0]
    assert len(list(directorio.glob("counter_*.db"))) == 2  # one file per process
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directorio))
    app = nueva_app(url, "memoria", METRICS_TOKEN=METRICS_TOKEN)
    vistas = raspar(app)
    assert vistas[("ivr_cancelaciones_total", (("canal", "ivr"),))] == 2
    assert vistas[("ivr_llamadas_total", (("desenlace", "cancelada"),))] == 2
    assert vistas[("ivr_webhook_seconds_count", (("nodo", "curp"),))] == 2
    assert vistas[("ivr_webhook_seconds_count", (("nodo", "incoming"),))] == 2


def _esperar_puerto(proceso, plazo=30.0) -> int:
    """The port gunicorn says it listens at (it was asked for port 0)."""
    fin = time.monotonic() + plazo
    lineas = []
    while time.monotonic() < fin:
        linea = proceso.stderr.readline()
        lineas.append(linea)
        encontrado = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", linea)
        if encontrado:
            return int(encontrado.group(1))
        if not linea and proceso.poll() is not None:
            break
    raise AssertionError("gunicorn no arrancó:\n" + "".join(lineas))


def test_gunicorn_as_the_procfile_runs_it_serves_health_and_summed_metrics(tmp_path):
    """The Procfile's command (gunicorn.conf.py read from the working directory): the metrics
    directory is made and emptied at start, and every worker's webhooks are in one scrape."""
    url = f"sqlite:///{tmp_path}/ivr.sqlite3"
    cargar_agenda(nueva_app(url, "memoria"))
    directorio = tmp_path / "metricas"
    directorio.mkdir()
    (directorio / "counter_999999.db").write_bytes(b"viejo")  # left by an earlier run
    entorno = {**os.environ, "DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN,
               "METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(directorio),
               "AGENT_HOURS": "24/7"}
    # Production (a token) needs Redis shared by the workers: without it gunicorn won't start.
    _redis_o_skip()
    entorno["REDIS_URL"] = REDIS_URL
    proceso = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", "127.0.0.1:0", "--workers",
         "2", "ivr:create_app()"], cwd=RAIZ, env=entorno, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{_esperar_puerto(proceso)}"
        transporte = phone.HttpTransport(base)
        assert transporte.get("/healthz")[0] == 200
        for _ in range(6):  # six calls, each hung up at the main menu, spread over the workers
            tel = phone.Telefono(transporte, TOKEN, public_base_url=base)
            tel.marcar()
            tel.colgar()
        estado, tipo, texto = transporte.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert (estado, tipo.split(";")[0]) == (200, "text/plain")
        vistas = muestras(texto)
        assert vistas[("ivr_webhook_seconds_count", (("nodo", "incoming"),))] == 6
        assert vistas[("ivr_llamadas_total", (("desenlace", "colgo_completed"),))] == 6
        assert transporte.get("/metrics")[0] == 404
    finally:
        proceso.terminate()
        proceso.wait(timeout=30)
        proceso.stderr.close()
    assert not (directorio / "counter_999999.db").exists()


def test_without_a_directory_the_counts_are_this_process_s(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    nombres = {f.name for f in metricas.registro_de_scrape().collect()}
    assert {"ivr_webhook_seconds", "ivr_llamadas", "ivr_cancelaciones",
            "ivr_transferencias"} <= nombres



def test_a_worker_freezes_its_start_up_objects_out_of_the_garbage_collector():
    import gc
    import runpy

    configuracion = runpy.run_path(str(RAIZ / "gunicorn.conf.py"))
    try:
        configuracion["post_worker_init"](None)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def test_gunicorn_s_workers_share_the_connections_that_come_at_once(tmp_path):
    """Keep-alive connections opened one after another (a proxy filling its pool) end up
    split evenly between the Procfile's two workers: each worker answers with its pid."""
    (tmp_path / "quien.py").write_text(
        "import os\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [str(os.getpid()).encode()]\n")
    entorno = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for nombre in ("TWILIO_AUTH_TOKEN", "REDIS_URL", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        entorno.pop(nombre, None)
    proceso = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", "127.0.0.1:0", "--workers",
         "2", "--worker-class", "gthread", "--threads", "2", "quien:app"],
        cwd=RAIZ, env=entorno, stderr=subprocess.PIPE, text=True)
    conexiones = []
    try:
        puerto = _esperar_puerto(proceso)
        time.sleep(1)  # both workers booted and waiting
        por_worker = Counter()
        for _ in range(40):
            conexion = http.client.HTTPConnection("127.0.0.1", puerto, timeout=10)
            conexion.request("GET", "/")
            por_worker[conexion.getresponse().read()] += 1
            conexiones.append(conexion)
        assert len(por_worker) == 2 and max(por_worker.values()) <= 22, por_worker
    finally:
        for conexion in conexiones:
            conexion.close()
        proceso.terminate()
        proceso.wait(timeout=30)
        proceso.stderr.close()
