"""The `ivr` command: database, agenda import, demo data, the desk phone, and Flask's own."""

from __future__ import annotations

import logging
import secrets
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import DBAPIError

from ivr import create_app


def _crear_app():
    # Only `ivr run` serves webhooks to Twilio; every other command lives in this one process.
    contexto = click.get_current_context(silent=True)
    if contexto is not None and contexto.info_name == "run":
        return create_app()
    return create_app({"IN_PROCESS": True})


class _Grupo(FlaskGroup):
    """Flask's group, with a plain answer when the database has no tables yet."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DBAPIError as e:
            texto = str(e.orig).lower()
            if "no such table" in texto or "does not exist" in texto:
                raise click.ClickException(
                    "la base de datos no tiene las tablas todavía: corra `ivr db upgrade` "
                    "primero") from None
            raise


@click.group(cls=_Grupo, create_app=_crear_app, add_default_commands=True,
             load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Línea ASISSSTE: cancelación de citas por teléfono."""


@main.group("db")
def db_grupo() -> None:
    """Database schema (Alembic migrations)."""


@db_grupo.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every pending migration (the Procfile's release step runs this)."""
    from ivr import db

    db.upgrade(db.url_de(current_app))
    click.echo("base de datos al día")


@main.command("call")
@click.option("--url", default=None,
              help="Call a running server (its public base URL) instead of the app in-process.")
@click.option("--token", envvar="TWILIO_AUTH_TOKEN", default=None,
              help="Auth token to sign requests (default: $TWILIO_AUTH_TOKEN).")
@click.option("--from", "desde", default="+525512345678", show_default=True,
              help="The caller's number.")
@click.option("--to", "hacia", default="+525540001000", show_default=True,
              help="The line's number.")
@click.argument("respuestas", nargs=-1)
def call(url, token, desde, hacia, respuestas) -> None:
    """Call the line from this terminal and follow its TwiML as Twilio would.

    With RESPUESTAS the call is scripted: each answer is keys ("5", "GOMA850123HDFRRN09#":
    letters become their keypad keys), speech (">cancelar mi cita") or silence ("").
    Without them you answer at each prompt.
    """
    from ivr import phone

    if url:
        if not token:
            raise click.UsageError(
                "--url necesita el token de Twilio (--token o TWILIO_AUTH_TOKEN)")
        transporte = phone.HttpTransport(url)
        base = url
    else:
        # In-process: sign with the configured token, or a throw-away one for this run.
        token = token or secrets.token_hex(16)
        app = create_app({"TWILIO_AUTH_TOKEN": token, "IN_PROCESS": True})
        # The server's webhook log would interleave with the conversation; warnings still show.
        logging.getLogger("ivr").setLevel(logging.WARNING)
        base = app.config.get("PUBLIC_BASE_URL") or "http://localhost"
        transporte = phone.FlaskTransport(app, base)
    telefono = phone.Telefono(transporte, token, desde=desde, hacia=hacia, public_base_url=base)
    if respuestas:
        ok = phone.run_script(telefono, list(respuestas), sys.stdout)
    else:
        ok = phone.run_interactive(telefono, sys.stdin, sys.stdout)
    sys.exit(0 if ok else 1)


@main.command("speech-report")
@click.argument("directorio", required=False)
def speech_report(directorio) -> None:
    """Accuracy of speech understanding per category over the labelled corpus (tests/corpus)."""
    from ivr.domain import habla_reporte

    sys.exit(habla_reporte.main([directorio] if directorio else []))


def _registrar_comandos() -> None:
    from ivr.agentes import crear_agente_command
    from ivr.demo import demo_data_command
    from ivr.entrega import outbox_command, worker_command
    from ivr.exportacion import export_cancelaciones_command
    from ivr.importer import import_citas_command

    for comando in (import_citas_command, export_cancelaciones_command, demo_data_command,
                    crear_agente_command, worker_command, outbox_command):
        main.add_command(comando)


_registrar_comandos()
