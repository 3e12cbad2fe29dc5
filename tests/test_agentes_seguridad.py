"""The agents' page under a hostile probe (issue 8): https cookie and HSTS, no IDOR, login
throttling, logout that revokes, and bad ids that get 404/400 without logging request data."""

from __future__ import annotations

import logging
import re
import secrets
import socket
import time

import pytest
import redis
from sqlalchemy import select

from ivr import db, repo_devoluciones
from ivr.agentes import crear_agente_command
from ivr.models import Agente, Base, Devolucion, Transferencia
from tests import test_agentes as base
from tests.llamadas import REDIS_URL, _redis_o_skip
from tests.test_agentes import (
    CONTRASENA,
    CURP,
    OTRA_CURP,
    RFC,
    Agentes,
    app_sembrada,
    cancelacion_de,
    pedir_cancelacion,
    texto,
)

# The seeded app, its data, a client and a logged-in agent, as in test_agentes.
app, datos, client, agente, reloj = base.app, base.datos, base.client, base.agente, base.reloj
ENORME = "99999999999999999999"


# -- #3 https: Secure cookie and HSTS ------------------------------------------------------


@pytest.fixture
def app_https(tmp_path, reloj):
    app = app_sembrada(tmp_path / "https.db", reloj, PUBLIC_BASE_URL="https://linea.example")
    yield app
    db.engine_de(app).dispose()


def test_bajo_https_la_cookie_es_secure_y_hay_hsts(app_https):
    client = app_https.test_client()
    entrada = Agentes(client).entrar()
    assert entrada.status_code == 302
    cookie = entrada.headers["Set-Cookie"]
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= {p.strip() for p in cookie.split(";")}
    for url in ["/agent/entrar", "/agent/static/agentes.css"]:
        with client.get(url) as respuesta:
            assert respuesta.headers["Strict-Transport-Security"] == "max-age=31536000", url


def test_bajo_http_no_hay_hsts_ni_secure(client):
    entrada = Agentes(client).entrar()
    assert "Secure" not in entrada.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in client.get("/agent/entrar").headers


# -- #4 IDOR: a person only by CURP or RFC -------------------------------------------------


def encontrado(app, transferencia_id):
    with app.app_context():
        t = db.sesion().get(Transferencia, transferencia_id)
        return t.encontrado_id, t.encontrado_por


def test_un_id_enviado_no_muestra_a_nadie(agente, app, client, datos):
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"{url}/buscar", {"derechohabiente_id": str(datos.hernandez)},
                              desde=url)
    assert respuesta.status_code == 400
    assert OTRA_CURP not in texto(respuesta)
    assert encontrado(app, datos.anonima) == (None, None)
    assert OTRA_CURP not in texto(client.get(url))
    # …and so no cancel of that person's cita either.
    assert pedir_cancelacion(agente, datos.anonima, datos.ajena).status_code == 400
    assert cancelacion_de(app, datos.ajena) == (None, "agendada")


@pytest.mark.parametrize("elegido", ["hernandez", "²", ENORME, ""])
def test_elegir_solo_entre_los_que_dio_la_busqueda(agente, app, client, datos, elegido):
    url = f"/agent/transferencias/{datos.anonima}"
    valor = str(datos.hernandez) if elegido == "hernandez" else elegido
    respuesta = agente.enviar(f"{url}/buscar", {"documento": RFC, "elegido": valor}, desde=url)
    assert respuesta.status_code == 400
    assert encontrado(app, datos.anonima) == (None, None)


def test_lo_encontrado_queda_en_el_servidor(agente, app, client, datos):
    url = f"/agent/transferencias/{datos.anonima}"
    agente.enviar(f"{url}/buscar", {"documento": CURP}, desde=url)
    assert encontrado(app, datos.anonima) == (datos.gomez, "ana")
    with client.session_transaction() as s:
        assert set(s) & {"encontrados", "derechohabiente_id"} == set()  # nothing in the cookie
    # Another agent opening the transfer sees who was found, and by whom.
    with app.app_context():
        db.sesion().add(Agente(usuario="beto", password_hash=db.sesion().scalar(
            select(Agente.password_hash).where(Agente.usuario == "ana"))))
        db.confirmar()
    otro = app.test_client()
    Agentes(otro).entrar("beto")
    pagina = texto(otro.get(url))
    assert "Ana Gómez Ruiz" in pagina and "lo encontró ana por su documento" in pagina


