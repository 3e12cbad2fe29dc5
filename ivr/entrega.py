"""Delivering the outbox (`ivr worker`): each event to its destination, at least once, in order
per cita, retried with exponential backoff and jitter for 24 h, then dead."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
import requests
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr import repo_outbox
from ivr.models import ESTADOS_OUTBOX, EventoOutbox

log = logging.getLogger(__name__)
_LOG_TWILIO = logging.getLogger(__name__ + ".twilio")
_LOG_TWILIO.setLevel(logging.WARNING)  # it narrates every request's headers at INFO
API_TWILIO = "https://api.twilio.com"

TIMEOUT_SEGUNDOS = 10  # a receiver that hasn't answered by then is retried later
ESPERA_BASE = timedelta(seconds=15)
ESPERA_MAXIMA = timedelta(hours=1)
ESPERA_SIN_TRABAJO = 1.0  # seconds between looks at an empty outbox
ESPERA_SIN_BASE = 5.0  # seconds before trying again when the database is unreachable


class FalloEntrega(Exception):
    """A delivery that did not succeed; the message says why, without personal data."""


@dataclass(frozen=True)
class Envio:
    """What a sender needs of an event (read before sending, so no ORM object is shared)."""

    id: int
    evento_id: str
    destino: str
    cuerpo: str


Remitente = Callable[[Envio], None]


def espera(intentos: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the n-th failed attempt: doubling from ESPERA_BASE up to
    ESPERA_MAXIMA, the second half of it random ("equal jitter"), so that many events failing
    together (a receiver down) don't all come back at the same instant."""
    rng = rng or random
    duplicaciones = min(max(intentos - 1, 0), 20)  # past the cap anyway; keeps it finite
    techo = min(ESPERA_BASE * 2 ** duplicaciones, ESPERA_MAXIMA)
    return techo / 2 + techo / 2 * rng.random()


# -- senders -------------------------------------------------------------------------------


def firma(secreto: str, cuerpo: bytes) -> str:
    """The X-IVR-Firma header: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secreto.encode(), cuerpo, hashlib.sha256).hexdigest()


def al_sistema_de_citas(config: Mapping, timeout: float = TIMEOUT_SEGUNDOS) -> Remitente:
    """A sender that POSTs the event's JSON, signed, to SISTEMA_CITAS_WEBHOOK_URL."""
    url = config.get("SISTEMA_CITAS_WEBHOOK_URL")
    secreto = config.get("SISTEMA_CITAS_WEBHOOK_SECRET") or ""

    def enviar(envio: Envio) -> None:
        if not url:
            raise FalloEntrega("SISTEMA_CITAS_WEBHOOK_URL no está configurada en el worker")
        cuerpo = envio.cuerpo.encode("utf-8")
        cabeceras = {"Content-Type": "application/json", "Idempotency-Key": envio.evento_id,
                     "X-IVR-Firma": firma(secreto, cuerpo)}
        try:
            respuesta = requests.post(url, data=cuerpo, headers=cabeceras, timeout=timeout,
                                      allow_redirects=False)
        except requests.Timeout:
            raise FalloEntrega(f"sin respuesta en {timeout:g} s") from None
        except requests.RequestException as e:
            raise FalloEntrega(f"no se pudo conectar ({type(e).__name__})") from None
        if not 200 <= respuesta.status_code < 300:
            raise FalloEntrega(f"HTTP {respuesta.status_code}")

    return enviar


class _HttpTwilio(TwilioHttpClient):
    """Twilio's own HTTP client, sending to TWILIO_API_URL instead of https://api.twilio.com
    when it is set (a local fake in tests, a proxy); its request log kept to warnings."""

    def __init__(self, base: str | None, timeout: float):
        super().__init__(timeout=timeout, logger=_LOG_TWILIO)
        self.base = base.rstrip("/") if base else None

    def request(self, method, url, *args, **kwargs):
        if self.base and url.startswith(API_TWILIO):
            url = self.base + url[len(API_TWILIO):]
        return super().request(method, url, *args, **kwargs)


