"""Agents' access: login and logout, session age, CSRF, security headers, `ivr create-agent`."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime

import click
from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_limiter import Limiter, RequestLimit
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash, generate_password_hash

from ivr import db, repo_agentes

log = logging.getLogger(__name__)
login_manager = LoginManager()
csrf = CSRFProtect()

PUBLICAS = {"agentes.entrar", "agentes.static"}
SONDEO = "agentes.transferencias_json"  # polled by the list: not a sign the agent is there
USUARIO_VALIDO = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
CONTRASENA_MINIMA = 10
# Checked when the user doesn't exist, so a wrong user takes as long as a wrong password.
_HASH_SENUELO = generate_password_hash(secrets.token_hex(16))
# Failed logins allowed per account and per IP address in a moving window.
LIMITE_ENTRADAS = "5 per 15 minutes"
EXTENSION_LIMITADOR = "ivr_limitador_agentes"
HSTS = "max-age=31536000"


def init_app(app, bp) -> None:
    """Attach Flask-Login, CSRF (checked only on this page's forms) and login throttling."""
    # Only this blueprint's forms are checked (in guardia): the Twilio webhooks are signed
    # instead, and a global check would reject them. The token lives as long as the session.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    _solo_en_la_pagina(app, bp, csrf.init_app)
    _solo_en_la_pagina(app, bp, login_manager.init_app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(_cargar_agente)
    login_manager.unauthorized_handler(_no_autorizado)
    _frenar_entradas(app, bp)


def _solo_en_la_pagina(app, bp, iniciar) -> None:
    """Initialise an extension of this page, and move the request hooks it registers for the
    whole app (before, after, teardown) onto this blueprint, before it is registered: they
    run for the page's requests, in the same order, and no longer for each of Twilio's
    webhooks (a few hundred a second), whose CPU they were adding to for nothing."""
    listas = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    previas = [list(lista.get(None, ())) for lista in listas]
    iniciar(app)
    for lista, antes in zip(listas, previas, strict=True):
        nuevas = lista.get(None, [])[len(antes):]
        if nuevas:
            del lista[None][len(antes):]
            lista.setdefault(bp.name, []).extend(nuevas)


def _frenar_entradas(app, bp) -> None:
    """Failed logins counted per account and per IP in Redis (REDIS_URL), so that every web
    worker shares them; in this process's memory when there is no Redis (one worker)."""
    app.config.setdefault("AGENT_LOGIN_LIMIT", LIMITE_ENTRADAS)
    saltos = int(app.config.get("PROXY_HOPS") or 0)
    if saltos:
        # Behind a router every request comes from its address: one IP counter for all the
        # agents. The client is the address the trusted proxies put in X-Forwarded-For;
        # without PROXY_HOPS that header is ignored, so a client can't pick its own address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=saltos)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "ivr-agentes")
    # One limiter per app (it keeps its storage); Redis down: count in memory meanwhile.
    limitador = Limiter(key_func=_ip, strategy="moving-window",
                        on_breach=_demasiados_intentos, swallow_errors=True,
                        in_memory_fallback_enabled=True)
    # Its only limits are on this blueprint: its hooks run for this page's requests alone.
    _solo_en_la_pagina(app, bp, limitador.init_app)
    for clave in (_ip, _cuenta):
        limitador.limit(app.config["AGENT_LOGIN_LIMIT"], key_func=clave, methods=["POST"],
                        exempt_when=_no_es_entrada, deduct_when=_entrada_fallida)(bp)
    app.extensions[EXTENSION_LIMITADOR] = limitador


def _ip() -> str:
    return "ip:" + (request.remote_addr or "desconocida")


def _cuenta() -> str:
    # Hashed: the limiter's own log line carries its key, and a user name field may hold
    # a mistyped password.
    usuario = (request.form.get("usuario") or "").strip().lower()
    return "cuenta:" + hashlib.sha256(usuario.encode()).hexdigest()[:24]


def _no_es_entrada() -> bool:
    return request.endpoint != "agentes.entrar"


def _entrada_fallida(_respuesta) -> bool:
    return bool(g.get("entrada_fallida"))


def _demasiados_intentos(limite: RequestLimit):
    """429 in Spanish, with Retry-After: when the longest of the breached windows ends."""
    espera = max(1, int(limite.reset_at - time.time()))
    g.espera_entrada = max(espera, g.get("espera_entrada", 0))
    minutos = -(-g.espera_entrada // 60)
    log.warning("entradas de agente frenadas desde %s por %d s", request.remote_addr,
                g.espera_entrada)
    respuesta = current_app.make_response((render_template(
        "agentes/entrar.html",
        error=f"Demasiados intentos fallidos. Espere {minutos} minuto{'s' if minutos != 1 else ''} "
              "y vuelva a intentarlo."), 429))
    respuesta.headers["Retry-After"] = str(g.espera_entrada)
    return respuesta


def ahora() -> datetime:
    """The app's clock (config["RELOJ"]; the tests move it by hand)."""
    return current_app.config["RELOJ"]()


@dataclass(frozen=True)
class AgenteActual(UserMixin):
    """The logged-in agent as Flask-Login sees it."""

    id: int
    usuario: str
    sello: str
    supervisor: bool = False  # also sees the report (/agent/informe)

    def get_id(self) -> str:
        # The seal changes with the password: resetting it ends the agent's open sessions.
        return f"{self.id}:{self.sello}"


def _sello(password_hash: str, sello_sesion: str | None) -> str:
    # Changes with the password and with the seal renewed at every logout.
    return hashlib.sha256(f"{password_hash}\0{sello_sesion or ''}".encode()).hexdigest()[:16]


def _cargar_agente(identificador: str) -> AgenteActual | None:
    ident, _, sello = identificador.partition(":")
    if not ident.isdigit():
        return None
    agente = repo_agentes.agente_por_id(db.sesion(), int(ident))
    if agente is None or not hmac.compare_digest(
            _sello(agente.password_hash, agente.sello_sesion), sello):
        return None
    return AgenteActual(agente.id, agente.usuario, sello, agente.supervisor)


def _no_autorizado():
    if request.endpoint == SONDEO:
        return jsonify(error="sesión vencida o no iniciada"), 401
    flash("Entre con su usuario para ver las transferencias.", "info")
    session["siguiente"] = request.path
    return redirect(url_for("agentes.entrar"))


def _salir_por_vencimiento():
    logout_user()
    session.clear()
    # Also for the list's polling: its script reloads the page, which lands on the login.
    flash("Su sesión expiró. Vuelva a entrar.", "info")
    if request.endpoint == SONDEO:
        return jsonify(error="sesión vencida"), 401
    return redirect(url_for("agentes.entrar"))


def guardia():
    """CSRF on every form, then login and the session's age for everything but the login page."""
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()
    if request.endpoint in PUBLICAS:
        return None
    if not current_user.is_authenticated:
        return _no_autorizado()
    instante = ahora().timestamp()
    inicio = session.get("agente_inicio", 0)
    activo = session.get("agente_activo", 0)
    vida = current_app.config["AGENT_SESSION_LIFETIME"].total_seconds()
    inactividad = current_app.config["AGENT_IDLE_TIMEOUT"].total_seconds()
    if instante - inicio > vida or instante - activo > inactividad:
        log.info("sesión de agente vencida: %s", current_user.usuario)
        return _salir_por_vencimiento()
    if request.endpoint != SONDEO:
        session["agente_activo"] = instante
    return None


def cabeceras(respuesta):
    """Personal data must not stay in caches, frames or referrers."""
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        respuesta.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint != "agentes.static":
        respuesta.headers["Cache-Control"] = "no-store"
        respuesta.headers["Pragma"] = "no-cache"
    respuesta.headers["X-Frame-Options"] = "DENY"
    respuesta.headers["X-Content-Type-Options"] = "nosniff"
    respuesta.headers["Referrer-Policy"] = "same-origin"
    respuesta.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")
    return respuesta


def csrf_invalido(_error):
    """A form whose CSRF token is missing or stale: say so in words, 400."""
    return render_template("agentes/error.html", titulo="Formulario caducado",
                           mensaje="El formulario caducó o no es válido. Recargue la página y "
                                   "vuelva a intentarlo."), 400


# -- login ---------------------------------------------------------------------------------


def _siguiente_seguro(destino: str | None) -> str:
    """Only a path of this page: never an open redirect."""
    if destino and destino.startswith("/agent/") and "//" not in destino and "\\" not in destino:
        return destino
    return url_for("agentes.lista")


def entrar():
    """The login form; a wrong user or password get the same answer."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("agentes.lista"))
        return render_template("agentes/entrar.html")
    usuario = (request.form.get("usuario") or "").strip().lower()
    contrasena = request.form.get("contrasena") or ""
    # A name no account can have is not looked up (a NUL would make PostgreSQL fail).
    valido_usuario = USUARIO_VALIDO.match(usuario)
    agente = repo_agentes.agente_por_usuario(db.sesion(), usuario) if valido_usuario else None
    valido = check_password_hash(agente.password_hash if agente else _HASH_SENUELO, contrasena)
    if not (agente and valido and contrasena):
        g.entrada_fallida = True  # counted by the throttle; a success counts for nothing
        log.warning("entrada de agente rechazada desde %s", request.remote_addr)
        return render_template("agentes/entrar.html", usuario=usuario,
                               error="Usuario o contraseña incorrectos.")
    siguiente = session.pop("siguiente", None)
    session.clear()  # a fresh session: nothing from before the login survives it
    session.permanent = True
    login_user(AgenteActual(agente.id, agente.usuario,
                            _sello(agente.password_hash, agente.sello_sesion)))
    instante = ahora().timestamp()
    session["agente_inicio"] = instante
    session["agente_activo"] = instante
    log.info("agente %s entró", agente.usuario)
    return redirect(_siguiente_seguro(siguiente))


def salir():
    """Log out: every cookie this agent was given before stops working, here and elsewhere."""
    log.info("agente %s salió", current_user.usuario)
    agente = repo_agentes.agente_por_id(db.sesion(), current_user.id)
    if agente is not None:
        repo_agentes.renovar_sello(db.sesion(), agente)
        db.confirmar()
    logout_user()
    session.clear()
    flash("Salió de la página de agentes.", "ok")
    return redirect(url_for("agentes.entrar"))


# -- accounts ------------------------------------------------------------------------------


@click.command("create-agent")
@click.argument("usuario")
@click.option("--password-stdin", is_flag=True,
              help="Leer la contraseña de la entrada estándar (una línea) en vez de preguntarla.")
@click.option("--reset", is_flag=True, help="Cambiar la contraseña de un agente que ya existe.")
@click.option("--supervisor", is_flag=True,
              help="Con el papel de supervisor: ve además el informe (/agent/informe).")
@with_appcontext
def crear_agente_command(usuario: str, password_stdin: bool, reset: bool,
                         supervisor: bool) -> None:
    """Crea la cuenta de un agente para la página de agentes (la contraseña se guarda con
    hash)."""
    usuario = usuario.strip().lower()
    if not USUARIO_VALIDO.match(usuario):
        raise click.BadParameter("use de 2 a 64 letras sin acentos, dígitos, punto, guion o @",
                                 param_hint="USUARIO")
    sesion = db.sesion()
    agente = repo_agentes.agente_por_usuario(sesion, usuario)
    if agente is not None and not reset:
        raise click.ClickException(f"el agente {usuario!r} ya existe (use --reset para cambiar "
                                   "su contraseña)")
    if agente is None and reset:
        raise click.ClickException(f"no existe el agente {usuario!r}")
    if password_stdin:
        contrasena = sys.stdin.readline().rstrip("\r\n")
    else:
        contrasena = click.prompt("Contraseña", hide_input=True, confirmation_prompt="Repítala")
    if len(contrasena) < CONTRASENA_MINIMA:
        raise click.ClickException(f"la contraseña debe tener al menos {CONTRASENA_MINIMA} "
                                   "caracteres")
    if agente is None:
        repo_agentes.crear_agente(sesion, usuario, generate_password_hash(contrasena), ahora(),
                                  supervisor=supervisor)
    else:
        repo_agentes.cambiar_contrasena(sesion, agente, generate_password_hash(contrasena))
        if supervisor:
            agente.supervisor = True
    db.confirmar()
    papel = "Supervisor" if supervisor else "Agente"
    click.echo(f"{papel} {usuario!r} {'actualizado' if reset else 'creado'}.")
