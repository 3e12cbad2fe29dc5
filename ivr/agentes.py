"""The agents' page (/agent/): login, live list of transfers, a call's context, cancelling."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from babel.dates import format_date
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ivr import db, etiquetas, linea, repo
from ivr.models import Agente, Cancelacion, Cita, Derechohabiente, Llamada, Transferencia, Unidad

log = logging.getLogger(__name__)
MEXICO = ZoneInfo("America/Mexico_City")
# The blueprint's root is the ivr package: its static files are ivr/static, served under /agent/.
bp = Blueprint("agentes", __name__, url_prefix="/agent", static_folder="static",
               static_url_path="/static")
login_manager = LoginManager()
csrf = CSRFProtect()

PUBLICAS = {"agentes.entrar", "agentes.static"}
SONDEO = "agentes.transferencias_json"  # polled by the list: not a sign the agent is there
LIMITE_LISTA = 200
USUARIO_VALIDO = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
CONTRASENA_MINIMA = 10
# Checked when the user doesn't exist, so a wrong user takes as long as a wrong password.
_HASH_SENUELO = generate_password_hash(secrets.token_hex(16))
SOLICITANTES = {"titular": "El titular", "tercero": "Otra persona a nombre del titular"}
DOCUMENTO_POR = {"teclado": "con el teclado", "voz": "de viva voz"}
ESTADOS_CITA = {"agendada": "Agendada", "cancelada": "Cancelada", "atendida": "Atendida"}


def init_app(app) -> None:
    """Register the page with its login, CSRF scoped to its forms, and session hardening."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        log.warning("SECRET_KEY no está configurada: se generó una al azar; las sesiones de los "
                    "agentes no sobreviven a un reinicio ni se comparten entre varios workers")
    vida = app.config.get("AGENT_SESSION_LIFETIME") or timedelta(hours=8)
    app.config["AGENT_SESSION_LIFETIME"] = vida
    app.config.setdefault("AGENT_IDLE_TIMEOUT", timedelta(hours=1))
    app.config.setdefault("AGENT_REFRESH_SECONDS", 5)
    app.config["PERMANENT_SESSION_LIFETIME"] = vida
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if (app.config.get("PUBLIC_BASE_URL") or "").startswith("https://"):
        app.config.setdefault("SESSION_COOKIE_SECURE", True)
    # Only this blueprint's forms are checked (in _guardia): the Twilio webhooks are signed
    # instead, and a global check would reject them. The token lives as long as the session.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(_cargar_agente)
    login_manager.unauthorized_handler(_no_autorizado)
    app.register_blueprint(bp)


@dataclass(frozen=True)
class AgenteActual(UserMixin):
    """The logged-in agent as Flask-Login sees it."""

    id: int
    usuario: str
    sello: str

    def get_id(self) -> str:
        # The seal changes with the password: resetting it ends the agent's open sessions.
        return f"{self.id}:{self.sello}"