def al_titular_por_sms(config: Mapping, timeout: float = TIMEOUT_SEGUNDOS) -> Remitente:
    """A sender of the titular's SMS through the twilio library's REST client."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    desde = config.get("TWILIO_SMS_FROM")
    servicio = config.get("TWILIO_MESSAGING_SERVICE_SID")

    def enviar(envio: Envio) -> None:
        if not (sid and token and (desde or servicio)):
            raise FalloEntrega("faltan TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN o TWILIO_SMS_FROM "
                               "en el worker")
        mensaje = json.loads(envio.cuerpo)
        cliente = Client(sid, token,
                         http_client=_HttpTwilio(config.get("TWILIO_API_URL"), timeout))
        remitente = {"messaging_service_sid": servicio} if servicio else {"from_": desde}
        try:
            cliente.messages.create(to=mensaje["to"], body=mensaje["body"], **remitente)
        except TwilioRestException as e:
            # Status and Twilio's error code only: its message may quote the phone number.
            codigo = f" (error {e.code})" if e.code else ""
            raise FalloEntrega(f"Twilio HTTP {e.status}{codigo}") from None
        except requests.Timeout:
            raise FalloEntrega(f"Twilio sin respuesta en {timeout:g} s") from None
        except requests.RequestException as e:
            raise FalloEntrega(f"no se pudo conectar con Twilio ({type(e).__name__})") from None

    return enviar


def remitentes_de(config: Mapping, timeout: float = TIMEOUT_SEGUNDOS) -> dict[str, Remitente]:
    """One sender per outbox destination, from this configuration."""
    return {"sistema_citas": al_sistema_de_citas(config, timeout),
            "sms": al_titular_por_sms(config, timeout)}


# -- the worker ----------------------------------------------------------------------------


def entregar_uno(sesiones: sessionmaker[Session], remitentes: Mapping[str, Remitente],
                 ahora: Callable[[], datetime], rng: random.Random | None = None) -> int | None:
    """Deliver the next due event, if any, and record the outcome; its id, or None when
    nothing was due.

    On PostgreSQL the event's row stays locked while it is sent: a worker killed mid-delivery
    leaves it pending (its lock and transaction die with its connection) and it is sent again,
    which is why delivery is *at least* once and receivers dedupe on Idempotency-Key. On SQLite
    (one worker) the read is ended before sending, so the web process is never kept waiting.
    """
    with sesiones() as sesion:
        fila = repo_outbox.reclamar_siguiente(sesion, ahora())
        if fila is None:
            sesion.rollback()
            return None
        envio = Envio(fila.id, fila.evento_id, fila.destino, fila.cuerpo)
        intento = fila.intentos + 1
        if sesion.get_bind().dialect.name != "postgresql":
            sesion.commit()
        try:
            remitente = remitentes.get(envio.destino)
            if remitente is None:
                raise FalloEntrega(f"destino sin remitente: {envio.destino}")
            remitente(envio)
        except FalloEntrega as e:
            error = str(e)
        except Exception as e:  # noqa: BLE001 - a bug in a sender must not stop the worker
            log.exception("outbox %s: error inesperado al enviar", envio.id)
            error = f"error inesperado ({type(e).__name__})"
        else:
            error = None
        fila = sesion.get(EventoOutbox, envio.id)
        if error is None:
            repo_outbox.marcar_entregado(sesion, fila, ahora())
            log.info("outbox %s %s: entregado (intento %s)", envio.id, envio.destino, intento)
        else:
            repo_outbox.marcar_fallido(sesion, fila, ahora(), error, espera(intento, rng))
            log.warning("outbox %s %s: intento %s falló: %s; %s", envio.id, envio.destino,
                        intento, error,
                        "sin más intentos (muerto)" if fila.estado == "muerto"
                        else f"siguiente intento {fila.proximo_intento_en.isoformat()}")
        sesion.commit()
        return envio.id


def trabajar(sesiones: sessionmaker[Session], remitentes: Mapping[str, Remitente],
             ahora: Callable[[], datetime], detener: threading.Event,
             rng: random.Random | None = None) -> None:
    """Deliver until `detener` is set; a delivery under way is finished first."""
    while not detener.is_set():
        try:
            hecho = entregar_uno(sesiones, remitentes, ahora, rng)
        except SQLAlchemyError as e:
            log.warning("outbox: la base de datos no responde (%s); se reintenta en %g s",
                        type(e).__name__, ESPERA_SIN_BASE)
            detener.wait(ESPERA_SIN_BASE)
            continue
        if hecho is None:
            detener.wait(ESPERA_SIN_TRABAJO)


def correr_worker(app) -> None:
    """The `ivr worker` process: deliver until SIGTERM or SIGINT, then exit cleanly."""
    from ivr import db

    detener = threading.Event()

    def parar(numero, _marco):
        log.info("worker: señal %s recibida; termina la entrega en curso y sale",
                 signal.Signals(numero).name)
        detener.set()

    signal.signal(signal.SIGTERM, parar)
    signal.signal(signal.SIGINT, parar)
    remitentes = remitentes_de(app.config)
    log.info("worker: entregando el outbox (%s)", ", ".join(sorted(remitentes)))
    trabajar(db.sessionmaker_de(app), remitentes, app.config["RELOJ"], detener)
    log.info("worker: detenido")


# -- commands ------------------------------------------------------------------------------


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Entregar el outbox (el proceso `worker:` del Procfile); SIGTERM lo detiene sin perder
    nada."""
    correr_worker(current_app)