def test_no_se_busca_en_una_transferencia_identificada(agente, app, datos):
    url = f"/agent/transferencias/{datos.identificada}"
    respuesta = agente.enviar(f"{url}/buscar", {"documento": OTRA_CURP}, desde=url)
    assert respuesta.status_code == 400
    assert encontrado(app, datos.identificada) == (None, None)


# -- #5 login throttling -------------------------------------------------------------------


def entrar_desde(client, ip, usuario="ana", contrasena="una-contraseña-mala"):
    pagina = client.get("/agent/entrar").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', pagina).group(1)
    return client.post("/agent/entrar", environ_base={"REMOTE_ADDR": ip}, data={
        "usuario": usuario, "contrasena": contrasena, "csrf_token": csrf})


def frenada(respuesta, hasta: int = 15 * 60) -> None:
    assert respuesta.status_code == 429
    assert 0 < int(respuesta.headers["Retry-After"]) <= hasta
    assert "Demasiados intentos fallidos. Espere" in texto(respuesta)


def test_cinco_fallos_de_una_cuenta_frenan_aun_desde_otras_ip(client):
    for i in range(5):
        assert entrar_desde(client, f"10.0.0.{i}").status_code == 200
    # Even the right password, from a sixth address: the account waits out the window.
    respuesta = entrar_desde(client, "10.0.0.9", contrasena=CONTRASENA)
    frenada(respuesta)
    assert "Espere 15 minutos" in texto(respuesta)
    # Another account from that address is not held up.
    assert "incorrectos" in texto(entrar_desde(client, "10.0.0.9", usuario="beto"))


def test_cinco_fallos_desde_una_ip_frenan_cualquier_cuenta(client):
    for usuario in ["ana", "beto", "carla", "dora", "elsa"]:
        assert entrar_desde(client, "10.0.0.7", usuario=usuario).status_code == 200
    frenada(entrar_desde(client, "10.0.0.7", usuario="fito"))
    assert entrar_desde(client, "10.0.0.8", contrasena=CONTRASENA).status_code == 302


def test_entrar_bien_no_borra_la_cuenta_de_la_ip(client):
    for usuario in ["beto", "carla", "dora", "elsa"]:
        entrar_desde(client, "10.0.0.7", usuario=usuario)
    assert entrar_desde(client, "10.0.0.7", contrasena=CONTRASENA).status_code == 302
    Agentes(client).enviar("/agent/salir", {})
    assert entrar_desde(client, "10.0.0.7", usuario="fito").status_code == 200  # the fifth
    frenada(entrar_desde(client, "10.0.0.7", contrasena=CONTRASENA))


def test_pasada_la_ventana_se_puede_entrar(tmp_path, reloj):
    app = app_sembrada(tmp_path / "ventana.db", reloj, AGENT_LOGIN_LIMIT="5 per 2 seconds")
    client = app.test_client()
    for _ in range(5):
        entrar_desde(client, "10.0.0.1")
    frenada(entrar_desde(client, "10.0.0.1", contrasena=CONTRASENA), hasta=2)
    time.sleep(2.1)
    assert entrar_desde(client, "10.0.0.1", contrasena=CONTRASENA).status_code == 302
    db.engine_de(app).dispose()


@pytest.mark.redis
def test_los_fallos_se_cuentan_en_redis_para_todos_los_workers(tmp_path, reloj):
    _redis_o_skip()
    prefijo = f"prueba-{secrets.token_hex(4)}"
    # Two apps, as two gunicorn workers: separate processes' memory, one Redis.
    workers = [app_sembrada(tmp_path / f"w{i}.db", reloj, REDIS_URL=REDIS_URL,
                            RATELIMIT_KEY_PREFIX=prefijo) for i in range(2)]
    try:
        clientes = [w.test_client() for w in workers]
        for i in range(5):
            assert entrar_desde(clientes[i % 2], "10.0.0.3").status_code == 200
        frenada(entrar_desde(clientes[0], "10.0.0.3", contrasena=CONTRASENA))
        frenada(entrar_desde(clientes[1], "10.0.0.3", contrasena=CONTRASENA))
        conexion = redis.Redis.from_url(REDIS_URL)
        assert any(prefijo.encode() in k for k in conexion.keys("LIMITS:*"))
    finally:
        for w in workers:
            db.engine_de(w).dispose()
        conexion = redis.Redis.from_url(REDIS_URL)
        for k in conexion.keys(f"LIMITS:*{prefijo}*"):
            conexion.delete(k)


