"""Fixtures for whole calls: an app on each backend, a test agenda, and a signed test caller."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from xml.etree import ElementTree

import pytest
import redis

from ivr import create_app, db, phone
from ivr.demo import con_digito
from ivr.importer import importar_csv
from ivr.models import Base

TOKEN = "token-de-pruebas"
BASE = "https://ivr.example.test"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MEXICO_UTC = timedelta(hours=-6)  # Mexico City has no DST since 2022
# Tuesday 24 November 2026, 10:00 in Mexico City: a working day inside agent hours.
AHORA = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
HOY = date(2026, 11, 24)


@dataclass(frozen=True)
class Persona:
    """A derechohabiente of the test agenda."""

    curp: str
    rfc: str
    nombre: str
    primer_apellido: str


GOMEZ = Persona(con_digito("GOMA850123HDFRRN0"), "GOMA850123AB1", "Ana", "Gómez")
# Same keys on the keypad as GOMEZ's CURP (A and C are both on 2): only the surname tells them
# apart.
GODINEZ = Persona(con_digito("GOMC850123HDFRRN0"), "", "Carlos", "Godínez")
HERNANDEZ = Persona(con_digito("HEGJ700315HMCRRN0"), "HEGJ700315QX4", "Juan", "Hernández")
RUIZ = Persona(con_digito("RUPL900704MJCZRS0"), "RUPL900704KK2", "Lucía", "Ruiz")
PEREZ = Persona(con_digito("PEMR610910HOCRRB0"), "", "Roberto", "Pérez")
NUNEZ = Persona(con_digito("NUSM881122XDFXXR0"), "", "Mar", "Núñez")
LOPEZ = Persona(con_digito("LOVM550101MDFPRR0"), "", "María", "López")

ENCABEZADO = ("curp,rfc,nombre,primer_apellido,segundo_apellido,telefono,clave,unidad,ventanilla,"
              "fecha,hora_inicio,hora_fin,estado")


def _fila(p: Persona, clave: str, fecha: date, inicio: str, fin: str, estado="agendada",
          unidad="UAPES No. 4", ventanilla="02") -> str:
    return ",".join([p.curp, p.rfc, p.nombre, p.primer_apellido, "", "5512345678", clave, unidad,
                     ventanilla, fecha.isoformat(), inicio, fin, estado])


def agenda_csv() -> str:
    """The test agenda, dated around AHORA."""
    filas = [
        _fila(GOMEZ, "UC3QK2", date(2026, 12, 2), "15:00", "15:15"),
        _fila(GODINEZ, "GD7Q2K", date(2026, 12, 3), "09:00", "09:15"),
        _fila(HERNANDEZ, "HR4T9M", date(2026, 12, 4), "11:45", "12:15", unidad="UAPES No. 7",
              ventanilla="05"),
        # Two citas, listed out of order on purpose.
        _fila(RUIZ, "RZ8C2B", date(2026, 12, 9), "13:00", "13:15"),
        _fila(RUIZ, "RZ2D7F", date(2026, 11, 30), "10:30", "10:45"),
        # Only a past cita, and one that already started today.
        _fila(PEREZ, "PZ3M8N", date(2026, 11, 20), "09:00", "09:15"),
        _fila(PEREZ, "PZ9K3T", HOY, "09:30", "09:45"),
        # Tomorrow morning: less than 36 hours away.
        _fila(NUNEZ, "NZ5W2Q", HOY + timedelta(days=1), "09:00", "09:15"),
        # Already cancelled earlier (see cancelar_previa).
        _fila(LOPEZ, "LP6H4J", date(2026, 12, 1), "08:00", "08:15"),
    ]
    return "\n".join([ENCABEZADO, *filas]) + "\n"


def _redis_o_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as e:
        pytest.skip(f"Redis no disponible en {REDIS_URL}: {type(e).__name__}")


def nueva_app(db_url: str, store: str, **extra):
    """An app on this database and store, at AHORA, with agents on a phone number."""
    config = {
        "TESTING": True,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL if store == "redis" else None,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": BASE,
        "AGENT_DIAL": "+525540001000",
        "AGENT_HOURS": "lun-vie 08:00-20:00; sab 09:00-14:00",
        "SECRET_KEY": "pruebas",
        "RELOJ": lambda: AHORA,
    }
    config.update(extra)
    if store == "redis":
        _redis_o_skip()
        redis.Redis.from_url(REDIS_URL).flushdb()
    return create_app(config)


def cargar_agenda(app) -> None:
    """Create the schema and load the test agenda through the real importer."""
    with app.app_context():
        engine = db.engine_de(app)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        sesion = db.sesion()
        resultado = importar_csv(sesion, io.StringIO(agenda_csv()))
        assert resultado.errores == []
        sesion.commit()


@pytest.fixture(params=["sqlite-memoria", pytest.param("postgres-redis",
                                                       marks=[pytest.mark.postgres,
                                                              pytest.mark.redis])])
def app(request, tmp_path):
    """The app with the test agenda, on SQLite + in-process store and on PostgreSQL + Redis."""
    if request.param == "sqlite-memoria":
        url, store = f"sqlite:///{tmp_path}/ivr.sqlite3", "memoria"
    else:
        url, store = request.getfixturevalue("postgres_url"), "redis"
    app = nueva_app(url, store)
    cargar_agenda(app)
    yield app
    db.engine_de(app).dispose()


class Llamada:
    """A signed test call that follows TwiML as Twilio does: press keys, say things, listen."""

    def __init__(self, app, desde="+525511112222", **opciones):
        self.app = app
        self.tel = phone.Telefono(phone.FlaskTransport(app, BASE), TOKEN, desde=desde,
                                  public_base_url=BASE, **opciones)
        self.tel.marcar()

    @property
    def dicho(self) -> str:
        """Everything said since the last answer."""
        return self.tel.dicho

    @property
    def nodo(self) -> str | None:
        """The node the current Gather posts to (None once the call is over)."""
        g = self.tel.ultimo_gather
        if self.tel.terminada or not g:
            return None
        return g["action"].rsplit("/", 1)[-1]

    def press(self, teclas: str) -> Llamada:
        self.tel.press(teclas)
        return self

    def say(self, texto: str) -> Llamada:
        self.tel.say(texto)
        return self

    def silence(self) -> Llamada:
        self.tel.silence()
        return self

    def xml(self) -> ElementTree.Element:
        """The last TwiML document, parsed."""
        return ElementTree.fromstring(self.tel.ultima_respuesta[2])


@pytest.fixture
def llamar(app):
    """Place a signed call to the app: `llamar().press("5")`."""
    return lambda **kw: Llamada(app, **kw)


def hasta_curp(llamada: Llamada) -> Llamada:
    """5 → 1 → 7: from the welcome to the CURP question."""
    llamada.press("5").press("1").press("7")
    assert llamada.nodo == "curp"
    return llamada


def mexico(h: int, m: int = 0, dia: date = HOY) -> datetime:
    """An aware instant given in Mexico City wall time."""
    return datetime.combine(dia, time(h, m), tzinfo=UTC) - MEXICO_UTC
