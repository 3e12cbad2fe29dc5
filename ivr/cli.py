"""The `ivr` command: database, agenda import, demo data, the desk phone, and Flask's own."""

from __future__ import annotations

import copy
import logging
import secrets
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, run_command, shell_command, with_appcontext
from sqlalchemy.exc import DBAPIError

from ivr import create_app


def _crear_app():
    # Only `ivr run` serves webhooks to Twilio; every other command lives in this one process
    # and serves no call, so the warnings about serving (state in this process, a random
    # SECRET_KEY) are not its own: `./dev run` runs three commands and says them once.
    contexto = click.get_current_context(silent=True)
    if contexto is not None and contexto.info_name == "run":
        return create_app()
    return create_app({"IN_PROCESS": True, "AVISOS_DE_SERVIDOR": False})


class _Formato(click.HelpFormatter):
    """Click's help layout, its own words in Spanish (the operator's language)."""

    SECCIONES = {"Options": "Opciones", "Commands": "Comandos",
                 "Positional arguments": "Argumentos"}
    FRASES = (("Show this message and exit.", "Muestra esta ayuda y termina."),
              ("[default: ", "[por omisión: "), ("[env var: ", "[variable de entorno: "),
              ("[required]", "[obligatorio]"))
    TIPOS = ((" TEXT", " TEXTO"), (" INTEGER", " ENTERO"), (" PATH", " RUTA"),
             (" FILE", " ARCHIVO"), (" DATE", " FECHA"), (" FLOAT", " NÚMERO"))

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = (args.replace("[OPTIONS]", "[OPCIONES]")
                .replace("COMMAND [ARGS]...", "COMANDO [ARGUMENTOS]..."))
        super().write_usage(prog, args, prefix="Uso: ")

    def section(self, name: str):
        return super().section(self.SECCIONES.get(name, name))

    def write_dl(self, rows, *args, **kwargs) -> None:
        traducidas = []
        for termino, texto in rows:
            for ingles, espanol in self.FRASES:
                texto = texto.replace(ingles, espanol)
            for ingles, espanol in self.TIPOS:
                termino = termino.replace(ingles, espanol)
            traducidas.append((termino, texto))
        super().write_dl(traducidas, *args, **kwargs)


class _Contexto(click.Context):
    formatter_class = _Formato


class _Grupo(FlaskGroup):
    """Flask's group, with a plain answer when the database has no tables yet, and only this
    project's commands (listing them doesn't build the app: `ivr --help` touches nothing)."""

    def get_command(self, ctx, name):
        return click.Group.get_command(self, ctx, name)

    def list_commands(self, ctx):
        return click.Group.list_commands(self, ctx)

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


