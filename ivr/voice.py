"""The Twilio webhooks: load the call's state, take one dialog step, save it, answer TwiML."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator

from ivr import acciones, cancelacion, db, dialog, etiquetas, linea, logs, repo
from ivr.dialog import Colgar, Transferir
from ivr.domain import fechas, habla
from ivr.estado import Estado
from ivr.models import Cita
from ivr.models import Llamada as LlamadaRegistrada
from ivr.store import StoreError
from ivr.twiml import Agentes, Pase
from ivr.webhook import Webhook

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)
ESTADOS_FINALES = {"completed", "busy", "failed", "no-answer", "canceled"}
VACIO = '<?xml version="1.0" encoding="UTF-8"?><Response />'
COLGAR = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'


def init_app(app) -> None:
    """Register the webhooks."""
    app.register_blueprint(bp)


def _store():
    return current_app.extensions["ivr_store"]


def _ahora():
    return current_app.config["RELOJ"]()


def _xml(texto: str) -> Response:
    return Response(texto, status=200, content_type="text/xml; charset=utf-8")


def _url_firmada() -> str:
    """The URL Twilio signed: behind a proxy, PUBLIC_BASE_URL replaces scheme, host and prefix."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base + request.path + (f"?{query}" if query else "")


@bp.before_request
def _verificar_firma():
    """Unsigned or badly signed requests get 403 before anything is read or written."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    firma = request.headers.get("X-Twilio-Signature", "")
    if not token or not firma:
        abort(403)
    url = _url_firmada()
    if not RequestValidator(token).validate(url, request.form, firma):
        # What someone debugging a proxy or a tunnel needs: the URL the signature was checked
        # against (PUBLIC_BASE_URL or the request's own), without its query or the form.
        log.warning("firma de Twilio inválida para la URL %s", url.split("?", 1)[0])
        abort(403)
    return None


def _seguro(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Read the webhook once and hand it to the view; any internal error becomes an apology
    and a transfer: never a 500 to Twilio."""

    def envoltura(*args, **kwargs):
        wh = Webhook.leer(request.form)
        try:
            return fn(wh, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the caller must always hear something valid
            db.descartar()
            # Only the exception's type and frames: messages may carry personal data (SQL params).
            frames = "".join(traceback.format_tb(e.__traceback__))
            log.error("error interno call=%s ruta=%s: %s\n%s", wh.call_sid, request.path,
                      type(e).__name__, frames)
            return _xml(_disculpa(wh))

    envoltura.__name__ = fn.__name__
    return envoltura


CONTEXTO = ("desde", "ruta", "documento_por", "motivo", "solicitante_tipo", "solicitante_nombre")


def _pase(estado: Estado, agentes: Agentes, ahora) -> Pase:
    """Record the transfer with its context; the record's id feeds the agent's whisper."""
    contexto = {campo: getattr(estado, campo) for campo in CONTEXTO}
    if not agentes.abierto:
        dial_status = "fuera_de_horario"
    elif not agentes.disponibles:
        dial_status = "sin_destino"
    else:
        dial_status = None
    registro = repo.registrar_transferencia(
        db.sesion(), call_sid=estado.call_sid, razon=estado.razon,
        nodo=estado.nodo_transferencia, identificado=bool(estado.derechohabiente_id),
        derechohabiente_id=estado.derechohabiente_id, cita_id=estado.cita_id,
        creada_en=ahora, dial_status=dial_status, contexto=contexto,
    )
    db.sesion().flush()
    tarea = {
        "tipo": "cancelacion_cita",
        "transferencia_id": registro.id,
        "call_sid": estado.call_sid,
        "razon": estado.razon,
        "razon_texto": etiquetas.razon(estado.razon),
        "ultimo_paso": estado.nodo_transferencia,
        "identificado": bool(estado.derechohabiente_id),
        "derechohabiente_id": estado.derechohabiente_id,
        "cita_id": estado.cita_id,
        "cita": _fecha_de_cita(estado.cita_id),
        "motivo": (estado.motivo or {}).get("texto"),
    }
    return Pase(id=registro.id, tarea=tarea)


def _fecha_de_cita(cita_id: int | None) -> str | None:
    cita = db.sesion().get(Cita, cita_id) if cita_id else None
    return fechas.dia_y_fecha(cita.fecha) if cita else None


def _disculpa(wh: Webhook) -> str:
    """Apologise and transfer; the transfer is recorded if the database still answers."""
    ln = linea.actual()
    ahora = _ahora()
    agentes = ln.agentes(ahora)
    pase = None
    try:
        estado = Estado(call_sid=wh.call_sid, desde=wh.desde, razon="error_interno",
                        nodo_transferencia=request.path.rsplit("/", 1)[-1])
        pase = _pase(estado, agentes, ahora)
        # The call's state may be what failed: its outcome is recorded here, not left to it.
        repo.registrar_llamada(db.sesion(), wh.call_sid, desde=wh.desde,
                               desenlace="transferida", razon="error_interno")
        db.confirmar()
    except Exception as e:  # noqa: BLE001 - the apology must go out even with the DB down
        db.descartar()
        log.error("transferencia sin registrar call=%s: %s", wh.call_sid, type(e).__name__)
    return ln.render.transferir(agentes, pase, antes=("error_interno",),
                                reintento=_es_reintento())


def _responder(wh: Webhook, estado: Estado, salida: dialog.Salida, entrada_tipo: str) -> Response:
    """Record transfers, commit the agenda, save the state, render TwiML."""
    ln = linea.actual()
    ahora = _ahora()
    agentes = ln.agentes(ahora)
    pase = None
    if isinstance(salida.fin, Transferir):
        pase = _pase(estado, agentes, ahora)
    texto = ln.render.salida(salida, agentes, pase)
    terminal = isinstance(salida.fin, (Transferir, Colgar))
    # At a final node (the folio) the line's part is done, though * may still repeat it.
    hecha = terminal or (isinstance(salida.fin, dialog.Escuchar)
                         and ln.flujo.nodos[salida.fin.nodo].tipo == "final")
    if hecha:
        # Recorded now: the state may expire before the status callback (a long talk with
        # an agent), and the outcome must not depend on it.
        _registrar_desenlace(wh, estado)
    db.confirmar()
    if terminal:
        estado.terminada = True
    estado.previo = texto
    try:
        _store().save(wh.call_sid, estado)
    except StoreError:
        if not hecha:
            raise  # the next step would find no state: apologise and transfer now
        # The line's part is over and the agenda is committed (the folio exists): the caller
        # must still hear it. Only a repeat of this webhook would lack its cached answer.
        log.error("estado sin guardar al final de la llamada call=%s", wh.call_sid)
    return _xml(texto)


def _llamada_terminada(call_sid: str) -> bool:
    registro = db.sesion().get(LlamadaRegistrada, call_sid)
    return registro is not None and registro.terminada_en is not None


def _registrar_desenlace(wh: Webhook, estado: Estado, **mas) -> LlamadaRegistrada:
    """The call's record from its state: outcome, last node, reason, who, the path."""
    # An outcome the line recorded without the state (an apology and a transfer while the
    # state could not be read or saved) outlives an older state: it is kept.
    desenlace = {k: v for k, v in (("desenlace", estado.desenlace), ("razon", estado.razon)) if v}
    registro = repo.registrar_llamada(
        db.sesion(), wh.call_sid, desde=estado.desde or wh.desde, ultimo_nodo=estado.nodo,
        derechohabiente_id=estado.derechohabiente_id, ruta=estado.ruta, **desenlace, **mas)
    # A caller who hangs up mid-dialog has no outcome yet: how the call ended is the outcome.
    registro.desenlace = registro.desenlace or f"colgo_{wh.call_status or ''}"
    return registro


def _contexto() -> acciones.Contexto:
    return acciones.Contexto(sesion=db.sesion, ahora=_ahora(),
                             destinos=cancelacion.destinos_de(current_app.config))


def _nueva_llamada(wh: Webhook, prefijo: list[dialog.Decir] | None = None) -> Response:
    ln = linea.actual()
    estado = dialog.estado_inicial(wh.call_sid, wh.desde)
    estado, salida = dialog.iniciar(ln.flujo, estado, acciones.para(_contexto()))
    if prefijo:
        salida = dialog.Salida(tuple(prefijo) + salida.decir, salida.fin)
    return _responder(wh, estado, salida, "llamada")


@bp.post("/voice/incoming")
@_seguro
def incoming(wh: Webhook) -> Response:
    """A call comes in: welcome and the main menu."""
    estado = _store().get(wh.call_sid)
    if estado is not None and estado.previo:
        # Twilio repeated the incoming webhook: answer the same, don't start over.
        return _xml(estado.previo)
    return _nueva_llamada(wh)


@bp.post("/voice/status")
@_seguro
def status(wh: Webhook) -> Response:
    """Call status changes: on the end of the call, record its outcome and drop its state."""
    if wh.call_status in ESTADOS_FINALES:
        estado = _store().get(wh.call_sid)
        if estado is not None:
            registro = _registrar_desenlace(wh, estado, terminada_en=_ahora())
        else:
            # The state is gone (a long talk with an agent outlives its TTL): keep what was
            # recorded when the line let the call go, and only say when it ended.
            registro = repo.registrar_llamada(db.sesion(), wh.call_sid, terminada_en=_ahora(),
                                              desde=wh.desde)
            registro.desenlace = registro.desenlace or f"colgo_{wh.call_status}"
        desenlace = registro.desenlace
        db.confirmar()
        _store().delete(wh.call_sid)
        logs.anotar(call_outcome=desenlace)
    return _xml(VACIO)


@bp.post("/voice/fallback")
def fallback() -> Response:
    """Primary handler failed (Twilio's side): apologise and transfer, touching nothing else."""
    ln = linea.actual()
    return _xml(ln.render.disculpa(ln.agentes(_ahora())))


COMPLETADAS = {"completed", "answered", "bridged"}  # a conversation with an agent happened


def _es_reintento() -> bool:
    """Whether this request belongs to the one retry of a failed transfer (kept in the URL, so
    it holds even when the call's state is gone)."""
    return request.args.get("reintento") == "1" or request.path == "/voice/reintento_agente"


@bp.post("/voice/transferencia")
def transferencia() -> Response:
    """How the <Dial> or <Enqueue> to the agents ended: after a conversation, hang up; else
    apologise, give the web alternative and offer one more try (once).

    Not wrapped in the apology-and-transfer of the other webhooks: transferring again from
    here could loop. Whatever fails, the caller hears the apology and the web alternative."""
    wh = Webhook.leer(request.form)
    call_sid = wh.call_sid
    resultado = wh.dial_call_status or wh.queue_result or ""
    render = linea.actual().render
    try:
        repo.actualizar_dial_status(db.sesion(), call_sid, resultado)
        db.confirmar()
    except Exception as e:  # noqa: BLE001 - the outcome is still answered
        db.descartar()
        log.error("resultado de transferencia sin registrar call=%s: %s", call_sid,
                  type(e).__name__)
    if resultado == "hangup":  # the caller hung up while queued: nobody to talk to
        return _xml(VACIO)
    if resultado in COMPLETADAS:
        return _xml(render.fin_de_transferencia(True))
    return _xml(render.fin_de_transferencia(False, primera_vez=not _es_reintento()))


def _ultima_transferencia(wh: Webhook) -> Estado:
    """The call's last transfer, from the database (the state may be gone)."""
    estado = Estado(call_sid=wh.call_sid, desde=wh.desde, razon="error_interno")
    registro = repo.ultima_transferencia(db.sesion(), wh.call_sid)
    if registro is not None:
        estado.cambiar({"razon": registro.razon, "nodo_transferencia": registro.nodo,
                        "derechohabiente_id": registro.derechohabiente_id,
                        "cita_id": registro.cita_id})
        estado.cambiar({k: v for k, v in (registro.contexto or {}).items() if k in CONTEXTO})
    return estado


@bp.post("/voice/reintento_agente")
@_seguro
def reintento_agente(wh: Webhook) -> Response:
    """After a failed transfer: 1 (or "sí") tries the agents again, anything else says goodbye.
    The retry's own failure ends the call (its Dial action says so in its URL)."""
    call_sid = wh.call_sid
    ln = linea.actual()
    digitos = wh.digitos
    habla_dicha = wh.habla or ""
    otra_vez = digitos == "1" or (not digitos and (
        habla.entender_si_no(habla_dicha) is True
        or habla.entender_opcion(habla_dicha, {"1": ["intentar", "de nuevo", "otra vez"]}) == "1"))
    if not otra_vez:
        return _xml(ln.render.despedida())
    try:
        estado = _store().get(call_sid)
    except StoreError:
        estado = None
    if estado is None or not estado.razon:
        estado = _ultima_transferencia(wh)
    ahora = _ahora()
    agentes = ln.agentes(ahora)
    texto = ln.render.transferir(agentes, _pase(estado, agentes, ahora), reintento=True)
    db.confirmar()
    try:
        _store().save(call_sid, estado)
    except StoreError:
        log.warning("estado sin guardar call=%s (reintento de transferencia)", call_sid)
    return _xml(texto)


@bp.post("/voice/susurro")
def susurro() -> Response:
    """The whisper: what the agent hears before the bridge (reason, identity, cita, last step)."""
    ln = linea.actual()
    try:
        registro = repo.transferencia_por_id(db.sesion(), int(request.args.get("t", "0")))
        texto = _texto_susurro(registro)
    except Exception as e:  # noqa: BLE001 - the agent still gets the call, with less context
        db.descartar()
        log.error("susurro sin contexto call=%s: %s", Webhook.leer(request.form).call_sid,
                  type(e).__name__)
        texto = "Llamada de la línea de cancelación de citas."
    return _xml(ln.render.susurro(texto))


def _texto_susurro(registro) -> str:
    ln = linea.actual()
    if registro is None:
        return "Llamada de la línea de cancelación de citas."
    fecha = _fecha_de_cita(registro.cita_id)
    return ln.catalogo.locucion("susurro", {
        "razon": etiquetas.razon(registro.razon),
        "identificado": "Cliente identificado" if registro.identificado
        else "Cliente no identificado",
        "cita": f"Cita del {fecha}" if fecha else "Sin cita elegida",
        "nodo": etiquetas.nodo(registro.nodo),
    }).texto


@bp.post("/voice/espera")
def espera() -> Response:
    """Hold while queued (Enqueue waitUrl): position in the queue, then music or a pause."""
    wh = Webhook.leer(request.form)
    return _xml(linea.actual().render.espera(wh.queue_position,
                                             current_app.config.get("HOLD_MUSIC_URL")))


@bp.post("/voice/<nodo>")
@_seguro
def nodo(wh: Webhook, nodo: str) -> Response:
    """The caller's answer at a node's <Gather>."""
    ln = linea.actual()
    if nodo not in ln.flujo.nodos:
        abort(404)
    estado = _store().get(wh.call_sid)
    if estado is None and _llamada_terminada(wh.call_sid):
        # A late repeat of a webhook of a call that is over (its state is dropped): no answer
        # can reach the caller, and nothing must be redone.
        return _xml(COLGAR)
    if estado is None:
        # State expired or lost: say so and start again rather than guessing.
        return _nueva_llamada(wh, [dialog.Decir("estado_perdido")])
    if (estado.terminada or estado.nodo != nodo) and estado.previo:
        # A repeated or stale webhook: answer what was answered, count nothing.
        return _xml(estado.previo)
    estado, salida = dialog.paso(ln.flujo, estado, wh.entrada, acciones.para(_contexto()))
    return _responder(wh, estado, salida, wh.tipo_de_entrada)
