"""The agents' page in a real headless Chromium: log in, watch the list, open a transfer, cancel."""

from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from ivr import db, repo_devoluciones
from ivr.models import Cancelacion, Cita, Transferencia
from tests.test_agentes import AHORA, CONTRASENA, Reloj, app_sembrada  # the same data

CHROMIUM = "/usr/bin/chromium"
# The network is closed: nothing in Chromium may try to reach out.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright no está instalado (pip install -e '.[test]')")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() or shutil.which("chromium")),
                       reason=f"no hay Chromium en {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def app(tmp_path):
    app = app_sembrada(tmp_path / "navegador.db", Reloj(AHORA), AGENT_REFRESH_SECONDS=1)
    yield app
    db.engine_de(app).dispose()


@contextmanager
def servir(app):
    """The app on 127.0.0.1 with an ephemeral port, in a thread."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    hilo = threading.Thread(target=srv.serve_forever, name="servidor-agentes")
    hilo.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        hilo.join(timeout=10)
        srv.server_close()


@pytest.fixture
def servidor(app):
    with servir(app) as url:
        yield url


@pytest.fixture
def pagina():
    with sync_api.sync_playwright() as p:
        navegador = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        contexto = navegador.new_context(locale="es-MX", viewport={"width": 1280, "height": 900})
        pagina = contexto.new_page()
        pagina.set_default_timeout(10_000)
        errores: list[str] = []
        pagina.on("console", lambda m: errores.append(m.text) if m.type == "error" else None)
        pagina.on("pageerror", lambda e: errores.append(str(e)))
        pagina.errores = errores
        yield pagina
        contexto.close()
        navegador.close()


@pytest.fixture
def capturas(tmp_path) -> Path:
    """Where screenshots go: CAPTURAS_DIR to keep them, else the test's tmp dir."""
    destino = Path(os.environ.get("CAPTURAS_DIR") or tmp_path / "capturas")
    destino.mkdir(parents=True, exist_ok=True)
    return destino


def test_entrar_ver_la_lista_abrir_cancelar_y_atender(app, servidor, pagina, capturas):
    expect = sync_api.expect
    datos = app.config["DATOS"]

    # Everything asks for a login first.
    pagina.goto(f"{servidor}/agent/")
    expect(pagina).to_have_url(f"{servidor}/agent/entrar")
    pagina.fill("#usuario", "ana")
    pagina.fill("#contrasena", "no-es-la-contraseña")
    pagina.click("button:has-text('Entrar')")
    expect(pagina.locator(".aviso.error")).to_have_text("Usuario o contraseña incorrectos.")
    pagina.screenshot(path=capturas / "01-entrar.png", full_page=True)
    pagina.fill("#contrasena", CONTRASENA)
    pagina.click("button:has-text('Entrar')")

    # The list: pending transfers, newest first.
    expect(pagina).to_have_url(f"{servidor}/agent/")
    filas = pagina.locator("#transferencias tbody tr")
    expect(filas).to_have_count(2)
    expect(filas.nth(0)).to_contain_text("No se pudo identificar después de tres intentos")
    expect(filas.nth(1)).to_contain_text("El cliente pidió un agente")
    expect(filas.nth(1)).to_contain_text("Ana Gómez Ruiz")
    expect(filas.nth(1)).to_contain_text("tel. …2222")
    expect(filas.nth(1)).to_contain_text("mié 2 dic, 15:00")

    # It refreshes by itself: a new transfer shows up on top without reloading.
    with app.app_context():
        db.sesion().add(Transferencia(call_sid="CA" + "9" * 32, razon="reintentos_agotados",
                                      nodo="motivo", identificado=True,
                                      creada_en=app.config["RELOJ"](), atendida=False))
        db.confirmar()
    expect(filas).to_have_count(3)
    expect(filas.nth(0)).to_contain_text("No logró responder después de tres intentos")
    # It announces itself: highlighted, in the title and in a notice, until the agent acts.
    expect(filas.nth(0)).to_have_class(re.compile(r"\bnueva\b"))
    expect(filas.nth(1)).not_to_have_class(re.compile(r"\bnueva\b"))
    expect(pagina.locator("#pendientes")).to_have_text("3")
    expect(pagina).to_have_title(re.compile(r"^¡Nueva! \(3\) Transferencias"))
    expect(pagina.locator("#nueva-llegada")).to_have_text(
        re.compile(r"^Llegó una transferencia nueva: la \d+\.$"))
    pagina.screenshot(path=capturas / "02-lista.png", full_page=True)
    pagina.keyboard.press("Shift")
    expect(pagina).to_have_title(re.compile(r"^\(3\) Transferencias"))
    expect(pagina.locator("#nueva-llegada")).to_be_hidden()

    # Open the identified caller's transfer.
    pagina.click("text=El cliente pidió un agente")
    expect(pagina).to_have_url(f"{servidor}/agent/transferencias/{datos.identificada}")
    expect(pagina.locator("#derechohabiente")).to_contain_text("Ana Gómez Ruiz")
    expect(pagina.locator("#citas")).to_contain_text("CANX7Q9")
    pagina.screenshot(path=capturas / "03-detalle.png", full_page=True)

    # Cancel the cita of the call for the caller.
    expect(pagina.locator("#cita_id")).to_have_value(str(datos.futura))
    pagina.select_option("#motivo", "1")
    pagina.check("input[name=solicitante_tipo][value=titular]")
    pagina.click("button:has-text('Cancelar la cita…')")
    expect(pagina.locator("h1")).to_have_text("¿Cancelar esta cita?")
    expect(pagina.locator("dl")).to_contain_text("Ya no necesito el préstamo")
    pagina.screenshot(path=capturas / "04-confirmar.png", full_page=True)
    pagina.click("button:has-text('Sí, cancelar la cita')")

    with app.app_context():
        cancelacion = db.sesion().scalar(
            select(Cancelacion).where(Cancelacion.cita_id == datos.futura))
    assert cancelacion.canal == "agente"
    expect(pagina.locator("#resultado-cancelacion .folio")).to_have_text(cancelacion.folio)
    expect(pagina.locator(f"#cita-{datos.futura}")).to_contain_text("Cancelada")
    expect(pagina.locator(f"#cita-{datos.futura}")).to_contain_text(cancelacion.folio)
    pagina.screenshot(path=capturas / "05-folio.png", full_page=True)

    # Mark it handled; the list says so.
    pagina.click("button:has-text('Marcar como atendida')")
    expect(pagina.locator("#estado-transferencia")).to_have_text("Atendida por ana")
    pagina.click("text=← Lista de transferencias")
    fila = pagina.locator(f"#transferencias tr[data-id='{datos.identificada}']")
    expect(fila).to_have_count(0)  # no longer pending
    expect(pagina.locator("#pendientes")).to_have_text("2")
    pagina.click("nav.vista >> text=Todas")
    expect(fila).to_contain_text("Atendida por ana")
    expect(pagina.locator(f"#transferencias tr[data-id='{datos.antigua}']")).to_contain_text(
        "Atendida por luis")
    pagina.screenshot(path=capturas / "06-lista-atendida.png", full_page=True)

    # Log out: back to the login page, and the list is closed again.
    pagina.click("button:has-text('Salir')")
    expect(pagina).to_have_url(f"{servidor}/agent/entrar")
    pagina.goto(f"{servidor}/agent/")
    expect(pagina).to_have_url(f"{servidor}/agent/entrar")
    assert pagina.errores == []  # no script errors, no CSP violations


