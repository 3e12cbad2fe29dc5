"""Delivering the outbox to the Sistema de Citas: signed, at least once, in order per cita,
retried with backoff for 24 h then dead; several workers never send an event twice; stopping
or killing the worker loses nothing. Real HTTP to a local receiver; an injectable clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as hora
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from ivr import create_app, db, entrega, repo_outbox
from ivr.models import MEXICO, Cancelacion, Cita, Derechohabiente, EventoOutbox, Unidad
from tests.receptores import SistemaDeCitas

SECRETO = "secreto-compartido"
INICIO = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
TIMEOUT = 2.0  # short, but not so short that a loaded machine trips it


class Reloj:
    """A clock the tests move by hand."""

    def __init__(self, ahora: datetime = INICIO):
        self.ahora = ahora

    def __call__(self) -> datetime:
        return self.ahora

    def ir_a(self, momento: datetime) -> None:
        self.ahora = momento.replace(tzinfo=UTC) if momento.tzinfo is None else momento


@pytest.fixture
def receptor():
    with SistemaDeCitas(SECRETO, espera_colgado=5) as r:
        yield r


@pytest.fixture
def sesiones(engine):
    return sessionmaker(engine)


@pytest.fixture
def citas(sesiones) -> list[int]:
    """Two citas to hang events on."""
    with sesiones() as s:
        unidad = Unidad(nombre="UAPES No. 4")
        persona = Derechohabiente(curp="GOMA850123HDFRRN09", rfc=None, nombre="Ana",
                                  primer_apellido="Gómez", segundo_apellido=None,
                                  telefono="5512345634")
        s.add_all([unidad, persona])
        s.flush()
        ids = []
        for clave, dia in (("UC3QK2", 2), ("UC7HW4", 9)):
            cita = Cita(clave=clave, derechohabiente_id=persona.id, unidad_id=unidad.id,
                        ventanilla="02", fecha=date(2026, 12, dia), hora_inicio=hora(15),
                        hora_fin=hora(15, 15), estado="cancelada")
            s.add(cita)
            s.flush()
            ids.append(cita.id)
        s.commit()
        return ids


def encolar(sesiones, cita_id: int, ahora: datetime, n: int = 1) -> int:
    with sesiones() as s:
        fila = repo_outbox.encolar(s, evento="cita.cancelada", destino="sistema_citas",
                                   cita_id=cita_id, cancelacion_id=None,
                                   cuerpo=json.dumps({"n": n, "texto": "préstamo"},
                                                     ensure_ascii=False), ahora=ahora)
        s.commit()
        return fila.id


def fila(sesiones, evento_id: int) -> EventoOutbox:
    with sesiones() as s:
        f = s.get(EventoOutbox, evento_id)
        s.expunge(f)
        return f


def remitentes(receptor, timeout=TIMEOUT):
    return entrega.remitentes_de({"SISTEMA_CITAS_WEBHOOK_URL": receptor.url + "/eventos",
                                  "SISTEMA_CITAS_WEBHOOK_SECRET": SECRETO}, timeout)


def uno(sesiones, receptor, reloj, rng=None):
    return entrega.entregar_uno(sesiones, remitentes(receptor), reloj, rng or random.Random(7))


def _utc(m: datetime) -> datetime:
    return m if m.tzinfo else m.replace(tzinfo=UTC)


# -- backoff -------------------------------------------------------------------------------


@pytest.mark.parametrize("intentos, azar, segundos", [
    (1, 0.0, 7.5), (1, 0.5, 11.25), (2, 0.0, 15), (3, 0.0, 30), (5, 0.0, 120),
    (9, 0.0, 1800), (9, 0.999999, 3599.998), (30, 0.0, 1800),
])
def test_espera_exponencial_con_jitter(intentos, azar, segundos):
    class Azar:
        def random(self):
            return azar

    assert entrega.espera(intentos, Azar()).total_seconds() == pytest.approx(segundos, abs=0.01)


# -- the contract on the wire --------------------------------------------------------------


def test_entrega_firmada_con_clave_de_idempotencia(sesiones, citas, receptor):
    reloj = Reloj()
    evento_id = encolar(sesiones, citas[0], reloj())
    assert uno(sesiones, receptor, reloj) == evento_id
    [peticion] = receptor.peticiones
    guardado = fila(sesiones, evento_id)
    assert peticion.ruta == "/eventos"
    assert peticion.cuerpo == guardado.cuerpo.encode("utf-8")
    assert peticion.cabeceras["Content-Type"] == "application/json"
    assert peticion.cabeceras["Idempotency-Key"] == guardado.evento_id
    assert peticion.cabeceras["X-IVR-Firma"] == "sha256=" + hmac.new(
        SECRETO.encode(), peticion.cuerpo, hashlib.sha256).hexdigest()
    assert (guardado.estado, guardado.intentos, guardado.ultimo_error) == ("entregado", 1, None)
    assert _utc(guardado.entregado_en) == INICIO
    assert uno(sesiones, receptor, reloj) is None  # nothing left


def test_500_colgado_caido_y_de_vuelta_se_entrega_una_vez(sesiones, citas, receptor):
    receptor.guion = [500, "colgar", 200]
    reloj = Reloj()
    evento_id = encolar(sesiones, citas[0], reloj())

    uno(sesiones, receptor, reloj)
    f = fila(sesiones, evento_id)
    assert (f.estado, f.intentos, f.ultimo_error) == ("pendiente", 1, "HTTP 500")
    assert timedelta(seconds=7.5) <= _utc(f.proximo_intento_en) - INICIO <= timedelta(seconds=15)
    assert uno(sesiones, receptor, reloj) is None  # not due yet

    reloj.ir_a(f.proximo_intento_en)
    uno(sesiones, receptor, reloj)
    f = fila(sesiones, evento_id)
    assert (f.estado, f.intentos, f.ultimo_error) == ("pendiente", 2, "sin respuesta en 2 s")

    receptor.apagar()
    reloj.ir_a(f.proximo_intento_en)
    uno(sesiones, receptor, reloj)
    f = fila(sesiones, evento_id)
    assert (f.estado, f.intentos, f.ultimo_error) == (
        "pendiente", 3, "no se pudo conectar (ConnectionError)")

    receptor.encender()
    reloj.ir_a(f.proximo_intento_en)
    uno(sesiones, receptor, reloj)
    f = fila(sesiones, evento_id)
    assert (f.estado, f.intentos) == ("entregado", 4), f.ultimo_error
    assert len(receptor.peticiones) == 3  # the one sent while it was down never arrived
    assert receptor.procesados == [{"n": 1, "texto": "préstamo"}]


def test_respuesta_perdida_se_reenvia_y_el_receptor_la_procesa_una_vez(sesiones, citas,
                                                                       receptor):
    """The receiver processed it but its answer came too late: sent again with the same
    Idempotency-Key, processed once."""
    receptor.guion = [(TIMEOUT + 1.5, 200), 200]
    reloj = Reloj()
    evento_id = encolar(sesiones, citas[0], reloj())
    uno(sesiones, receptor, reloj)
    assert fila(sesiones, evento_id).estado == "pendiente"
    reloj.ir_a(fila(sesiones, evento_id).proximo_intento_en)
    uno(sesiones, receptor, reloj)
    assert fila(sesiones, evento_id).estado == "entregado"
    claves = [p.cabeceras["Idempotency-Key"] for p in receptor.peticiones]
    assert len(claves) == 2 and claves[0] == claves[1]
    assert len(receptor.procesados) == 1


def test_en_orden_por_cita(sesiones, citas, receptor):
    receptor.guion = [500, 200]
    reloj = Reloj()
    primero = encolar(sesiones, citas[0], reloj(), n=1)
    segundo = encolar(sesiones, citas[0], reloj(), n=2)
    de_otra_cita = encolar(sesiones, citas[1], reloj(), n=3)
    assert uno(sesiones, receptor, reloj) == primero  # fails
    # The second of the same cita waits for the first; another cita's event doesn't.
    assert uno(sesiones, receptor, reloj) == de_otra_cita
    assert uno(sesiones, receptor, reloj) is None
    reloj.ir_a(fila(sesiones, primero).proximo_intento_en)
    assert uno(sesiones, receptor, reloj) == primero
    assert uno(sesiones, receptor, reloj) == segundo
    assert [json.loads(p.cuerpo)["n"] for p in receptor.peticiones] == [1, 3, 1, 2]
    assert [p["n"] for p in receptor.procesados] == [3, 1, 2]


def test_muerto_tras_24_horas_y_reintentar_lo_entrega(sesiones, citas, receptor):
    receptor.guion = [503]
    reloj = Reloj()
    rng = random.Random(7)
    evento_id = encolar(sesiones, citas[0], reloj())
    momentos = []
    while (f := fila(sesiones, evento_id)).estado == "pendiente":
        reloj.ir_a(f.proximo_intento_en)
        momentos.append(reloj())
        uno(sesiones, receptor, reloj, rng)
    assert f.estado == "muerto"
    assert f.ultimo_error == "HTTP 503"
    assert momentos[-1] == INICIO + timedelta(hours=24)  # the last try is at the window's end
    assert momentos[-2] < INICIO + timedelta(hours=24)
    assert all(b - a <= timedelta(hours=1) for a, b in zip(momentos, momentos[1:], strict=False))
    assert f.intentos == len(momentos) == len(receptor.peticiones)
    # 8 quick tries in the first hour, then one every 30-60 minutes: between 32 and 56.
    assert 32 <= f.intentos <= 56
    reloj.ir_a(reloj() + timedelta(days=3))
    assert uno(sesiones, receptor, reloj) is None  # dead stays dead

    receptor.guion = [200]
    with sesiones() as s:
        repo_outbox.reintentar(s, evento_id, reloj())
        s.commit()
    assert uno(sesiones, receptor, reloj) == evento_id
    f = fila(sesiones, evento_id)
    assert (f.estado, f.intentos) == ("entregado", len(momentos) + 1)
    assert len(receptor.procesados) == 1


def test_sin_url_en_el_worker_el_evento_espera_y_lo_dice(sesiones, citas):
    reloj = Reloj()
    evento_id = encolar(sesiones, citas[0], reloj())
    entrega.entregar_uno(sesiones, entrega.remitentes_de({}), reloj, random.Random(1))
    f = fila(sesiones, evento_id)
    assert (f.estado, f.ultimo_error) == (
        "pendiente", "SISTEMA_CITAS_WEBHOOK_URL no está configurada en el worker")


# Several workers: PostgreSQL only (SQLite is single-worker).
@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_varios_workers_nunca_envian_un_evento_dos_veces(engine, sesiones, citas, receptor):
    receptor.guion = [(0.02, 200)]
    reloj = Reloj(datetime.now(UTC))
    ids = [encolar(sesiones, citas[i % 2], reloj(), n=i) for i in range(24)]
    detener = threading.Event()
    hilos = [threading.Thread(target=entrega.trabajar,
                              args=(sesiones, remitentes(receptor), reloj, detener))
             for _ in range(3)]
    for h in hilos:
        h.start()
    limite = time.monotonic() + 30
    while len(receptor.procesados) < len(ids) and time.monotonic() < limite:
        time.sleep(0.05)
    detener.set()
    for h in hilos:
        h.join(10)
    claves = [p.cabeceras["Idempotency-Key"] for p in receptor.peticiones]
    assert len(claves) == len(set(claves)) == len(ids)  # each sent exactly once
    por_cita = {}
    for p in receptor.procesados:
        por_cita.setdefault(p["n"] % 2, []).append(p["n"])
    assert por_cita == {0: list(range(0, 24, 2)), 1: list(range(1, 24, 2))}  # in order
    assert {fila(sesiones, i).estado for i in ids} == {"entregado"}


# -- the worker process: stop it, kill it ---------------------------------------------------


def _ivr() -> str:
    return str(Path(sys.executable).with_name("ivr"))


def _entorno(db_url: str, receptor) -> dict:
    entorno = {k: v for k, v in os.environ.items()
               if not k.startswith(("TWILIO_", "SISTEMA_CITAS_", "REDIS_URL", "DATABASE_URL"))}
    entorno.update(DATABASE_URL=db_url, SISTEMA_CITAS_WEBHOOK_URL=receptor.url + "/eventos",
                   SISTEMA_CITAS_WEBHOOK_SECRET=SECRETO, PYTHONUNBUFFERED="1")
    return entorno


def _esperar(condicion, segundos=20.0):
    limite = time.monotonic() + segundos
    while not condicion():
        if time.monotonic() > limite:
            raise AssertionError("la condición no se cumplió a tiempo")
        time.sleep(0.05)


def _worker(db_url, receptor, tmp_path, nombre):
    """`ivr worker` as its own process (as the Procfile runs it), logging to a file."""
    log = tmp_path / f"{nombre}.log"
    with open(log, "w") as salida:  # the child keeps its own copy of the descriptor
        proceso = subprocess.Popen([_ivr(), "worker"], env=_entorno(db_url, receptor),
                                   stdout=salida, stderr=subprocess.STDOUT)
    return proceso, log


def test_matar_al_worker_a_media_entrega_no_pierde_nada(db_url, sesiones, citas, receptor,
                                                        tmp_path):
    receptor.guion = ["colgar", 200]
    evento_id = encolar(sesiones, citas[0], datetime.now(UTC))
    proceso, _ = _worker(db_url, receptor, tmp_path, "primero")
    try:
        _esperar(lambda: len(receptor.peticiones) == 1)
        proceso.kill()  # SIGKILL: no chance to clean up
        proceso.wait(10)
    finally:
        if proceso.poll() is None:
            proceso.kill()
    receptor.liberar.set()
    f = fila(sesiones, evento_id)
    assert (f.estado, f.intentos) == ("pendiente", 0)

    proceso, _ = _worker(db_url, receptor, tmp_path, "segundo")
    try:
        _esperar(lambda: fila(sesiones, evento_id).estado == "entregado")
    finally:
        proceso.terminate()
        proceso.wait(15)
    assert len(receptor.procesados) == 1
    claves = {p.cabeceras["Idempotency-Key"] for p in receptor.peticiones}
    assert claves == {f.evento_id}


def test_sigterm_termina_la_entrega_en_curso_y_sale(db_url, sesiones, citas, receptor,
                                                   tmp_path):
    receptor.guion = [(1.0, 200)]
    evento_id = encolar(sesiones, citas[0], datetime.now(UTC))
    proceso, log = _worker(db_url, receptor, tmp_path, "worker")
    try:
        _esperar(lambda: len(receptor.peticiones) == 1)
        proceso.send_signal(signal.SIGTERM)
        assert proceso.wait(15) == 0
    finally:
        if proceso.poll() is None:
            proceso.kill()
    assert fila(sesiones, evento_id).estado == "entregado"
    assert len(receptor.procesados) == 1
    texto = log.read_text()
    assert "señal SIGTERM recibida" in texto and "worker: detenido" in texto


# -- the operator's commands ----------------------------------------------------------------


@pytest.fixture
def cli(db_url):
    """`ivr outbox …` run by Flask's CLI runner on an app of this database at INICIO."""
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SECRET_KEY": "k",
                      "RELOJ": Reloj()})
    yield lambda *args: app.test_cli_runner().invoke(entrega.outbox_command, list(args))
    db.engine_de(app).dispose()