# -- #6 logout and reset revoke ------------------------------------------------------------


def cookie_de(client) -> str:
    return client.get_cookie("session").value


def con_cookie(app, valor):
    otro = app.test_client()
    otro.set_cookie("session", valor)
    return otro


def test_salir_revoca_las_cookies_anteriores(agente, app, client):
    guardada = cookie_de(client)
    otra_sesion = app.test_client()
    Agentes(otra_sesion).entrar()  # the same agent on another computer
    assert con_cookie(app, guardada).get("/agent/").status_code == 200
    agente.enviar("/agent/salir", {})
    for viejo in (con_cookie(app, guardada), otra_sesion):
        respuesta = viejo.get("/agent/")
        assert (respuesta.status_code, respuesta.headers["Location"]) == (302, "/agent/entrar")
    assert Agentes(client).entrar().status_code == 302  # a new login works
    assert client.get("/agent/").status_code == 200


def test_reset_de_contrasena_revoca_las_cookies(agente, app, client):
    guardada = cookie_de(client)
    resultado = app.test_cli_runner().invoke(crear_agente_command,
                                             ["ana", "--password-stdin", "--reset"],
                                             input="contraseña-nueva-de-ana\n")
    assert resultado.exit_code == 0, resultado.output
    assert con_cookie(app, guardada).get("/agent/").headers["Location"] == "/agent/entrar"


# -- #7 bad ids: 404/400, never 500, nothing of the request in the log ---------------------


@pytest.mark.parametrize("metodo, ruta", [
    ("get", f"/agent/transferencias/{ENORME}"),
    ("post", f"/agent/transferencias/{ENORME}/buscar"),
    ("post", f"/agent/transferencias/{ENORME}/cancelar"),
    ("post", f"/agent/transferencias/{ENORME}/atendida"),
    ("get", "/agent/transferencias/²"),
    ("get", "/agent/transferencias/-1"),
])
def test_transferencia_con_id_malo_es_404(agente, client, caplog, metodo, ruta):
    with caplog.at_level(logging.DEBUG):
        pagina = client.get("/agent/").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', pagina).group(1)
        respuesta = getattr(client, metodo)(ruta, data={"csrf_token": csrf})
    assert respuesta.status_code == 404
    assert ENORME not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("valor", ["²", ENORME, "12a", "-3", " 1"])
def test_cita_con_id_malo_es_400(agente, app, client, datos, caplog, valor):
    with caplog.at_level(logging.DEBUG):
        respuesta = pedir_cancelacion(agente, datos.identificada, valor)
    assert respuesta.status_code == 400
    assert "Traceback" not in caplog.text
    assert "²" not in caplog.text and ENORME not in caplog.text
    assert cancelacion_de(app, datos.futura) == (None, "agendada")


# -- the same on PostgreSQL, which refuses NULs and integers past 2**31 ----------------------


@pytest.fixture
def app_pg(postgres_url, reloj):
    app = app_sembrada(postgres_url, reloj)
    yield app
    with app.app_context():
        Base.metadata.drop_all(db.engine_de(app))
    db.engine_de(app).dispose()