def _sello(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _cargar_agente(identificador: str) -> AgenteActual | None:
    ident, _, sello = identificador.partition(":")
    if not ident.isdigit():
        return None
    agente = db.sesion().get(Agente, int(ident))
    if agente is None or not hmac.compare_digest(_sello(agente.password_hash), sello):
        return None
    return AgenteActual(agente.id, agente.usuario, sello)


def _ahora() -> datetime:
    return current_app.config["RELOJ"]()


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


@bp.before_request
def _guardia():
    """CSRF on every form, then login and the session's age for everything but the login page."""
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()
    if request.endpoint in PUBLICAS:
        return None
    if not current_user.is_authenticated:
        return _no_autorizado()
    ahora = _ahora().timestamp()
    inicio = session.get("agente_inicio", 0)
    activo = session.get("agente_activo", 0)
    vida = current_app.config["AGENT_SESSION_LIFETIME"].total_seconds()
    inactividad = current_app.config["AGENT_IDLE_TIMEOUT"].total_seconds()
    if ahora - inicio > vida or ahora - activo > inactividad:
        log.info("sesión de agente vencida: %s", current_user.usuario)
        return _salir_por_vencimiento()
    if request.endpoint != SONDEO:
        session["agente_activo"] = ahora
    return None


@bp.after_request
def _cabeceras(respuesta):
    """Personal data must not stay in caches, frames or referrers."""
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


@bp.errorhandler(CSRFError)
def _csrf_invalido(error):
    return render_template("agentes/error.html", titulo="Formulario caducado",
                           mensaje="El formulario caducó o no es válido. Recargue la página y "
                                   "vuelva a intentarlo."), 400


# -- login ---------------------------------------------------------------------------------


def _siguiente_seguro(destino: str | None) -> str:
    """Only a path of this page: never an open redirect."""
    if destino and destino.startswith("/agent/") and "//" not in destino and "\\" not in destino:
        return destino
    return url_for("agentes.lista")


@bp.route("/entrar", methods=["GET", "POST"])
def entrar():
    """The login form; a wrong user or password get the same answer."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("agentes.lista"))
        return render_template("agentes/entrar.html")
    usuario = (request.form.get("usuario") or "").strip().lower()
    contrasena = request.form.get("contrasena") or ""
    agente = (db.sesion().scalar(select(Agente).where(Agente.usuario == usuario))
              if usuario else None)
    valido = check_password_hash(agente.password_hash if agente else _HASH_SENUELO, contrasena)
    if not (agente and valido and contrasena):
        log.warning("entrada de agente rechazada desde %s", request.remote_addr)
        return render_template("agentes/entrar.html", usuario=usuario,
                               error="Usuario o contraseña incorrectos.")
    siguiente = session.pop("siguiente", None)
    session.clear()  # a fresh session: nothing from before the login survives it
    session.permanent = True
    login_user(AgenteActual(agente.id, agente.usuario, _sello(agente.password_hash)))
    ahora = _ahora().timestamp()
    session["agente_inicio"] = ahora
    session["agente_activo"] = ahora
    log.info("agente %s entró", agente.usuario)
    return redirect(_siguiente_seguro(siguiente))


@bp.route("/salir", methods=["POST"])
def salir():
    """Log out and forget everything in the session."""
    log.info("agente %s salió", current_user.usuario)
    logout_user()
    session.clear()
    flash("Salió de la página de agentes.", "ok")
    return redirect(url_for("agentes.entrar"))


# -- list ----------------------------------------------------------------------------------


def _utc(momento: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes: they were stored in UTC."""
    if momento is None:
        return None
    return momento if momento.tzinfo else momento.replace(tzinfo=UTC)


def _hace(momento: datetime, ahora: datetime) -> str:
    segundos = max(0, int((ahora - momento).total_seconds()))
    if segundos < 60:
        return "hace menos de un minuto"
    if segundos < 3600:
        minutos = segundos // 60
        return f"hace {minutos} minuto{'s' if minutos != 1 else ''}"
    horas = segundos // 3600
    return f"hace {horas} hora{'s' if horas != 1 else ''}"


def _fila(t: Transferencia, ahora: datetime) -> dict:
    creada = _utc(t.creada_en)
    local = creada.astimezone(MEXICO)
    hoy = ahora.astimezone(MEXICO).date()
    return {
        "id": t.id,
        "hora": local.strftime("%H:%M:%S"),
        "fecha": _hace(creada, ahora) if local.date() == hoy else local.strftime("%d/%m/%Y"),
        "razon": etiquetas.razon(t.razon),
        "identificado": bool(t.identificado),
        "nodo": etiquetas.nodo(t.nodo),
        "atendida": bool(t.atendida),
        "atendida_por": t.atendida_por,
        "conexion": etiquetas.conexion(t.dial_status),
        "url": url_for("agentes.detalle", transferencia_id=t.id),
    }


def _transferencias() -> tuple[list[dict], int]:
    sesion = db.sesion()
    ahora = _ahora()
    filas = sesion.scalars(select(Transferencia)
                           .order_by(Transferencia.creada_en.desc(), Transferencia.id.desc())
                           .limit(LIMITE_LISTA)).all()
    pendientes = sesion.scalar(select(func.count()).select_from(Transferencia)
                               .where(Transferencia.atendida.is_not(True)))
    return [_fila(t, ahora) for t in filas], pendientes or 0


@bp.route("/")
def lista():
    """The live list of transfers, newest first."""
    filas, pendientes = _transferencias()
    return render_template("agentes/lista.html", transferencias=filas, pendientes=pendientes,
                           cada_segundos=current_app.config["AGENT_REFRESH_SECONDS"])


@bp.route("/transferencias.json")
def transferencias_json():
    """The same list for the page's script (no personal data in it)."""
    filas, pendientes = _transferencias()
    return jsonify(transferencias=filas, pendientes=pendientes)


# -- detail --------------------------------------------------------------------------------


def _transferencia(transferencia_id: int) -> Transferencia:
    t = db.sesion().get(Transferencia, transferencia_id)
    if t is None:
        abort(404)
    return t


def _contexto(t: Transferencia) -> dict:
    contexto = getattr(t, "contexto", None)
    return contexto if isinstance(contexto, dict) else {}


def _derechohabiente_id(t: Transferencia) -> int | None:
    """Who the call is about: identified by the line, or found by this agent in this session."""
    if t.derechohabiente_id:
        return t.derechohabiente_id
    return session.get("encontrados", {}).get(str(t.id))


def _nombre_completo(d: Derechohabiente) -> str:
    return " ".join(p for p in (d.nombre, d.primer_apellido, d.segundo_apellido) if p)


def _fecha_larga(d: date) -> str:
    return format_date(d, "EEEE d 'de' MMMM 'de' y", locale="es_MX")


def _horas(inicio: time, fin: time | None) -> str:
    return inicio.strftime("%H:%M") + (f"–{fin.strftime('%H:%M')}" if fin else "")


def _citas(derechohabiente_id: int) -> list[dict]:
    """All of a derechohabiente's citas, with their unit, state, folio and whether they can go."""
    sesion = db.sesion()
    citas = sesion.scalars(select(Cita).where(Cita.derechohabiente_id == derechohabiente_id)
                           .order_by(Cita.fecha, Cita.hora_inicio)).all()
    ids = [c.id for c in citas]
    cancelaciones = {c.cita_id: c for c in sesion.scalars(
        select(Cancelacion).where(Cancelacion.cita_id.in_(ids)))} if ids else {}
    unidades = {u.id: u.nombre for u in sesion.scalars(
        select(Unidad).where(Unidad.id.in_({c.unidad_id for c in citas})))} if citas else {}
    cancelables = {c.id for c in repo.citas_cancelables(sesion, derechohabiente_id, _ahora())}
    return [{
        "id": c.id,
        "clave": c.clave,
        "fecha": _fecha_larga(c.fecha),
        "horas": _horas(c.hora_inicio, c.hora_fin),
        "unidad": unidades.get(c.unidad_id, ""),
        "ventanilla": c.ventanilla,
        "tramite": getattr(c, "tramite", None),
        "estado": c.estado,
        "estado_texto": ESTADOS_CITA.get(c.estado, c.estado),
        "folio": cancelaciones[c.id].folio if c.id in cancelaciones else None,
        "cancelada_por": cancelaciones[c.id].canal if c.id in cancelaciones else None,
        "cancelable": c.id in cancelables,
    } for c in citas]


def _vista_detalle(t: Transferencia, *, resultados: list | None = None, busqueda_hecha=False,
                   documento: str = "", error_busqueda: str | None = None, status: int = 200):
    sesion = db.sesion()
    contexto = _contexto(t)
    llamada = sesion.get(Llamada, t.call_sid) if t.call_sid else None
    ruta = contexto.get("ruta") or (llamada.ruta if llamada and llamada.ruta else []) or []
    motivo = contexto.get("motivo") or None
    dh_id = _derechohabiente_id(t)
    derechohabiente = sesion.get(Derechohabiente, dh_id) if dh_id else None
    creada = _utc(t.creada_en).astimezone(MEXICO)
    return render_template(
        "agentes/detalle.html",
        t=t,
        preseleccion={"cita": t.cita_id,
                      "motivo": motivo.get("codigo") if isinstance(motivo, dict) else None,
                      "solicitante_tipo": contexto.get("solicitante_tipo"),
                      "solicitante_nombre": contexto.get("solicitante_nombre") or ""},
        creada=f"{_fecha_larga(creada.date())}, {creada.strftime('%H:%M:%S')}",
        razon=etiquetas.razon(t.razon),
        nodo=etiquetas.nodo(t.nodo),
        desde=contexto.get("desde") or (llamada.desde if llamada else None),
        ruta=[etiquetas.nodo(n) for n in ruta],
        documento_por=DOCUMENTO_POR.get(contexto.get("documento_por") or ""),
        motivo=motivo.get("texto") if isinstance(motivo, dict) else motivo,
        solicitante_tipo=SOLICITANTES.get(contexto.get("solicitante_tipo") or ""),
        solicitante_nombre=contexto.get("solicitante_nombre"),
        derechohabiente=derechohabiente,
        nombre=_nombre_completo(derechohabiente) if derechohabiente else None,
        encontrado_aqui=bool(derechohabiente and not t.derechohabiente_id),
        citas=_citas(derechohabiente.id) if derechohabiente else [],
        motivos=linea.actual().flujo.motivos,
        resultados=[(d, _nombre_completo(d)) for d in resultados or []],
        busqueda_hecha=busqueda_hecha,
        documento=documento,
        error_busqueda=error_busqueda,
        cancelacion=session.pop("cancelacion", None),
    ), status


@bp.route("/transferencias/<int:transferencia_id>")
def detalle(transferencia_id: int):
    """A transfer's context: caller, derechohabiente and citas, path, what was captured."""
    return _vista_detalle(_transferencia(transferencia_id))


def _normalizar_documento(texto: str) -> str:
    return re.sub(r"[\s\-.]", "", texto or "").upper()


@bp.route("/transferencias/<int:transferencia_id>/buscar", methods=["POST"])
def buscar(transferencia_id: int):
    """Find the caller by CURP or RFC (in the form body: personal data never goes in a URL)."""
    t = _transferencia(transferencia_id)
    elegido = request.form.get("derechohabiente_id", "")
    if elegido:
        if not elegido.isdigit() or db.sesion().get(Derechohabiente, int(elegido)) is None:
            abort(400)
        _recordar_encontrado(t, int(elegido))
        return redirect(url_for("agentes.detalle", transferencia_id=t.id))
    documento = _normalizar_documento(request.form.get("documento", ""))
    if not re.fullmatch(r"[A-ZÑ&0-9]{10,18}", documento):
        return _vista_detalle(t, documento=documento, status=400,
                              error_busqueda="Escriba una CURP (18 caracteres) o un RFC "
                                             "(12 o 13 caracteres).")
    resultados = _como_lista(repo.buscar_por_documento(db.sesion(), documento))
    log.info("agente %s buscó un documento en la transferencia %s: %d resultado(s)",
             current_user.usuario, t.id, len(resultados))
    if len(resultados) == 1:
        _recordar_encontrado(t, resultados[0].id)
        return redirect(url_for("agentes.detalle", transferencia_id=t.id))
    return _vista_detalle(t, resultados=resultados, busqueda_hecha=True, documento=documento)


def _recordar_encontrado(t: Transferencia, derechohabiente_id: int) -> None:
    """Only ids go in the (signed, not encrypted) session cookie; the last few transfers."""
    encontrados = {k: v for k, v in session.get("encontrados", {}).items() if k != str(t.id)}
    encontrados[str(t.id)] = derechohabiente_id
    session["encontrados"] = dict(list(encontrados.items())[-20:])


def _como_lista(encontrado) -> list[Derechohabiente]:
    if encontrado is None:
        return []
    if isinstance(encontrado, Derechohabiente):
        return [encontrado]
    return list(encontrado)


# -- cancelling and handling ---------------------------------------------------------------


@bp.route("/transferencias/<int:transferencia_id>/cancelar", methods=["POST"])
def cancelar(transferencia_id: int):
    """Cancel a cita for the caller: a confirmation first, then the phone's atomic cancel."""
    t = _transferencia(transferencia_id)
    sesion = db.sesion()
    cita_id = request.form.get("cita_id", "")
    if not cita_id:
        flash("Elija la cita que se va a cancelar.", "error")
        return redirect(url_for("agentes.detalle", transferencia_id=t.id))
    cita = sesion.get(Cita, int(cita_id)) if cita_id.isdigit() else None
    if cita is None or cita.derechohabiente_id != _derechohabiente_id(t):
        abort(400)  # not one of this caller's citas: a forged form, not a slip
    motivos = {str(m["codigo"]): m for m in linea.actual().flujo.motivos}
    motivo = motivos.get(request.form.get("motivo", ""))
    tipo = request.form.get("solicitante_tipo", "")
    nombre = " ".join((request.form.get("solicitante_nombre") or "").split())[:120]
    detalle_motivo = " ".join((request.form.get("motivo_detalle") or "").split())[:200]
    problemas = []
    if motivo is None:
        problemas.append("Elija el motivo de la cancelación.")
    if tipo not in SOLICITANTES:
        problemas.append("Indique quién pide la cancelación.")
    if tipo == "tercero" and not nombre:
        problemas.append("Escriba el nombre de la persona que pide la cancelación.")
    if problemas:
        for p in problemas:
            flash(p, "error")
        return redirect(url_for("agentes.detalle", transferencia_id=t.id))
    texto_motivo = f"{motivo['texto']}: {detalle_motivo}" if detalle_motivo else motivo["texto"]
    datos = {"cita_id": cita.id, "motivo": motivo["codigo"], "motivo_detalle": detalle_motivo,
             "solicitante_tipo": tipo, "solicitante_nombre": nombre if tipo == "tercero" else ""}
    if request.form.get("confirmado") != "si":
        return render_template("agentes/confirmar.html", t=t, datos=datos,
                               fecha=_fecha_larga(cita.fecha),
                               horas=_horas(cita.hora_inicio, cita.hora_fin), clave=cita.clave,
                               motivo=texto_motivo, solicitante=SOLICITANTES[tipo],
                               solicitante_nombre=datos["solicitante_nombre"])
    resultado = repo.cancelar_cita(
        sesion, cita.id,
        solicitante_tipo=tipo,
        solicitante_nombre=datos["solicitante_nombre"] or None,
        motivo_codigo=motivo["codigo"],
        motivo_texto=texto_motivo,
        canal="agente",
        call_sid=t.call_sid,
        ahora=_ahora(),
    )
    db.confirmar()
    log.info("agente %s, transferencia %s, cita %s: %s folio=%s", current_user.usuario, t.id,
             cita.id, resultado.resultado, resultado.folio)
    # Shown once, big, on the detail page the browser is sent to (never in the URL).
    session["cancelacion"] = {"resultado": resultado.resultado, "folio": resultado.folio,
                              "clave": cita.clave}
    return redirect(url_for("agentes.detalle", transferencia_id=t.id))


@bp.route("/transferencias/<int:transferencia_id>/atendida", methods=["POST"])
def atendida(transferencia_id: int):
    """Mark the transfer handled by this agent."""
    t = _transferencia(transferencia_id)
    t.atendida = True
    t.atendida_por = current_user.usuario
    db.confirmar()
    log.info("agente %s atendió la transferencia %s", current_user.usuario, t.id)
    flash("Transferencia marcada como atendida.", "ok")
    return redirect(url_for("agentes.detalle", transferencia_id=t.id))


# -- accounts ------------------------------------------------------------------------------


@click.command("create-agent")
@click.argument("usuario")
@click.option("--password-stdin", is_flag=True,
              help="Leer la contraseña de la entrada estándar (una línea) en vez de preguntarla.")
@click.option("--reset", is_flag=True, help="Cambiar la contraseña de un agente que ya existe.")
@with_appcontext
def crear_agente_command(usuario: str, password_stdin: bool, reset: bool) -> None:
    """Create an agent account for the agents' page (the password is stored hashed)."""
    usuario = usuario.strip().lower()
    if not USUARIO_VALIDO.match(usuario):
        raise click.BadParameter("use de 2 a 64 letras sin acentos, dígitos, punto, guion o @",
                                 param_hint="USUARIO")
    sesion = db.sesion()
    agente = sesion.scalar(select(Agente).where(Agente.usuario == usuario))
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
        agente = Agente(usuario=usuario, password_hash=generate_password_hash(contrasena),
                        creado_en=current_app.config["RELOJ"]())
        sesion.add(agente)
    else:
        agente.password_hash = generate_password_hash(contrasena)
    db.confirmar()
    click.echo(f"Agente {usuario!r} {'actualizado' if reset else 'creado'}.")