def test_ivr_outbox_lista_y_reintentar(cli, sesiones, citas):
    reloj = Reloj()
    entregado = encolar(sesiones, citas[0], reloj())
    muerto = encolar(sesiones, citas[1], reloj())
    pendiente = encolar(sesiones, citas[0], reloj())
    with sesiones() as s:
        repo_outbox.marcar_entregado(s, s.get(EventoOutbox, entregado), reloj())
        f = s.get(EventoOutbox, muerto)
        f.estado, f.intentos, f.ultimo_error = "muerto", 31, "HTTP 500"
        s.commit()
    salida = cli()
    assert salida.exit_code == 0, salida.output
    lineas = salida.stdout.splitlines()
    assert lineas[0] == "pendiente: 1 · entregado: 1 · muerto: 1"
    assert lineas[2].split() == [str(pendiente), "pendiente", "sistema_citas", "UC3QK2", "0",
                                 "2026-11-24", "16:00:00"]
    assert lineas[3].split() == [str(muerto), "muerto", "sistema_citas", "UC7HW4", "31",
                                 "2026-11-24", "16:00:00", "HTTP", "500"]
    assert "GOMA" not in salida.stdout and "préstamo" not in salida.stdout  # no body shown

    solo = cli("--estado", "muerto")
    assert [x.split()[0] for x in solo.stdout.splitlines()[2:]] == [str(muerto)]

    salida = cli("reintentar", str(muerto))
    assert salida.exit_code == 0, salida.output
    assert f"Evento {muerto} pendiente otra vez" in salida.output
    f = fila(sesiones, muerto)
    assert f.estado == "pendiente"
    assert _utc(f.proximo_intento_en) == INICIO
    assert _utc(f.vence_en) == INICIO + timedelta(hours=24)

    for evento_id, mensaje in ((9999, "no existe el evento 9999"),
                               (entregado, f"el evento {entregado} ya fue entregado")):
        salida = cli("reintentar", str(evento_id))
        assert salida.exit_code == 1
        assert mensaje in salida.output
    assert fila(sesiones, entregado).estado == "entregado"


