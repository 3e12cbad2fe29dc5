"""The Twilio webhooks: load the call's state, take one dialog step, save it, answer TwiML."""

from __future__ import annotations

import base64
import hmac
import logging
import re
import traceback
from collections.abc import Callable
from functools import partial
from hashlib import sha1

from flask import Blueprint, Response, abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException

from ivr import acciones, cancelacion, db, dialog, linea, logs, repo, transferencia
from ivr.dialog import Colgar, Decir, Marcar
from ivr.estado import Estado
from ivr.models import Llamada as LlamadaRegistrada
from ivr.store import StoreError
from ivr.webhook import Webhook

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)
ESTADOS_FINALES = {"completed", "busy", "failed", "no-answer", "canceled"}
VACIO = '<?xml version="1.0" encoding="UTF-8"?><Response />'
COLGAR = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'
SOLO_DISCULPA = ("error_interno", "alternativa_web", "despedida")  # no dial: said from memory


def init_app(app) -> None:
    """Register the webhooks."""
    app.register_blueprint(bp)
    app.session_interface = _SesionFueraDeLosWebhooks()


class _SesionFueraDeLosWebhooks(SecureCookieSessionInterface):
    """The cookie session is the agents' page's: a Twilio webhook (it sends no cookie) gets
    Flask's null session without the cookie signer being built for it, each time."""

    def open_session(self, app, request):
        if request.path.startswith("/voice/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _store():
    return current_app._get_current_object().extensions["ivr_store"]  # noqa: SLF001 - one lookup


def _ahora():
    return current_app._get_current_object().config["RELOJ"]()  # noqa: SLF001 - one lookup


def _xml(texto: str, outcome: str | None = None, siguiente: str | None = None) -> Response:
    """The TwiML answer; *outcome* (and *siguiente*, a Gather's node) say what it tells Twilio
    to do, for the webhook's log line (which otherwise parses it)."""
    if outcome:
        logs.respuesta(outcome, siguiente)
    return Response(texto, status=200, content_type="text/xml; charset=utf-8")


def _url_firmada(config, peticion) -> str:
    """The URL Twilio signed: behind a proxy, PUBLIC_BASE_URL replaces scheme, host and prefix."""
    base = config.get("PUBLIC_BASE_URL")
    if not base:
        return peticion.url
    query = peticion.query_string.decode()
    return base + peticion.path + (f"?{query}" if query else "")


# A path or query of these characters only is one werkzeug's request.url neither quotes nor
# unquotes (no `%`, nothing outside ASCII): the environ's text is the URL's, as it stands.
_SIN_ESCAPES = re.compile(r"[\w.\-~!$&'()*+,/:;=@]*\Z", re.ASCII)
_SIN_ESCAPES_QUERY = re.compile(r"[\w.\-~!$&'()*+,/:;=@?]*\Z", re.ASCII)
RAICES_MAXIMAS = 8  # a deployment answers on one or two hosts; a forged Host is not kept


def _url_directa(raices: dict, peticion) -> str | None:
    """request.url, without its cost (werkzeug rebuilds, quotes and unquotes it each time):
    the request's root (scheme, host, prefix: werkzeug's own root_url, kept per host) and the
    environ's path and query, when they hold nothing request.url would rewrite. None when
    they do, or when the host is not one kept: the caller computes request.url then."""
    environ = peticion.environ
    ruta = environ.get("PATH_INFO") or ""
    query = environ.get("QUERY_STRING") or ""
    if not (_SIN_ESCAPES.match(ruta) and _SIN_ESCAPES_QUERY.match(query)):
        return None
    host = environ.get("HTTP_HOST")
    if host is None:  # the root then comes from SERVER_NAME and SERVER_PORT: not worth a key
        return None
    clave = (environ.get("wsgi.url_scheme"), host, environ.get("SCRIPT_NAME"))
    raiz = raices.get(clave)
    if raiz is None:
        if len(raices) >= RAICES_MAXIMAS:
            return None
        raiz = raices[clave] = peticion.root_url  # ends in "/"
    return raiz + ruta.lstrip("/") + ("?" + query if query else "")


def _url_probable(app, peticion) -> str:
    """The URL Twilio most likely signed, as cheaply as it can be had: PUBLIC_BASE_URL's, or
    the request's own from the environ (request.url when the environ's can't be trusted to
    equal it)."""
    config = app.config
    if config.get("PUBLIC_BASE_URL"):
        return _url_firmada(config, peticion)
    raices = app.extensions.get("ivr_raices_firmadas")
    if raices is None:
        raices = app.extensions["ivr_raices_firmadas"] = {}
    return _url_directa(raices, peticion) or peticion.url


_MULTIDICTS = (MultiDict, ImmutableMultiDict)


def firma(token: str, url: str, form) -> str:
    """Twilio's signature of a webhook (HMAC-SHA1 of the URL and the sorted parameters, in
    base64), as twilio's RequestValidator.compute_signature computes it (the tests hold it to
    the library), without its per-parameter lookups: each webhook pays for it."""
    partes = [url]
    # werkzeug's MultiDict (request.form) is a dict of each field's list of values: read as
    # it stands, since its lists() copies every list (a subclass may keep them otherwise).
    pares = dict.items(form) if type(form) in _MULTIDICTS else form.lists()
    for nombre, valores in sorted(pares):
        if len(valores) == 1:
            partes.append(nombre + valores[0])
        else:
            partes.extend([nombre + valor for valor in sorted(set(valores))])
    datos = "".join(partes).encode()
    return base64.b64encode(hmac.new(token.encode(), datos, sha1).digest()).decode()


@bp.before_request
def _verificar_firma():
    """Unsigned or badly signed requests get 403 before anything is read or written."""
    app = current_app._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup
    config = app.config
    peticion = request._get_current_object()  # noqa: SLF001
    token = config.get("TWILIO_AUTH_TOKEN")
    dada = peticion.environ.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not token or not dada:
        abort(403)
    form = peticion.form
    # The URL as Twilio signed it matches at the first try: one HMAC, compared in constant
    # time. The library's validate (which always computes two, with and without the port),
    # on the URL as werkzeug computes it, judges the rest as it always has.
    probable = _url_probable(app, peticion)
    if hmac.compare_digest(firma(token, probable, form).encode(), dada.encode()):
        return None
    url = _url_firmada(config, peticion)
    if not ((url != probable and hmac.compare_digest(firma(token, url, form).encode(),
                                                     dada.encode()))
            or RequestValidator(token).validate(url, form, dada)):
        # What someone debugging a proxy or a tunnel needs: the URL the signature was checked
        # against (PUBLIC_BASE_URL or the request's own), without its query or the form.
        log.warning("firma de Twilio inválida para la URL %s", url.split("?", 1)[0])
        abort(403)
    return None


def _leer() -> Webhook:
    """This request's webhook, its form read once."""
    peticion = request._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup
    # Kept on this request (not in g, which an app context can share between requests): the
    # log line reads the same fields.
    formulario = peticion.ivr_formulario = peticion.form.to_dict()
    return Webhook.leer(formulario)


def _seguro(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Read the webhook once and hand it to the view; any internal error becomes an apology
    and a transfer: never a 500 to Twilio."""

    def envoltura(*args, **kwargs):
        wh = _leer()
        try:
            try:
                return fn(wh, *args, **kwargs)
            except Exception as e:
                if not db.conexion_perdida(e):
                    raise
                # A pooled connection the server had dropped: once more, on a new one. (Had
                # it died at the commit, the repeat is still safe: the cancellation and the
                # call's record are idempotent for their call, and the state is saved only
                # after the commit; at worst a transfer is recorded twice.)
                db.descartar()
                log.warning("conexión a la base perdida call=%s ruta=%s: se repite el paso",
                            wh.call_sid, request.path)
                return fn(wh, *args, **kwargs)
        except HTTPException:
            raise  # a 404 for a path that is no node: nothing to apologise for, nothing recorded
        except Exception as e:  # noqa: BLE001 - the caller must always hear something valid
            db.descartar()
            # Only the exception's type and frames: messages may carry personal data (SQL params).
            frames = "".join(traceback.format_tb(e.__traceback__))
            log.error("error interno call=%s ruta=%s: %s\n%s", wh.call_sid, request.path,
                      type(e).__name__, frames)
            return _xml(_disculpa(wh, request.path.rsplit("/", 1)[-1]))

    envoltura.__name__ = fn.__name__
    return envoltura


def _contexto() -> acciones.Contexto:
    app = current_app._get_current_object()  # noqa: SLF001 - werkzeug's API: one lookup
    ahora = app.config["RELOJ"]()
    return acciones.Contexto(sesion=db.sesion, ahora=ahora,
                             destinos_de=partial(cancelacion.destinos_de, app.config),
                             agentes_de=partial(linea.actual().agentes, ahora))


def _disculpa(wh: Webhook, donde: str) -> str:
    """Apologise and go to the agents through the flow, from what is known of the call.

    After a dial's result there is no second dial from here (that could loop): the apology,
    the web alternative and goodbye. Whatever else fails, the same words from memory."""
    ln = linea.actual()
    if wh.marcacion:
        return ln.render.disculpa(SOLO_DISCULPA)
    try:
        try:
            estado = _store().get(wh.call_sid)
        except StoreError:
            estado = None
        if estado is None or estado.terminada:
            estado = Estado(call_sid=wh.call_sid, desde=wh.desde,
                            nodo=donde if donde in ln.flujo.nodos else None)
        salida = dialog.transferir(ln.flujo, estado, "error_interno", [Decir("error_interno")],
                                   acciones.para(_contexto()))
        return _responder(wh, estado, salida).get_data(as_text=True)
    except Exception as e:  # noqa: BLE001 - the apology must go out even with everything down
        db.descartar()
        log.error("disculpa sin transferencia call=%s: %s", wh.call_sid, type(e).__name__)
        return ln.render.disculpa(SOLO_DISCULPA)


def _responder(wh: Webhook, estado: Estado, salida: dialog.Salida,
               registrado: dict | None = None) -> Response:
    """Commit the step's work, record the call, save the state, render TwiML.

    *registrado*: what the call's record already holds of the state (`_lo_registrado`), when
    the step before this one wrote it: a record that would not change is not written again."""
    ln = linea.actual()
    marcar = isinstance(salida.fin, Marcar)
    terminal = isinstance(salida.fin, Colgar)
    # At a final node (the folio) the line's part is done, though * may still repeat it.
    hecha = terminal or (isinstance(salida.fin, dialog.Escuchar)
                         and ln.flujo.nodos[salida.fin.nodo].tipo == "final")
    # The call's record is written when the line's part is done or the call goes to the
    # agents: the state may expire before the status callback (a long talk with an agent),
    # and the outcome must not depend on it.
    if hecha and not estado.transferencia_pendiente:
        # The step's work (a cancellation) and the call's record in one transaction: if
        # either fails, neither is kept and none of it is said (the apology follows).
        if registrado is None or registrado != _lo_registrado(wh, estado):
            _registrar_desenlace(wh, estado)
        db.confirmar()
    else:
        db.confirmar()  # the step's own work first (a transfer): if it fails, nothing is said
        _escribir_pendiente(estado)
        try:
            if hecha or marcar:
                _registrar_desenlace(wh, estado)
                db.confirmar()
        except SQLAlchemyError as e:
            db.descartar()
            if not marcar:
                raise
            # The database is away: the dial still goes out, the whisper speaks from the
            # state, and the transfer is written by a later webhook of this call.
            log.error("llamada sin registrar call=%s: %s", wh.call_sid, type(e).__name__)
    texto, estado.previo = ln.render.responder(salida, estado.call_sid, estado.transferencia_id)
    estado.terminada = terminal
    try:
        _store().save(wh.call_sid, estado)
    except StoreError:
        if not (hecha or estado.razon):
            raise  # the next step would find no state: apologise and transfer now
        # The line's part is over, or the call is with the agents' part of the flow, which a
        # later webhook can take up from the database's records: the caller must still hear
        # this answer (a folio, a dial). Only a repeat of this webhook lacks its cached answer.
        log.error("estado sin guardar call=%s", wh.call_sid)
    if isinstance(salida.fin, dialog.Escuchar):
        return _xml(texto, "gather", salida.fin.nodo)
    return _xml(texto, "transfer" if marcar else "hangup")


def _repetir(estado: Estado) -> str:
    """The answer last given to this call, again, for a repeated or stale webhook."""
    return linea.actual().render.repetir(estado.previo)


def _escribir_pendiente(estado: Estado) -> None:
    """Write a transfer the database couldn't take earlier, now that it may answer again."""
    if not estado.transferencia_pendiente:
        return
    antes = (estado.transferencia_id, estado.transferencia_pendiente)
    try:
        transferencia.escribir_pendiente(db.sesion(), estado)
        db.confirmar()
    except SQLAlchemyError as e:
        db.descartar()
        estado.transferencia_id, estado.transferencia_pendiente = antes
        log.error("transferencia aún sin registrar call=%s: %s", estado.call_sid,
                  type(e).__name__)


def _llamada_terminada(call_sid: str) -> bool:
    registro = db.sesion().get(LlamadaRegistrada, call_sid)
    return registro is not None and registro.terminada_en is not None


def _lo_registrado(wh: Webhook, estado: Estado) -> dict:
    """What the call's record keeps of its state: outcome, last node, reason, who, the path.
    An outcome the line recorded without the state (an apology and a transfer while the state
    could not be read or saved) outlives an older state: only one the state has is given."""
    campos = {"desde": estado.desde or wh.desde, "ultimo_nodo": estado.nodo,
              "derechohabiente_id": estado.derechohabiente_id, "ruta": estado.ruta,
              "entradas": estado.entradas}
    campos.update((k, v) for k, v in (("desenlace", estado.desenlace), ("razon", estado.razon))
                  if v)
    return campos


def _registrar_desenlace(wh: Webhook, estado: Estado, **mas) -> str | None:
    """The call's record from its state (`_lo_registrado`). Returns the outcome it keeps."""
    # A caller who hangs up mid-dialog has no outcome yet: how the call ended is the outcome.
    return repo.registrar_llamada(
        db.sesion(), wh.call_sid, iniciada_en=_ahora(),
        desenlace_por_omision=f"colgo_{wh.call_status or ''}", **_lo_registrado(wh, estado),
        **mas)


def _nueva_llamada(wh: Webhook, prefijo: list[dialog.Decir] | None = None) -> Response:
    ln = linea.actual()
    estado = dialog.estado_inicial(wh.call_sid, wh.desde)
    estado, salida = dialog.iniciar(ln.flujo, estado, acciones.para(_contexto()))
    if prefijo:
        salida = dialog.Salida(tuple(prefijo) + salida.decir, salida.fin)
    return _responder(wh, estado, salida)


def _estado_de_registros(wh: Webhook, nodo: str) -> Estado | None:
    """The state of a call in the agents' part of the flow, rebuilt from its transfer records
    when the store lost it or can't be read: who, why, and how many dials (so the one-retry
    rule holds without the store). None for any other node: guessing there would mislead."""
    ln = linea.actual()
    if nodo not in ln.flujo.tras_agente():
        return None
    registro = repo.ultima_transferencia(db.sesion(), wh.call_sid)
    if registro is None:
        return None
    estado = Estado(call_sid=wh.call_sid, desde=wh.desde, nodo=nodo, razon=registro.razon,
                    nodo_transferencia=registro.nodo, transferencia_id=registro.id,
                    derechohabiente_id=registro.derechohabiente_id, cita_id=registro.cita_id,
                    marcaciones=repo.contar_marcaciones(db.sesion(), wh.call_sid),
                    desenlace="sin_agente")
    contexto = registro.contexto or {}
    estado.cambiar({k: contexto[k] for k in transferencia.CONTEXTO if contexto.get(k)})
    estado.desde = estado.desde or wh.desde
    return estado


@bp.post("/voice/incoming")
@_seguro
def incoming(wh: Webhook) -> Response:
    """A call comes in: welcome and the main menu."""
    estado = _store().get(wh.call_sid)
    if estado is not None and estado.previo:
        # Twilio repeated the incoming webhook: answer the same, don't start over.
        return _xml(_repetir(estado))
    return _nueva_llamada(wh)


@bp.post("/voice/status")
def status() -> Response:
    """Call status changes: on the end of the call, record its outcome and drop its state.

    It only records: it never transfers nor creates a transfer, whatever is down. Without the
    state, what the call's record already holds (who, why) is kept."""
    wh = _leer()
    if wh.call_status not in ESTADOS_FINALES:
        return _xml(VACIO, "empty")
    try:
        estado = _store().get(wh.call_sid)
        store_ok = True
    except StoreError:
        estado, store_ok = None, False
    try:
        if estado is not None:
            transferencia.escribir_pendiente(db.sesion(), estado)
            desenlace = _registrar_desenlace(wh, estado, terminada_en=_ahora(),
                                             duracion_segundos=wh.duracion, duradero=False)
        else:
            # The state is gone (a long talk with an agent outlives its TTL) or unreadable:
            # keep what was recorded when the line let the call go, and say when it ended.
            desenlace = repo.registrar_llamada(
                db.sesion(), wh.call_sid, terminada_en=_ahora(), desde=wh.desde,
                duracion_segundos=wh.duracion, desenlace_por_omision=f"colgo_{wh.call_status}",
                duradero=False)
        # The end of a call need not hold the worker for an fsync: a crash of the database
        # server may lose its last fraction of a second of call endings, never a cancellation,
        # committed at its step (repo.registrar_llamada).
        db.confirmar()
    except Exception as e:  # noqa: BLE001 - Twilio ignores this answer: it only must be valid
        db.descartar()
        log.error("fin de llamada sin registrar call=%s: %s", wh.call_sid, type(e).__name__)
        return _xml(VACIO, "empty")
    if store_ok:
        try:
            _store().delete(wh.call_sid)
        except StoreError:
            log.error("estado sin borrar call=%s (expirará)", wh.call_sid)
    logs.anotar(call_outcome=desenlace)
    return _xml(VACIO, "empty")


@bp.post("/voice/fallback")
@_seguro
def fallback(wh: Webhook) -> Response:
    """The primary webhook failed (a worker killed mid-request, a timeout): Twilio posts the
    same parameters here. Carry the call on from its state: answer its last step again."""
    estado = _store().get(wh.call_sid)
    if estado is not None and estado.previo:
        return _xml(_repetir(estado))
    if estado is None and not _llamada_terminada(wh.call_sid):
        return _nueva_llamada(wh)  # the incoming webhook itself was lost
    return _xml(_disculpa(wh, "fallback"))


@bp.post("/voice/agente_estado")
def agente_estado() -> Response:
    """The agent's leg of a dial (its statusCallback): ringing, answered, completed... marks
    the transfer "en línea" on the agents' page. Only recorded; the call is not touched."""
    wh = _leer()
    transferencia_id = _entero(request.args.get("t"))
    if transferencia_id is not None and wh.call_status:
        try:
            repo.registrar_estado_agente(db.sesion(), transferencia_id, wh.call_status, _ahora())
            db.confirmar()
        except Exception as e:  # noqa: BLE001 - Twilio ignores this answer
            db.descartar()
            log.error("estado del agente sin registrar t=%s: %s", transferencia_id,
                      type(e).__name__)
    return _xml(VACIO, "empty")


def _entero(texto: str | None) -> int | None:
    return int(texto) if texto and texto.isascii() and texto.isdigit() and len(texto) < 10 \
        else None


@bp.post("/voice/susurro")
def susurro() -> Response:
    """The whisper: what the agent hears before the bridge (which transfer, who, why, which
    cita). From the transfer's record; while the database is away, from the call's state."""
    ln = linea.actual()
    transferencia_id = _entero(request.args.get("t"))
    call_sid = request.args.get("call", "")[:64]
    params = None
    try:
        registro = (repo.transferencia_por_id(db.sesion(), transferencia_id)
                    if transferencia_id is not None else None)
        if registro is not None and registro.call_sid == call_sid:
            params = transferencia.susurro(db.sesion(), registro)
    except Exception as e:  # noqa: BLE001 - the agent still gets the call, with less context
        db.descartar()
        log.error("susurro sin base call=%s: %s", call_sid, type(e).__name__)
    if params is None:
        try:
            estado = _store().get(call_sid) if call_sid else None
        except StoreError:
            estado = None
        if estado is not None:
            params = transferencia.susurro_sin_base(estado)
    if params is None:
        return _xml(ln.render.disculpa_agente())
    return _xml(ln.render.susurro(params))


@bp.post("/voice/espera")
def espera() -> Response:
    """Hold while queued (Enqueue waitUrl): position in the queue, then music or a pause."""
    wh = _leer()
    return _xml(linea.actual().render.espera(wh.queue_position,
                                             current_app.config.get("HOLD_MUSIC_URL")))


@bp.post("/voice/<nodo>")
@_seguro
def nodo(wh: Webhook, nodo: str) -> Response:
    """The caller's answer at a node: keys or speech at its <Gather>, or how its dial ended."""
    ln = linea.actual()
    if nodo not in ln.flujo.nodos:
        abort(404)
    try:
        estado = _store().get(wh.call_sid)
    except StoreError:
        estado = _estado_de_registros(wh, nodo)
        if estado is None:
            raise
    if estado is None and _llamada_terminada(wh.call_sid):
        # A late webhook of a call that is over (its state is dropped): no answer can reach
        # the caller, and nothing must be redone.
        return _xml(COLGAR, "hangup")
    if estado is None or (wh.marcacion and estado.nodo not in ln.flujo.tras_agente()):
        # No state, or one from before the transfer (saving the transfer's state was lost, as
        # when a Redis master dies): a dial's result is taken up from the transfer records.
        estado = _estado_de_registros(wh, nodo) or estado
    if estado is None and wh.marcacion:
        # A dial's result with nothing known of the call: after a talk, hang up; else end
        # politely. Starting the call over would put the caller back at the welcome.
        if wh.marcacion in acciones.COMPLETADAS:
            return _xml(COLGAR, "hangup")
        return _xml(ln.render.disculpa(SOLO_DISCULPA))
    if estado is None:
        # State expired or lost: say so and start again rather than guessing.
        return _nueva_llamada(wh, [dialog.Decir("estado_perdido")])
    if (estado.terminada or estado.nodo != nodo) and estado.previo:
        # A repeated or stale webhook: answer what was answered, count nothing.
        return _xml(_repetir(estado))
    _escribir_pendiente(estado)
    # An answer at a final node (the folio): the step that reached it wrote the call's record
    # from this very state. The goodbye, or the folio again, changes none of it, so the
    # webhook sends no SQL; the status callback still writes the call's end. An agent asked
    # for here (0) changes the outcome and is written.
    # (dialog.paso changes a copy: what is compared stays as it was.)
    registrado = _lo_registrado(wh, estado) if ln.flujo.nodos[nodo].tipo == "final" else None
    estado, salida = dialog.paso(ln.flujo, estado, wh.entrada, acciones.para(_contexto()))
    return _responder(wh, estado, salida, registrado)