@pytest.fixture
def app_https(tmp_path):
    app = app_sembrada(tmp_path / "https.db", Reloj(AHORA),
                       PUBLIC_BASE_URL="https://linea.example")
    yield app
    db.engine_de(app).dispose()


def test_bajo_https_la_cookie_es_secure_httponly_y_lax(app_https, pagina):
    # Chromium treats 127.0.0.1 as a secure origin, so it keeps a Secure cookie from it.
    with servir(app_https) as servidor:
        pagina.goto(f"{servidor}/agent/entrar")
        pagina.fill("#usuario", "ana")
        pagina.fill("#contrasena", CONTRASENA)
        pagina.click("button:has-text('Entrar')")
        sync_api.expect(pagina).to_have_url(f"{servidor}/agent/")
        cookies = {c["name"]: c for c in pagina.context.cookies()}
    sesion = cookies["session"]
    assert (sesion["secure"], sesion["httpOnly"], sesion["sameSite"]) == (True, True, "Lax")
    # The script can't read it.
    assert pagina.evaluate("document.cookie") == ""


def entrar(pagina, servidor) -> None:
    pagina.goto(f"{servidor}/agent/entrar")
    pagina.fill("#usuario", "ana")
    pagina.fill("#contrasena", CONTRASENA)
    pagina.click("button:has-text('Entrar')")
    sync_api.expect(pagina).to_have_url(f"{servidor}/agent/")


def cita_pronto(app) -> int:
    """A transfer about a cita tomorrow morning (less than 36 h away): returns its id."""
    datos = app.config["DATOS"]
    with app.app_context():
        sesion = db.sesion()
        cita = Cita(clave="MN8K2P", derechohabiente_id=datos.gomez,
                    unidad_id=sesion.get(Cita, datos.futura).unidad_id, ventanilla="04",
                    fecha=date(2026, 11, 25), hora_inicio=time(9, 0), hora_fin=time(9, 15),
                    tramite="Préstamo personal")
        sesion.add(cita)
        sesion.flush()
        t = Transferencia(call_sid="CA" + "5" * 32, razon="no_cancelable", nodo="confirmacion",
                          identificado=True, derechohabiente_id=datos.gomez, cita_id=cita.id,
                          creada_en=AHORA - timedelta(minutes=1), atendida=False,
                          dial_status="completed")
        sesion.add(t)
        db.confirmar()
        return t.id