# -- a whole call, then the worker ---------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.redis])])
def test_una_llamada_y_el_worker_entrega_el_evento(backend, request, tmp_path, receptor):
    from tests.llamadas import AHORA, GOMEZ
    from tests.test_cancelacion import app_de, cancelar_por_telefono

    config = {"SISTEMA_CITAS_WEBHOOK_URL": receptor.url + "/eventos",
              "SISTEMA_CITAS_WEBHOOK_SECRET": SECRETO}
    app = app_de(backend, request, tmp_path, **config)
    try:
        cancelar_por_telefono(app)
        sesiones = db.sessionmaker_de(app)
        assert entrega.entregar_uno(sesiones, entrega.remitentes_de(app.config),
                                    app.config["RELOJ"]) is not None
        with app.app_context():
            folio = db.sesion().scalar(select(Cancelacion.folio))
    finally:
        db.engine_de(app).dispose()
    [evento] = receptor.procesados
    assert evento == {
        "evento": "cita.cancelada", "id": receptor.peticiones[0].cabeceras["Idempotency-Key"],
        "clave": "UC3QK2", "curp": GOMEZ.curp, "folio": folio, "motivo_codigo": 2,
        "motivo_texto": "No puedo asistir en la fecha u horario", "solicitante_tipo": "titular",
        "solicitante_nombre": None, "canal": "ivr", "agente": None,
        "cancelada_en": AHORA.astimezone(MEXICO).isoformat()}
    assert evento["cancelada_en"] == "2026-11-24T10:00:00-06:00"