@click.group("outbox", invoke_without_command=True)
@click.option("--estado", type=click.Choice(ESTADOS_OUTBOX), default=None,
              help="Solo los eventos en este estado.")
@click.option("--limite", type=click.IntRange(1, 10000), default=50, show_default=True,
              help="Cuántos eventos listar, los más nuevos primero.")
@click.pass_context
@with_appcontext
def outbox_command(ctx, estado: str | None, limite: int) -> None:
    """Los eventos por entregar: pendientes, entregados y muertos (sin datos personales)."""
    if ctx.invoked_subcommand is not None:
        return
    from ivr import db

    sesion = db.sesion()
    cuenta = repo_outbox.contar_por_estado(sesion)
    click.echo(" · ".join(f"{e}: {cuenta.get(e, 0)}" for e in ESTADOS_OUTBOX))
    filas = repo_outbox.listar(sesion, estado, limite)
    if not filas:
        return
    click.echo(f"{'ID':>6}  {'ESTADO':<10} {'DESTINO':<14} {'CITA':<6} {'INTENTOS':>8}  "
               f"{'CUÁNDO (UTC)':<20} ÚLTIMO ERROR")
    for fila, clave in filas:
        cuando = fila.entregado_en if fila.estado == "entregado" else fila.proximo_intento_en
        click.echo(f"{fila.id:>6}  {fila.estado:<10} {fila.destino:<14} {clave:<6} "
                   f"{fila.intentos:>8}  {_hora(cuando):<20} {fila.ultimo_error or ''}".rstrip())


@outbox_command.command("reintentar")
@click.argument("evento_id", type=int, metavar="ID")
@with_appcontext
def reintentar_command(evento_id: int) -> None:
    """Volver a intentar un evento muerto (o pendiente) ahora, con 24 h nuevas."""
    from ivr import db

    sesion = db.sesion()
    fila = repo_outbox.reintentar(sesion, evento_id, current_app.config["RELOJ"]())
    if fila is None:
        raise click.ClickException(f"no existe el evento {evento_id} en el outbox")
    if fila.estado == "entregado":
        raise click.ClickException(f"el evento {evento_id} ya fue entregado; no se reenvía")
    db.confirmar()
    click.echo(f"Evento {evento_id} pendiente otra vez; el worker lo entrega en cuanto pueda.")


def _hora(momento: datetime | None) -> str:
    if momento is None:
        return ""
    return momento.strftime("%Y-%m-%d %H:%M:%S")
