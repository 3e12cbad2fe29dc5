"""The agents' page with Flask's test client: login, expiry, list, detail, search, cancel, CLI."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ivr import agentes, create_app, db
from ivr.models import (
    Agente,
    Base,
    Cancelacion,
    Cita,
    Derechohabiente,
    Llamada,
    Transferencia,
    Unidad,
)

# Tuesday 24 November 2026, 10:00 in Mexico City.
AHORA = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
CURP = "GOMA850123HDFRRN09"
RFC = "GOMA850123AB1"
OTRA_CURP = "HEGJ700315HMCRRN05"
CONTRASENA = "una-contraseña-larga"
RAPIDO = "pbkdf2:sha256:1000"  # a cheap hash: the tests don't need scrypt's cost


class Reloj:
    """A clock the tests move by hand (the app reads it through config["RELOJ"])."""

    def __init__(self, ahora: datetime):
        self.ahora = ahora

    def __call__(self) -> datetime:
        return self.ahora

    def avanzar(self, **kw) -> None:
        self.ahora += timedelta(**kw)


@dataclass
class Datos:
    """Ids of the rows each test works on."""

    gomez: int
    hernandez: int
    futura: int
    otra_futura: int
    cancelada: int
    pasada: int
    ajena: int
    identificada: int
    anonima: int
    antigua: int


def sembrar(sesion) -> Datos:
    """A small agenda and three transfers, built with the models directly."""
    unidad = Unidad(nombre="UAPES No. 4")
    gomez = Derechohabiente(curp=CURP, rfc=RFC, nombre="Ana", primer_apellido="Gómez",
                            segundo_apellido="Ruiz", telefono="5512345678")
    hernandez = Derechohabiente(curp=OTRA_CURP, rfc="", nombre="Juan", primer_apellido="Hernández",
                                segundo_apellido=None, telefono=None)
    sesion.add_all([unidad, gomez, hernandez])
    sesion.flush()

    def cita(dh, clave, fecha, inicio, estado="agendada"):
        fin = (datetime.combine(fecha, time(*inicio)) + timedelta(minutes=15)).time()
        c = Cita(clave=clave, derechohabiente_id=dh.id, unidad_id=unidad.id, ventanilla="02",
                 fecha=fecha, hora_inicio=time(*inicio), hora_fin=fin,
                 tramite="Préstamo personal", estado=estado)
        sesion.add(c)
        sesion.flush()
        return c

    futura = cita(gomez, "UC3QK2", date(2026, 12, 2), (15, 0))
    otra_futura = cita(gomez, "UC7HW4", date(2026, 12, 9), (9, 30))
    cancelada = cita(gomez, "LP6H4J", date(2026, 12, 1), (8, 0), estado="cancelada")
    pasada = cita(gomez, "PZ3M8N", date(2026, 11, 20), (9, 0))
    ajena = cita(hernandez, "HR4T9M", date(2026, 12, 4), (11, 45))
    sesion.add(Cancelacion(cita_id=cancelada.id, folio="CANX7Q9", solicitante_tipo="titular",
                           solicitante_nombre=None, motivo_codigo=1,
                           motivo_texto="Ya no necesito el préstamo", canal="ivr",
                           call_sid="CA" + "0" * 32, creada_en=AHORA - timedelta(days=2)))
    sesion.add(Llamada(call_sid="CA" + "1" * 32, desde="+525511112222",
                       iniciada_en=AHORA - timedelta(minutes=12),
                       ruta=["menu_principal", "menu_prestamos", "curp", "apellido", "citas"]))
    identificada = Transferencia(call_sid="CA" + "1" * 32, razon="pidio_agente", nodo="citas",
                                 identificado=True, derechohabiente_id=gomez.id,
                                 cita_id=futura.id, creada_en=AHORA - timedelta(minutes=10),
                                 atendida=False)
    anonima = Transferencia(call_sid="CA" + "2" * 32, razon="identificacion_fallida",
                            nodo="curp", identificado=False, creada_en=AHORA - timedelta(minutes=3),
                            atendida=False, dial_status="no-answer")
    antigua = Transferencia(call_sid="CA" + "3" * 32, razon="razon_nueva", nodo="nodo_nuevo",
                            identificado=False, creada_en=AHORA - timedelta(days=1),
                            atendida=True, atendida_por="luis")
    if hasattr(Transferencia, "contexto"):
        identificada.contexto = {
            "desde": "+525511112222",
            "ruta": ["menu_principal", "menu_prestamos", "curp", "apellido", "citas", "motivo"],
            "documento_por": "voz",
            "motivo": {"codigo": 2, "texto": "No puedo asistir en la fecha u horario"},
            "solicitante_tipo": "tercero",
            "solicitante_nombre": "Pedro Gómez",
        }
    sesion.add_all([identificada, anonima, antigua])
    sesion.add(Agente(usuario="ana", password_hash=generate_password_hash(CONTRASENA, RAPIDO),
                      creado_en=AHORA - timedelta(days=30)))
    sesion.flush()
    return Datos(gomez.id, hernandez.id, futura.id, otra_futura.id, cancelada.id, pasada.id,
                 ajena.id, identificada.id, anonima.id, antigua.id)


@pytest.fixture
def reloj():
    return Reloj(AHORA)


def app_sembrada(ruta_db, reloj, **extra):
    """An app on a fresh SQLite file (or a PostgreSQL URL, emptied first) with the seeded
    transfers (its Datos in config)."""
    url = ruta_db if str(ruta_db).startswith("postgresql") else f"sqlite:///{ruta_db}"
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": url,
        "TWILIO_AUTH_TOKEN": "t",
        "SECRET_KEY": "k",
        "RELOJ": reloj,
        **extra,
    })
    with app.app_context():
        Base.metadata.drop_all(db.engine_de(app))
        Base.metadata.create_all(db.engine_de(app))
        app.config["DATOS"] = sembrar(db.sesion())
        db.confirmar()
    return app


@pytest.fixture
def app(tmp_path, reloj):
    app = app_sembrada(tmp_path / "agentes.db", reloj)
    yield app
    db.engine_de(app).dispose()


@pytest.fixture
def datos(app) -> Datos:
    return app.config["DATOS"]


@pytest.fixture
def client(app):
    return app.test_client()


def token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Agentes:
    """Log in and post forms the way the page does (with its CSRF token)."""

    def __init__(self, client):
        self.client = client

    def entrar(self, usuario="ana", contrasena=CONTRASENA):
        pagina = self.client.get("/agent/entrar").get_data(as_text=True)
        return self.client.post("/agent/entrar", data={
            "usuario": usuario, "contrasena": contrasena, "csrf_token": token(pagina)})

    def enviar(self, url: str, datos: dict, desde: str = "/agent/"):
        pagina = self.client.get(desde).get_data(as_text=True)
        return self.client.post(url, data={**datos, "csrf_token": token(pagina)})


@pytest.fixture
def agente(client):
    agentes_ = Agentes(client)
    respuesta = agentes_.entrar()
    assert respuesta.status_code == 302
    return agentes_


def texto(respuesta) -> str:
    return respuesta.get_data(as_text=True)


# -- login and sessions --------------------------------------------------------------------


def test_entrar_lleva_a_la_lista(client):
    respuesta = Agentes(client).entrar()
    assert respuesta.status_code == 302
    assert respuesta.headers["Location"] == "/agent/"
    pagina = client.get("/agent/")
    assert pagina.status_code == 200
    assert "Transferencias" in texto(pagina)


def test_entrar_ignora_mayusculas_del_usuario(client):
    assert Agentes(client).entrar(usuario="  ANA ").status_code == 302


@pytest.mark.parametrize("usuario, contrasena", [
    ("ana", "otra-contraseña-mala"),
    ("nadie", CONTRASENA),
    ("ana", ""),
])
def test_entrar_con_datos_malos_no_dice_cual_fallo(client, usuario, contrasena):
    respuesta = Agentes(client).entrar(usuario, contrasena)
    assert respuesta.status_code == 200
    assert "Usuario o contraseña incorrectos." in texto(respuesta)
    assert client.get("/agent/").status_code == 302


def test_cookie_de_sesion_httponly_y_samesite(client):
    respuesta = Agentes(client).entrar()
    cookie = respuesta.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie


@pytest.mark.parametrize("url", ["/agent/", "/agent/transferencias/1"])
def test_paginas_piden_entrar(client, url):
    respuesta = client.get(url)
    assert respuesta.status_code == 302
    assert respuesta.headers["Location"] == "/agent/entrar"


def test_json_sin_sesion_responde_401(client):
    respuesta = client.get("/agent/transferencias.json")
    assert respuesta.status_code == 401
    assert respuesta.get_json() == {"error": "sesión vencida o no iniciada"}


def test_despues_de_entrar_vuelve_a_la_pagina_pedida(client, datos):
    client.get(f"/agent/transferencias/{datos.anonima}")
    assert Agentes(client).entrar().headers["Location"] == f"/agent/transferencias/{datos.anonima}"


def test_no_redirige_fuera_de_la_pagina(app, client):
    with client.session_transaction() as s:
        s["siguiente"] = "//malo.example/agent/"
    assert Agentes(client).entrar().headers["Location"] == "/agent/"


def test_salir(agente, client):
    respuesta = agente.enviar("/agent/salir", {})
    assert respuesta.status_code == 302
    assert respuesta.headers["Location"] == "/agent/entrar"
    assert "Salió de la página" in texto(client.get("/agent/entrar"))
    assert client.get("/agent/").status_code == 302


def test_sesion_vence_a_las_ocho_horas_aunque_haya_actividad(agente, client, reloj):
    for _ in range(16):
        reloj.avanzar(minutes=30)
        assert client.get("/agent/").status_code == 200
    reloj.avanzar(minutes=1)
    respuesta = client.get("/agent/")
    assert respuesta.status_code == 302
    assert respuesta.headers["Location"] == "/agent/entrar"
    assert "Su sesión expiró" in texto(client.get("/agent/entrar"))
    reloj.avanzar(minutes=1)
    assert client.get("/agent/").status_code == 302  # logged out for good, not just once


def test_sesion_vence_tras_una_hora_sin_actividad(agente, client, reloj):
    # The list polling by itself is not activity: an unattended tab logs out.
    for _ in range(6):
        reloj.avanzar(minutes=10)
        assert client.get("/agent/transferencias.json").status_code == 200
    reloj.avanzar(minutes=1)
    assert client.get("/agent/transferencias.json").status_code == 401
    # The page's script then reloads: the login says why.
    assert client.get("/agent/").headers["Location"] == "/agent/entrar"
    assert "Su sesión expiró" in texto(client.get("/agent/entrar"))


def test_actividad_en_la_pagina_mantiene_la_sesion(agente, client, reloj):
    for _ in range(4):
        reloj.avanzar(minutes=50)
        assert client.get("/agent/").status_code == 200


def test_cambiar_la_contrasena_cierra_las_sesiones(agente, app, client):
    with app.app_context():
        a = db.sesion().scalar(select(Agente).where(Agente.usuario == "ana"))
        a.password_hash = generate_password_hash("otra-contraseña-nueva", RAPIDO)
        db.confirmar()
    assert client.get("/agent/").status_code == 302


def test_paginas_no_se_guardan_en_cache(agente, client, datos):
    for url in ["/agent/", "/agent/transferencias.json",
                f"/agent/transferencias/{datos.identificada}", "/agent/entrar"]:
        respuesta = client.get(url)
        assert respuesta.headers["Cache-Control"] == "no-store", url
        assert respuesta.headers["X-Frame-Options"] == "DENY"


def test_sin_secret_key_genera_una_y_avisa(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ivr.agentes"):
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
                          "TWILIO_AUTH_TOKEN": "t", "SECRET_KEY": None})
    assert len(app.config["SECRET_KEY"]) == 64
    assert "SECRET_KEY no está configurada" in caplog.text
    db.engine_de(app).dispose()


# -- CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "/agent/entrar", "/agent/salir", "/agent/transferencias/1/atendida",
    "/agent/transferencias/1/cancelar", "/agent/transferencias/1/buscar",
])
def test_formulario_sin_csrf_es_400(agente, client, url):
    respuesta = client.post(url, data={"usuario": "ana", "contrasena": CONTRASENA})
    assert respuesta.status_code == 400
    assert "El formulario caducó" in texto(respuesta)


def test_csrf_no_se_aplica_a_los_webhooks_de_twilio(client):
    # Unsigned: the webhook's own signature check answers 403, not a CSRF 400.
    assert client.post("/voice/incoming", data={"CallSid": "CA1"}).status_code == 403


# -- list ----------------------------------------------------------------------------------


def ids_de_la_lista(pagina: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="[a-z -]+" data-id="(\d+)"', pagina)]


def test_lista_pendientes_mas_reciente_primero(agente, client, datos):
    pagina = texto(client.get("/agent/"))
    assert ids_de_la_lista(pagina) == [datos.anonima, datos.identificada]
    assert '<meta http-equiv="refresh"' in pagina
    assert "2</span> pendientes" in pagina
    assert "<title>(2) Transferencias · Línea ASISSSTE</title>" in pagina
    assert "<small>Ningún agente contestó</small>" in pagina  # why that caller wasn't reached
    assert '<a href="/agent/" aria-current="page">Pendientes</a>' in pagina


def test_lista_todas(agente, client, datos):
    pagina = texto(client.get("/agent/?ver=todas"))
    assert ids_de_la_lista(pagina) == [datos.anonima, datos.identificada, datos.antigua]
    assert '<a href="/agent/?ver=todas" aria-current="page">Todas</a>' in pagina
    assert 'data-url="/agent/transferencias.json?ver=todas"' in pagina


def test_lista_json(agente, client, datos):
    respuesta = client.get("/agent/transferencias.json?ver=todas")
    assert respuesta.status_code == 200
    cuerpo = respuesta.get_json()
    assert (cuerpo["pendientes"], cuerpo["todas"]) == (2, True)
    assert cuerpo["transferencias"] == [
        {"id": datos.anonima, "en_linea": False, "hora": "09:57", "hace": "hace 3 minutos",
         "telefono": "",
         "nombre": None, "cita": None, "cita_pronto": False,
         "razon": "No se pudo identificar después de tres intentos", "identificado": False,
         "nodo": "captura de CURP o RFC", "atendida": False, "atendida_por": None,
         "conexion": "Ningún agente contestó",
         "url": f"/agent/transferencias/{datos.anonima}"},
        {"id": datos.identificada, "en_linea": False, "hora": "09:50", "hace": "hace 10 minutos",
         "telefono": "…2222", "nombre": "Ana Gómez Ruiz", "cita": "mié 2 dic, 15:00",
         "cita_pronto": False,
         "razon": "El cliente pidió un agente", "identificado": True, "nodo": "lista de citas",
         "atendida": False, "atendida_por": None, "conexion": "",
         "url": f"/agent/transferencias/{datos.identificada}"},
        # Codes the page doesn't know are shown as they are.
        {"id": datos.antigua, "en_linea": False, "hora": "10:00", "hace": "hace 24 horas",
         "telefono": "",
         "nombre": None, "cita": None, "cita_pronto": False, "razon": "razon_nueva",
         "identificado": False, "nodo": "nodo_nuevo", "atendida": True, "atendida_por": "luis",
         "conexion": "", "url": f"/agent/transferencias/{datos.antigua}"},
    ]
    # The rows as the page draws them, for its script; never the CURP or the whole number.
    assert ids_de_la_lista(cuerpo["filas"]) == [datos.anonima, datos.identificada, datos.antigua]
    assert CURP not in texto(respuesta) and "5511112222" not in texto(respuesta)
    pendientes = client.get("/agent/transferencias.json").get_json()
    assert [t["id"] for t in pendientes["transferencias"]] == [datos.anonima, datos.identificada]


def test_lista_ve_las_transferencias_nuevas(agente, app, client, reloj):
    with app.app_context():
        db.sesion().add(Transferencia(call_sid="CA" + "4" * 32, razon="error_interno",
                                      nodo="confirmacion", identificado=True,
                                      creada_en=reloj(), atendida=False))
        db.confirmar()
    primera = client.get("/agent/transferencias.json").get_json()["transferencias"][0]
    assert primera["razon"] == "Hubo un error del sistema"
    assert primera["nodo"] == "confirmación"
    assert primera["hace"] == "hace menos de un minuto"


@pytest.mark.parametrize("estado, hace_min, en_linea", [
    ("ringing", 1, True),
    ("in-progress", 90, True),
    ("answered", 2, True),
    ("ringing", 6, False),          # a ring that old: its last status callback was lost
    ("in-progress", 4 * 60 + 1, False),
    ("completed", 1, False),
    ("initiated", 1, False),
    (None, 0, False),
])
def test_en_linea_arriba(agente, app, client, datos, estado, hace_min, en_linea):
    # The oldest transfer, already handled, whose agent leg is (or was) live.
    with app.app_context():
        t = db.sesion().get(Transferencia, datos.antigua)
        t.agente_estado = estado
        t.agente_estado_en = AHORA - timedelta(minutes=hace_min) if estado else None
        db.confirmar()
    pendientes = client.get("/agent/transferencias.json").get_json()["transferencias"]
    todas = client.get("/agent/transferencias.json?ver=todas").get_json()["transferencias"]
    if en_linea:
        assert [(f["id"], f["en_linea"]) for f in pendientes] == [
            (datos.antigua, True), (datos.anonima, False), (datos.identificada, False)]
        assert todas[0]["id"] == datos.antigua
        assert '<span class="etiqueta en-linea">en línea</span>' in texto(client.get("/agent/"))
    else:
        assert [f["id"] for f in pendientes] == [datos.anonima, datos.identificada]
        assert [f["id"] for f in todas] == [datos.anonima, datos.identificada, datos.antigua]
        assert "etiqueta en-linea" not in texto(client.get("/agent/?ver=todas"))


@pytest.mark.parametrize("dias, hora, pronto", [
    (1, (9, 0), True),        # tomorrow 09:00: 23 h away
    (1, (21, 59), True),      # 35 h 59 min away
    (1, (22, 0), False),      # exactly 36 h
    (0, (9, 0), False),       # already started
])
def test_cita_a_menos_de_36_horas(agente, app, client, datos, dias, hora, pronto):
    with app.app_context():
        sesion = db.sesion()
        cita = Cita(clave="MN8K2P", derechohabiente_id=datos.gomez,
                    unidad_id=sesion.get(Cita, datos.futura).unidad_id, ventanilla="04",
                    fecha=date(2026, 11, 24) + timedelta(days=dias), hora_inicio=time(*hora),
                    hora_fin=time(23, 0), tramite="Préstamo personal")
        sesion.add(cita)
        sesion.flush()
        t = Transferencia(call_sid="CA" + "6" * 32, razon="pidio_agente", nodo="citas",
                          identificado=True, derechohabiente_id=datos.gomez, cita_id=cita.id,
                          creada_en=AHORA, atendida=False)
        sesion.add(t)
        db.confirmar()
        t_id = t.id
    fila = client.get("/agent/transferencias.json").get_json()["transferencias"][0]
    assert (fila["id"], fila["cita_pronto"]) == (t_id, pronto)
    pagina = texto(client.get(f"/agent/transferencias/{t_id}"))
    assert pagina.count('<span class="etiqueta pronto">en menos de 36 h</span>') == int(pronto)


@pytest.mark.parametrize("dial_status, texto_esperado", [
    ("completed", "Habló con un agente"),
    ("no-answer", "Ningún agente contestó"),
    ("busy", "Línea de agentes ocupada"),
    ("in-progress", "En línea con un agente"),
    ("fuera_de_horario", "Fuera de horario: no se le comunicó"),
])
def test_estado_del_enlace_en_espanol(agente, app, client, datos, dial_status, texto_esperado):
    with app.app_context():
        db.sesion().get(Transferencia, datos.identificada).dial_status = dial_status
        db.confirmar()
    pagina = texto(client.get(f"/agent/transferencias/{datos.identificada}"))
    assert f"<dt>Enlace con agente</dt><dd>{texto_esperado}</dd>" in pagina
    assert dial_status not in pagina


# -- detail --------------------------------------------------------------------------------


def test_detalle_de_una_llamada_identificada(agente, client, datos):
    pagina = texto(client.get(f"/agent/transferencias/{datos.identificada}"))
    assert "+525511112222" in pagina
    assert "Ana Gómez Ruiz" in pagina
    assert CURP in pagina and RFC in pagina and "5512345678" in pagina
    assert "El cliente pidió un agente" in pagina
    # All the citas, in date order, with their state and the folio of the cancelled one.
    claves = re.findall(r'<tr id="cita-\d+">\s*<td class="clave"[^>]*>(\w+)', pagina)
    assert claves == ["PZ3M8N", "LP6H4J", "UC3QK2", "UC7HW4"]
    assert "CANX7Q9" in pagina
    assert "miércoles 2 de diciembre de 2026" in pagina
    assert "15:00–15:15" in pagina
    assert "la de la llamada" in pagina
    # Only citas that can still go are offered for cancelling.
    opciones = re.findall(r'<option value="(\d+)"[^>]*>(\w+) ·', pagina)
    assert [int(i) for i, _ in opciones] == [datos.futura, datos.otra_futura]
    assert f'<option value="{datos.futura}" selected>' in pagina  # the call's cita
    assert "menú principal</li><li>menú de préstamos" in pagina
    assert "HR4T9M" not in pagina  # somebody else's cita


@pytest.mark.skipif(not hasattr(Transferencia, "contexto"),
                    reason="Transferencia.contexto aún no existe")
def test_detalle_muestra_lo_capturado(agente, client, datos):
    pagina = texto(client.get(f"/agent/transferencias/{datos.identificada}"))
    assert "No puedo asistir en la fecha u horario" in pagina
    assert "Otra persona a nombre del titular: Pedro Gómez" in pagina
    assert "dio su documento de viva voz" in pagina
    assert "<li>motivo</li>" in pagina
    # The form starts with what the caller already said.
    assert '<option value="2" selected>' in pagina
    assert 'value="tercero" checked' in pagina


def test_detalle_inexistente_es_404(agente, client):
    assert client.get("/agent/transferencias/9999").status_code == 404


def test_detalle_sin_identificar_ofrece_buscar(agente, client, datos):
    pagina = texto(client.get(f"/agent/transferencias/{datos.anonima}"))
    assert "Búsquelo por su CURP o RFC" in pagina
    assert f'method="post" action="/agent/transferencias/{datos.anonima}/buscar"' in pagina
    assert "Ana" not in pagina


# -- search --------------------------------------------------------------------------------


@pytest.mark.parametrize("documento", [CURP, CURP.lower(), "goma-850123 hdfrrn09", RFC])
def test_buscar_por_curp_o_rfc(agente, client, datos, documento):
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"{url}/buscar", {"documento": documento}, desde=url)
    assert respuesta.status_code == 302
    assert respuesta.headers["Location"] == url  # the document never goes into a URL
    pagina = texto(client.get(url))
    assert "Ana Gómez Ruiz" in pagina
    assert "lo encontró usted por su documento" in pagina
    assert "UC3QK2" in pagina


def test_buscar_rfc_compartido_deja_elegir(agente, app, client, datos):
    with app.app_context():
        gemelo = Derechohabiente(curp="GOMA850123MDFRRN02", rfc=RFC, nombre="Alma",
                                 primer_apellido="Gómez", segundo_apellido=None, telefono=None)
        db.sesion().add(gemelo)
        db.confirmar()
        gemelo_id = gemelo.id
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"{url}/buscar", {"documento": RFC}, desde=url)
    pagina = texto(respuesta)
    assert "Hay 2 personas con ese documento" in pagina
    assert "Ana Gómez Ruiz · " + CURP in pagina and "Alma Gómez · GOMA850123MDFRRN02" in pagina
    respuesta = agente.enviar(f"{url}/buscar", {"documento": RFC, "elegido": str(gemelo_id)},
                              desde=url)
    assert respuesta.headers["Location"] == url
    assert "Alma Gómez" in texto(client.get(url))


def test_buscar_sin_resultado(agente, client, datos):
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"{url}/buscar", {"documento": "ZZZZ990101HDFRRN01"}, desde=url)
    assert respuesta.status_code == 200
    assert "No hay ningún derechohabiente con ese documento." in texto(respuesta)


def test_buscar_documento_mal_escrito(agente, client, datos):
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"{url}/buscar", {"documento": "hola"}, desde=url)
    assert respuesta.status_code == 400
    assert "Escriba una CURP (18 caracteres) o un RFC" in texto(respuesta)


def test_no_loguea_el_documento_buscado(agente, client, datos, caplog):
    url = f"/agent/transferencias/{datos.anonima}"
    with caplog.at_level(logging.DEBUG):
        agente.enviar(f"{url}/buscar", {"documento": CURP}, desde=url)
        client.get(url)
    assert CURP not in caplog.text and "Gómez" not in caplog.text


# -- cancelling ----------------------------------------------------------------------------


def cancelacion_de(app, cita_id):
    with app.app_context():
        sesion = db.sesion()
        return (sesion.scalar(select(Cancelacion).where(Cancelacion.cita_id == cita_id)),
                sesion.get(Cita, cita_id).estado)


def pedir_cancelacion(agente, t_id, cita_id, confirmado=True, **extra):
    url = f"/agent/transferencias/{t_id}"
    campos = {"cita_id": str(cita_id), "motivo": "2", "solicitante_tipo": "titular", **extra}
    if confirmado:
        campos["confirmado"] = "si"
    return agente.enviar(f"{url}/cancelar", campos, desde=url)


def test_cancelar_pide_confirmacion_primero(agente, app, datos):
    respuesta = pedir_cancelacion(agente, datos.identificada, datos.futura, confirmado=False)
    assert respuesta.status_code == 200
    pagina = texto(respuesta)
    assert "¿Cancelar esta cita?" in pagina
    assert "miércoles 2 de diciembre de 2026, 15:00–15:15" in pagina
    assert "No puedo asistir en la fecha u horario" in pagina
    assert 'name="confirmado" value="si"' in pagina
    assert cancelacion_de(app, datos.futura) == (None, "agendada")


def test_cancelar_muestra_el_folio(agente, app, client, datos):
    respuesta = pedir_cancelacion(agente, datos.identificada, datos.futura,
                                  solicitante_tipo="tercero", solicitante_nombre="  Pedro   Gómez ")
    assert respuesta.status_code == 302
    assert respuesta.headers["Location"] == f"/agent/transferencias/{datos.identificada}"
    cancelacion, estado = cancelacion_de(app, datos.futura)
    assert estado == "cancelada"
    assert (cancelacion.canal, cancelacion.call_sid) == ("agente", "CA" + "1" * 32)
    assert (cancelacion.motivo_codigo, cancelacion.motivo_texto) == (
        2, "No puedo asistir en la fecha u horario")
    assert (cancelacion.solicitante_tipo, cancelacion.solicitante_nombre) == (
        "tercero", "Pedro Gómez")
    pagina = texto(client.get(respuesta.headers["Location"]))
    assert "Cita <span class=\"clave\">UC3QK2</span> cancelada. Folio de cancelación:" in pagina
    assert f'<p class="folio">{cancelacion.folio}</p>' in pagina
    assert "por un agente" in pagina
    # The result is shown once; the folio stays in the citas table.
    otra_vez = texto(client.get(respuesta.headers["Location"]))
    assert "Folio de cancelación:" not in otra_vez
    assert cancelacion.folio in otra_vez
    # The call's cita is gone from the form: the next one is not chosen for the agent.
    assert '<option value="">Elija la cita…</option>' in otra_vez


def test_cancelar_con_detalle_de_otro_motivo(agente, app, datos):
    pedir_cancelacion(agente, datos.identificada, datos.futura, motivo="5",
                      motivo_detalle="Me cambiaron de adscripción")
    cancelacion, _ = cancelacion_de(app, datos.futura)
    assert (cancelacion.motivo_codigo, cancelacion.motivo_texto) == (
        5, "Otro motivo: Me cambiaron de adscripción")


def test_cancelar_una_ya_cancelada_da_su_folio(agente, app, client, datos):
    respuesta = pedir_cancelacion(agente, datos.identificada, datos.cancelada)
    pagina = texto(client.get(respuesta.headers["Location"]))
    assert "ya estaba cancelada. Su folio es:" in pagina
    assert '<p class="folio">CANX7Q9</p>' in pagina
    cancelacion, _ = cancelacion_de(app, datos.cancelada)
    assert cancelacion.canal == "ivr"  # untouched


def test_no_cancela_una_cita_pasada(agente, app, client, datos):
    respuesta = pedir_cancelacion(agente, datos.identificada, datos.pasada)
    pagina = texto(client.get(respuesta.headers["Location"]))
    assert "ya no se puede cancelar: ya empezó o ya pasó" in pagina
    assert cancelacion_de(app, datos.pasada) == (None, "agendada")


def test_no_cancela_la_cita_de_otra_persona(agente, app, datos):
    assert pedir_cancelacion(agente, datos.identificada, datos.ajena).status_code == 400
    assert pedir_cancelacion(agente, datos.anonima, datos.futura).status_code == 400
    assert cancelacion_de(app, datos.ajena) == (None, "agendada")


@pytest.mark.parametrize("extra, mensaje", [
    ({"motivo": ""}, "Elija el motivo de la cancelación."),
    ({"motivo": "99"}, "Elija el motivo de la cancelación."),
    ({"solicitante_tipo": ""}, "Indique quién pide la cancelación."),
    ({"solicitante_tipo": "tercero"}, "Escriba el nombre de la persona que pide la cancelación."),
    ({"cita_id": ""}, "Elija la cita que se va a cancelar."),
])
def test_cancelar_con_datos_incompletos(agente, app, client, datos, extra, mensaje):
    campos = {"cita_id": str(datos.futura), **extra}
    respuesta = pedir_cancelacion(agente, datos.identificada, **campos)
    assert respuesta.status_code == 302
    assert mensaje in texto(client.get(respuesta.headers["Location"]))
    assert cancelacion_de(app, datos.futura) == (None, "agendada")


def test_cancelar_tras_buscar_a_quien_llama(agente, app, datos):
    url = f"/agent/transferencias/{datos.anonima}"
    agente.enviar(f"{url}/buscar", {"documento": RFC}, desde=url)
    assert pedir_cancelacion(agente, datos.anonima, datos.otra_futura).status_code == 302
    cancelacion, estado = cancelacion_de(app, datos.otra_futura)
    assert (estado, cancelacion.call_sid) == ("cancelada", "CA" + "2" * 32)


# -- handled -------------------------------------------------------------------------------


def test_marcar_atendida(agente, app, client, datos):
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"{url}/atendida", {}, desde=url)
    assert respuesta.status_code == 302
    with app.app_context():
        t = db.sesion().get(Transferencia, datos.anonima)
        assert (t.atendida, t.atendida_por) == (True, "ana")
    assert "Atendida por ana" in texto(client.get(url))
    assert client.get("/agent/transferencias.json").get_json()["pendientes"] == 1


# -- accounts ------------------------------------------------------------------------------


def agente_guardado(app, usuario):
    with app.app_context():
        return db.sesion().scalar(select(Agente).where(Agente.usuario == usuario))


def test_crear_agente_desde_stdin(app):
    resultado = app.test_cli_runner().invoke(
        agentes.crear_agente_command, ["Luisa.Perez", "--password-stdin"],
        input="clave-de-luisa-123\n")
    assert resultado.exit_code == 0, resultado.output
    assert "Agente 'luisa.perez' creado." in resultado.output
    guardado = agente_guardado(app, "luisa.perez")
    assert guardado.password_hash != "clave-de-luisa-123"
    assert check_password_hash(guardado.password_hash, "clave-de-luisa-123")


def test_crear_agente_pregunta_dos_veces(app, client):
    resultado = app.test_cli_runner().invoke(agentes.crear_agente_command, ["beto"],
                                             input="clave-de-beto-1\nclave-de-beto-1\n")
    assert resultado.exit_code == 0, resultado.output
    assert resultado.output.count("Contraseña") == 1 and "Repítala" in resultado.output
    assert "clave-de-beto-1" not in resultado.output  # hidden input
    assert Agentes(client).entrar("beto", "clave-de-beto-1").status_code == 302


def test_crear_agente_contrasenas_distintas(app):
    resultado = app.test_cli_runner().invoke(
        agentes.crear_agente_command, ["beto"],
        input="clave-de-beto-1\nclave-de-beto-2\nclave-de-beto-3\nclave-de-beto-3\n")
    assert resultado.exit_code == 0
    assert "no coinciden" in resultado.output.lower() or "match" in resultado.output.lower()
    assert check_password_hash(agente_guardado(app, "beto").password_hash, "clave-de-beto-3")


@pytest.mark.parametrize("args, entrada, mensaje", [
    (["ana", "--password-stdin"], "otra-clave-larga\n", "ya existe"),
    (["nuevo", "--password-stdin"], "corta\n", "al menos 10 caracteres"),
    (["con espacio", "--password-stdin"], "otra-clave-larga\n", "USUARIO"),
    (["nadie", "--password-stdin", "--reset"], "otra-clave-larga\n", "no existe"),
])
def test_crear_agente_rechaza(app, args, entrada, mensaje):
    resultado = app.test_cli_runner().invoke(agentes.crear_agente_command, args, input=entrada)
    assert resultado.exit_code != 0
    assert mensaje in resultado.output


def test_reset_cambia_la_contrasena(app, client):
    resultado = app.test_cli_runner().invoke(agentes.crear_agente_command,
                                             ["ana", "--password-stdin", "--reset"],
                                             input="contraseña-nueva-de-ana\n")
    assert resultado.exit_code == 0, resultado.output
    assert "incorrectos" in texto(Agentes(client).entrar("ana", CONTRASENA))
    assert Agentes(client).entrar("ana", "contraseña-nueva-de-ana").status_code == 302