def test_el_receptor_del_readme_comprueba_la_firma(monkeypatch):
    """The README's 10-line receiver runs, accepts a signed event once, refuses a forged one."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    codigo = readme.split("<!-- receptor de ejemplo")[1].split("```python\n")[1].split("```")[0]
    assert len(codigo.strip().splitlines()) <= 12
    monkeypatch.setenv("SISTEMA_CITAS_WEBHOOK_SECRET", SECRETO)
    espacio: dict = {"__name__": "receptor_del_readme"}
    exec(compile(codigo, "README.md", "exec"), espacio)  # noqa: S102 - our own README
    cliente = espacio["app"].test_client()
    cuerpo = json.dumps({"evento": "cita.cancelada", "clave": "UC3QK2"}).encode()
    cabeceras = {"Content-Type": "application/json", "Idempotency-Key": "k1",
                 "X-IVR-Firma": entrega.firma(SECRETO, cuerpo)}
    assert cliente.post("/eventos", data=cuerpo, headers=cabeceras).status_code == 204
    assert cliente.post("/eventos", data=cuerpo, headers=cabeceras).status_code == 204
    assert espacio["vistos"] == {"k1"}
    falsa = {**cabeceras, "X-IVR-Firma": entrega.firma("otro", cuerpo)}
    assert cliente.post("/eventos", data=cuerpo, headers=falsa).status_code == 401
    alterado = cuerpo.replace(b"UC3QK2", b"XX0000")
    assert cliente.post("/eventos", data=alterado, headers=cabeceras).status_code == 401


# -- the agents' page -----------------------------------------------------------------------


def test_la_pagina_de_agentes_muestra_los_muertos_y_los_reintenta(tmp_path):
    from tests.test_agentes import AHORA as AGENTES_AHORA
    from tests.test_agentes import Agentes, app_sembrada, texto

    app = app_sembrada(tmp_path / "agentes.db", Reloj(AGENTES_AHORA))
    try:
        datos = app.config["DATOS"]
        sesiones = db.sessionmaker_de(app)
        agente = Agentes(app.test_client())
        agente.entrar()
        assert "Avisos no entregados" not in texto(agente.client.get("/agent/"))
        muerto = encolar(sesiones, datos.futura, AGENTES_AHORA - timedelta(days=2))
        with sesiones() as s:
            f = s.get(EventoOutbox, muerto)
            f.estado, f.intentos, f.ultimo_error = "muerto", 38, "HTTP 503"
            s.commit()
        lista = texto(agente.client.get("/agent/"))
        assert ('Avisos no entregados <span class="cuenta">1</span>' in lista)
        pagina = texto(agente.client.get("/agent/no-entregados"))
        assert f'<tr data-id="{muerto}">' in pagina
        for celda in ('<span class="clave">UC3QK2</span>', "Sistema de Citas",
                      '<td data-etiqueta="Intentos">38</td>', "HTTP 503"):
            assert celda in pagina
        respuesta = agente.enviar(f"/agent/no-entregados/{muerto}/reintentar", {},
                                  desde="/agent/no-entregados")
        assert respuesta.headers["Location"] == "/agent/no-entregados"
        assert f"Se volverá a intentar el aviso {muerto}." in texto(
            agente.client.get("/agent/no-entregados"))
        f = fila(sesiones, muerto)
        assert (f.estado, _utc(f.vence_en)) == ("pendiente", AGENTES_AHORA + timedelta(hours=24))
        assert agente.enviar("/agent/no-entregados/9999/reintentar", {},
                             desde="/agent/no-entregados").status_code == 404
    finally:
        db.engine_de(app).dispose()