@pytest.mark.postgres
def test_en_postgresql_nada_da_500_ni_deja_datos_en_el_log(app_pg, caplog):
    datos = app_pg.config["DATOS"]
    client = app_pg.test_client()
    agentes = Agentes(client)
    url = f"/agent/transferencias/{datos.identificada}"
    with app_pg.app_context():
        devolucion = repo_devoluciones.pedir_devolucion(
            db.sesion(), call_sid="CA" + "1" * 32, transferencia_id=datos.identificada,
            telefono="+525511112222", ahora=base.AHORA).id
        db.confirmar()
    with caplog.at_level(logging.DEBUG):
        assert "incorrectos" in texto(agentes.entrar("ana\x00Pedro", "x"))
        assert agentes.entrar().status_code == 302
        assert client.get(f"/agent/transferencias/{ENORME}").status_code == 404
        for cita in ["²", ENORME]:
            assert pedir_cancelacion(agentes, datos.identificada, cita).status_code == 400
        anonima = f"/agent/transferencias/{datos.anonima}"
        assert agentes.enviar(f"{anonima}/buscar", {"documento": "GOMA\x00850123"},
                              desde=anonima).status_code == 400
        assert agentes.enviar(f"{anonima}/buscar", {"documento": RFC, "elegido": ENORME},
                              desde=anonima).status_code == 400
        assert agentes.enviar(f"/agent/devoluciones/{devolucion}/llamado",
                              {"resultado": "otro", "nota": "Pedro\x00 llamó"},
                              desde=url).status_code == 302
        respuesta = pedir_cancelacion(agentes, datos.identificada, datos.futura,
                                      solicitante_tipo="tercero",
                                      solicitante_nombre="Pedro\x00Gómez",
                                      motivo_detalle="se\x00 cambió")
        assert respuesta.status_code == 302
    cancelacion, estado = cancelacion_de(app_pg, datos.futura)
    assert (estado, cancelacion.solicitante_nombre) == ("cancelada", "PedroGómez")
    assert cancelacion.motivo_texto == "No puedo asistir en la fecha u horario: se cambió"
    with app_pg.app_context():
        assert db.sesion().get(Devolucion, devolucion).nota == "Pedro llamó"
    assert "Traceback" not in caplog.text and "ERROR" not in caplog.text
    for dato in ["Pedro", ENORME, "²", "GOMA"]:
        assert dato not in caplog.text


def entrar_tras_proxy(client, cliente, usuario="ana", contrasena="una-contraseña-mala"):
    """A login as it arrives through one router: from its address, the client's appended."""
    pagina = client.get("/agent/entrar", environ_base={"REMOTE_ADDR": "10.1.1.1"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', texto(pagina)).group(1)
    return client.post("/agent/entrar", environ_base={"REMOTE_ADDR": "10.1.1.1"},
                       headers={"X-Forwarded-For": f"198.51.100.7, {cliente}"},
                       data={"usuario": usuario, "contrasena": contrasena, "csrf_token": csrf})


def test_tras_un_router_cuenta_cada_cliente(tmp_path, reloj):
    app = app_sembrada(tmp_path / "proxy.db", reloj, PROXY_HOPS=1)
    client = app.test_client()
    for usuario in ["beto", "carla", "dora", "elsa", "fito"]:
        assert entrar_tras_proxy(client, "203.0.113.1", usuario).status_code == 200
    frenada(entrar_tras_proxy(client, "203.0.113.1", "gil"))
    # Another agent behind the same router is not held up by that client's failures.
    assert entrar_tras_proxy(client, "203.0.113.2", contrasena=CONTRASENA).status_code == 302
    db.engine_de(app).dispose()


def test_sin_proxy_hops_no_se_cree_x_forwarded_for(client):
    # A client that makes up a new address each time is still one address.
    for i, usuario in enumerate(["beto", "carla", "dora", "elsa", "fito"]):
        assert entrar_tras_proxy(client, f"203.0.113.{i}", usuario).status_code == 200
    frenada(entrar_tras_proxy(client, "203.0.113.99", "gil"))


def puerto_cerrado() -> int:
    """A loopback port nothing listens on (the OS gave it, then it was closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sin_redis_se_sigue_entrando_y_frenando(tmp_path, reloj, caplog):
    app = app_sembrada(tmp_path / "sin_redis.db", reloj,
                       RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{puerto_cerrado()}/0")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert entrar_desde(client, "10.0.0.4").status_code == 200
        frenada(entrar_desde(client, "10.0.0.4", contrasena=CONTRASENA))
        assert entrar_desde(client, "10.0.0.5", usuario="beto").status_code == 200
    db.engine_de(app).dispose()
    # Said once, plainly: counting in this process until Redis answers again.
    assert "falling back to in-memory storage" in caplog.text
    assert "Traceback" not in caplog.text