def en_linea_y_devoluciones(app) -> None:
    """The handled transfer's agent leg is connected now; two callers asked for a callback."""
    datos = app.config["DATOS"]
    with app.app_context():
        sesion = db.sesion()
        t = sesion.get(Transferencia, datos.antigua)
        t.agente_estado, t.agente_estado_en = "in-progress", AHORA - timedelta(minutes=2)
        for t_id, sid, tel, minutos in [(datos.identificada, "1", "+525511112222", 20),
                                        (datos.anonima, "2", "+525533334444", 5)]:
            repo_devoluciones.pedir_devolucion(sesion, call_sid="CA" + sid * 32,
                                               transferencia_id=t_id, telefono=tel,
                                               ahora=AHORA - timedelta(minutes=minutos))
        db.confirmar()


@pytest.mark.parametrize("ancho, alto", [(390, 844), (1366, 768)])
def test_se_lee_sin_desplazarse_de_lado(app, servidor, pagina, capturas, ancho, alto):
    expect = sync_api.expect
    datos = app.config["DATOS"]
    pronto = cita_pronto(app)
    en_linea_y_devoluciones(app)
    pagina.set_viewport_size({"width": ancho, "height": alto})
    entrar(pagina, servidor)
    fila = pagina.locator(f"#transferencias tr[data-id='{pronto}']")
    expect(fila.locator(".etiqueta.pronto")).to_have_text("en menos de 36 h")
    expect(fila).to_contain_text("Ana Gómez Ruiz")
    # The caller on the line with an agent now is on top, marked, though already handled.
    primera = pagina.locator("#transferencias tbody tr").first
    expect(primera).to_have_attribute("data-id", str(datos.antigua))
    expect(primera.locator(".etiqueta.en-linea")).to_have_text("en línea")
    expect(pagina.locator("#enlace-devoluciones .cuenta")).to_have_text("2")
    paginas = {
        "lista": "/agent/",
        "todas": "/agent/?ver=todas",
        "devoluciones": "/agent/devoluciones",
        "identificada": f"/agent/transferencias/{datos.identificada}",
        "anonima": f"/agent/transferencias/{datos.anonima}",
        "pronto": f"/agent/transferencias/{pronto}",
    }
    for nombre, ruta in paginas.items():
        pagina.goto(f"{servidor}{ruta}")
        pagina.screenshot(path=capturas / f"ancho-{ancho}-{nombre}.png", full_page=True)
        anchura = pagina.evaluate("document.documentElement.scrollWidth")
        assert anchura <= ancho, f"{nombre}: {anchura} px de ancho en una ventana de {ancho}"
    # The dial's result in Spanish, and the soon cita flagged on the detail too.
    expect(pagina.locator(".tarjeta").first).to_contain_text("Habló con un agente")
    expect(pagina.locator("#citas .etiqueta.pronto")).to_have_text("en menos de 36 h")
    assert pagina.errores == []


def test_aviso_con_sonido_si_el_agente_lo_pide(app, servidor, pagina):
    expect = sync_api.expect
    entrar(pagina, servidor)
    casilla = pagina.locator("#sonido")
    expect(casilla).not_to_be_checked()
    casilla.check()
    with app.app_context():
        db.sesion().add(Transferencia(call_sid="CA" + "8" * 32, razon="pidio_agente",
                                      nodo="menu_principal", identificado=False,
                                      creada_en=app.config["RELOJ"](), atendida=False))
        db.confirmar()
    expect(pagina.locator("#transferencias")).to_have_attribute("data-sonidos", "1")
    # The choice is remembered by this browser.
    pagina.reload()
    expect(pagina.locator("#sonido")).to_be_checked()
    assert pagina.errores == []


def test_llamar_de_vuelta_y_marcarlo(app, servidor, pagina, capturas):
    expect = sync_api.expect
    datos = app.config["DATOS"]
    en_linea_y_devoluciones(app)
    entrar(pagina, servidor)
    # A new request shows in the header's count without reloading the list.
    with app.app_context():
        repo_devoluciones.pedir_devolucion(db.sesion(), call_sid="CA" + "3" * 32,
                                           transferencia_id=datos.antigua,
                                           telefono="+525555556666", ahora=AHORA)
        db.confirmar()
    expect(pagina.locator("#enlace-devoluciones .cuenta")).to_have_text("3")
    pagina.click("#enlace-devoluciones")
    filas = pagina.locator("#devoluciones tbody tr")
    expect(filas).to_have_count(3)
    expect(filas.nth(0)).to_contain_text(f"Transferencia {datos.identificada}")  # asked first
    expect(filas.nth(0)).to_contain_text("tel. …2222")
    pagina.screenshot(path=capturas / "07-devoluciones.png", full_page=True)
    filas.nth(0).locator("a.numero").click()
    expect(pagina.locator("#devolucion")).to_contain_text("+525511112222")
    pagina.check("input[name=resultado][value=contactado]")
    pagina.fill("#nota", "quiere cancelar")
    pagina.click("button:has-text('Marcar como llamado')")
    expect(pagina.locator("#devolucion")).to_contain_text(
        "Llamado por ana: Se habló con quien llamó (quiere cancelar)")
    expect(pagina.locator("#enlace-devoluciones .cuenta")).to_have_text("2")
    assert pagina.errores == []