@click.group(cls=_Grupo, create_app=_crear_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Línea ASISSSTE: cancelación de citas por teléfono.

    La configuración viene del entorno (DATABASE_URL, REDIS_URL, TWILIO_AUTH_TOKEN…; vea el
    README). `ivr COMANDO --help` explica cada comando.
    """


@main.group("db")
def db_grupo() -> None:
    """Esquema de la base de datos (migraciones de Alembic)."""


@db_grupo.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Aplica las migraciones pendientes (el paso release del Procfile corre esto)."""
    from ivr import db

    db.upgrade(db.url_de(current_app))
    click.echo("base de datos al día")


@main.command("call", with_appcontext=False)  # it builds its own app, once
@click.option("--url", default=None,
              help="Llamar a un servidor en marcha (su URL base pública) en vez de a la "
                   "aplicación en este proceso.")
@click.option("--token", envvar="TWILIO_AUTH_TOKEN", default=None,
              help="Auth Token con que se firman las peticiones (por omisión: "
                   "$TWILIO_AUTH_TOKEN).")
@click.option("--from", "desde", default="+525512345678", show_default=True,
              help="El número de quien llama.")
@click.option("--to", "hacia", default="+525540001000", show_default=True,
              help="El número de la línea.")
@click.argument("respuestas", nargs=-1)
def call(url, token, desde, hacia, respuestas) -> None:
    """Llama a la línea desde esta terminal y sigue su TwiML como lo haría Twilio.

    Con RESPUESTAS la llamada va guionada: cada respuesta son teclas ("5",
    "GOMA850123HDFRRN09#": las letras se vuelven sus teclas), voz (">cancelar mi cita") o
    silencio (""). Si se acaban antes de que termine la llamada, dice en qué pregunta y sale
    con 1. Sin RESPUESTAS, usted contesta en cada pregunta.
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


@main.command("speech-report", with_appcontext=False)
@click.argument("directorio", required=False)
def speech_report(directorio) -> None:
    """Exactitud de la comprensión de voz por categoría, sobre el corpus etiquetado
    (tests/corpus)."""
    from ivr.domain import habla_reporte

    sys.exit(habla_reporte.main([directorio] if directorio else []))


@main.command("informe")
@click.option("--desde", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="AAAA-MM-DD",
              help="Primer día (AAAA-MM-DD, hora de la Ciudad de México); por omisión, hace 6 "
                   "días.")
@click.option("--hasta", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="AAAA-MM-DD",
              help="Último día, incluido; por omisión, hoy.")
@click.option("--csv", "como_csv", is_flag=True, help="La tabla por día en CSV.")
@with_appcontext
def informe_command(desde, hasta, como_csv) -> None:
    """Informe para supervisores: embudo por día, contención, abandonos, transferencias,
    duración y teclas o voz por paso (las mismas cifras que /agent/informe)."""
    from ivr import db, etiquetas, informe, linea
    from ivr.models import MEXICO

    hoy = current_app.config["RELOJ"]().astimezone(MEXICO).date()
    try:
        inicio, fin = informe.periodo(desde and desde.date(), hasta and hasta.date(), hoy)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--desde/--hasta") from None
    datos = informe.del_periodo(db.sesion(), inicio, fin, tuple(linea.actual().flujo.nodos))
    if como_csv:
        click.echo(informe.a_csv(datos), nl=False)
    else:
        click.echo(informe.a_texto(datos, etiquetas.nodo, etiquetas.razon), nl=False)


def _registrar_comandos() -> None:
    from ivr.agentes import crear_agente_command
    from ivr.demo import demo_data_command
    from ivr.entrega import outbox_command, worker_command
    from ivr.exportacion import export_cancelaciones_command
    from ivr.importer import import_citas_command

    for comando in (import_citas_command, export_cancelaciones_command, demo_data_command,
                    crear_agente_command, worker_command, outbox_command,
                    _en_espanol_de_flask(run_command, RUN),
                    _en_espanol_de_flask(shell_command, SHELL)):
        main.add_command(comando)
    for opcion in main.params:
        if opcion.name == "debug":
            opcion.help = "Modo de depuración (para `ivr run`)."
    main.params = [p for p in main.params if p.name not in ("app", "env_file")]
    _contexto_en_espanol(main)


RUN = ("Servidor de desarrollo de Flask (en producción, gunicorn: vea el Procfile).", {
    "debug": "Modo de depuración.",
    "host": "La interfaz donde escuchar.",
    "port": "El puerto donde escuchar.",
    "cert": "Certificado para servir HTTPS.",
    "key": "La llave del certificado.",
    "reload": "Recargar al cambiar el código (por omisión, con --debug).",
    "debugger": "Depurador en el navegador (por omisión, con --debug).",
    "with_threads": "Atender peticiones en varios hilos.",
    "extra_files": "Más archivos que provocan una recarga al cambiar.",
    "exclude_patterns": "Archivos (patrones fnmatch) que no provocan una recarga.",
})
SHELL = ("Consola de Python con la aplicación cargada (app, db…).", {})


def _en_espanol_de_flask(comando: click.Command, textos) -> click.Command:
    """A copy of one of Flask's commands with its help in Spanish (Flask's own stays as is)."""
    ayuda, opciones = textos
    copia = copy.copy(comando)
    copia.help = copia.short_help = ayuda
    copia.params = [copy.copy(p) for p in comando.params]
    for p in copia.params:
        p.help = opciones.get(p.name, p.help)
    return copia


def _contexto_en_espanol(comando: click.Command) -> None:
    """Click's own words of the help (Usage, Options…) in Spanish, for every command."""
    comando.context_class = _Contexto
    for sub in getattr(comando, "commands", {}).values():
        _contexto_en_espanol(sub)


_registrar_comandos()
