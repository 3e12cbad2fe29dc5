"""The agents' views: the live list of transfers, a transfer's context, search, cancel, handled."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from flask import (
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
from flask_login import current_user

from ivr import cancelacion, db, etiquetas, linea, repo, repo_agentes
from ivr.agentes import formato, formularios
from ivr.agentes.acceso import ahora
from ivr.agentes.devoluciones import RESULTADOS_DEVOLUCION
from ivr.models import Transferencia

log = logging.getLogger(__name__)
LIMITE_LISTA = 200
SOLICITANTES = {"titular": "El titular", "tercero": "Otra persona a nombre del titular"}
DOCUMENTO_POR = {"teclado": "con el teclado", "voz": "de viva voz"}
ESTADOS_CITA = {"agendada": "Agendada", "cancelada": "Cancelada", "atendida": "Atendida"}


# -- list ----------------------------------------------------------------------------------


def _fila(f: repo_agentes.FilaTransferencia, instante: datetime) -> dict:
    """One row of the list, as the template and the page's script draw it."""
    t = f.transferencia
    creada = formato.utc(t.creada_en)
    desde = _contexto(t).get("desde") or f.desde
    return {
        "id": t.id,
        "en_linea": f.en_linea,
        "hora": creada.astimezone(formato.MEXICO).strftime("%H:%M"),
        "hace": formato.hace(creada, instante),
        "telefono": formato.ultimos_cuatro(desde),
        "nombre": formato.nombre_completo(f.derechohabiente) if f.derechohabiente else None,
        "cita": formato.cita_corta(f.cita),
        "cita_pronto": formato.pronto(f.cita, instante),
        "razon": etiquetas.razon(t.razon),
        "identificado": bool(t.identificado),
        "nodo": etiquetas.nodo(t.nodo),
        "atendida": bool(t.atendida),
        "atendida_por": t.atendida_por,
        "conexion": etiquetas.conexion(t.dial_status),
        "url": url_for("agentes.detalle", transferencia_id=t.id),
    }


def _transferencias(todas: bool) -> dict:
    sesion = db.sesion()
    instante = ahora()
    filas = repo_agentes.transferencias_para_lista(sesion, LIMITE_LISTA,
                                                   solo_pendientes=not todas, ahora=instante)
    return {"transferencias": [_fila(f, instante) for f in filas],
            "pendientes": repo_agentes.contar_pendientes(sesion), "todas": todas}


def _ver_todas() -> bool:
    return request.args.get("ver") == "todas"


def lista():
    """The live list: pending transfers newest first (all of them with ?ver=todas)."""
    return render_template("agentes/lista.html", **_transferencias(_ver_todas()),
                           cada_segundos=current_app.config["AGENT_REFRESH_SECONDS"])


def transferencias_json():
    """The same list for the page's script (behind the login, never cached)."""
    datos = _transferencias(_ver_todas())
    return jsonify(**datos, filas=render_template("agentes/_filas.html", **datos),
                   devoluciones=repo_agentes.contar_devoluciones_pendientes(db.sesion()))


# -- detail --------------------------------------------------------------------------------


def _transferencia(transferencia_id: int) -> Transferencia:
    t = repo.transferencia_por_id(db.sesion(), transferencia_id)
    if t is None:
        abort(404)
    return t


def _contexto(t: Transferencia) -> dict:
    contexto = getattr(t, "contexto", None)
    return contexto if isinstance(contexto, dict) else {}


def _derechohabiente_id(t: Transferencia) -> int | None:
    """Who the call is about: identified by the line, or found by an agent's search (both
    recorded on the transfer, never taken from the browser)."""
    return t.derechohabiente_id or t.encontrado_id


def _citas(derechohabiente_id: int) -> list[dict]:
    """All of a derechohabiente's citas, with their unit, state, folio and whether they can go."""
    sesion = db.sesion()
    citas = repo_agentes.citas_de(sesion, derechohabiente_id)
    cancelaciones = repo_agentes.cancelaciones_por_cita(sesion, (c.id for c in citas))
    unidades = repo_agentes.nombres_de_unidades(sesion, (c.unidad_id for c in citas))
    instante = ahora()
    cancelables = {c.id for c in repo.citas_cancelables(sesion, derechohabiente_id, instante)}
    return [{
        "id": c.id,
        "clave": c.clave,
        "fecha": formato.fecha_larga(c.fecha),
        "horas": formato.horas(c.hora_inicio, c.hora_fin),
        "unidad": unidades.get(c.unidad_id, ""),
        "ventanilla": c.ventanilla,
        "tramite": getattr(c, "tramite", None),
        "estado": c.estado,
        "estado_texto": ESTADOS_CITA.get(c.estado, c.estado),
        "folio": cancelaciones[c.id].folio if c.id in cancelaciones else None,
        "cancelada_por": cancelaciones[c.id].canal if c.id in cancelaciones else None,
        "cancelable": c.id in cancelables,
        "pronto": formato.pronto(c, instante),
    } for c in citas]


def _vista_detalle(t: Transferencia, *, resultados: list | None = None, busqueda_hecha=False,
                   documento: str = "", error_busqueda: str | None = None, status: int = 200):
    sesion = db.sesion()
    contexto = _contexto(t)
    llamada = repo_agentes.llamada_por_sid(sesion, t.call_sid) if t.call_sid else None
    ruta = contexto.get("ruta") or (llamada.ruta if llamada and llamada.ruta else []) or []
    motivo = contexto.get("motivo") or None
    dh_id = _derechohabiente_id(t)
    derechohabiente = repo_agentes.derechohabiente_por_id(sesion, dh_id) if dh_id else None
    creada = formato.utc(t.creada_en).astimezone(formato.MEXICO)
    return render_template(
        "agentes/detalle.html",
        t=t,
        preseleccion={"cita": t.cita_id,
                      "motivo": motivo.get("codigo") if isinstance(motivo, dict) else None,
                      "solicitante_tipo": contexto.get("solicitante_tipo"),
                      "solicitante_nombre": contexto.get("solicitante_nombre") or ""},
        creada=f"{formato.fecha_larga(creada.date())}, {creada.strftime('%H:%M:%S')}",
        razon=etiquetas.razon(t.razon),
        nodo=etiquetas.nodo(t.nodo),
        enlace=etiquetas.enlace(t.dial_status),
        pierna_agente=etiquetas.enlace(t.agente_estado),
        desde=contexto.get("desde") or (llamada.desde if llamada else None),
        ruta=[etiquetas.nodo(n) for n in ruta],
        documento_por=DOCUMENTO_POR.get(contexto.get("documento_por") or ""),
        motivo=motivo.get("texto") if isinstance(motivo, dict) else motivo,
        solicitante_tipo=SOLICITANTES.get(contexto.get("solicitante_tipo") or ""),
        solicitante_nombre=contexto.get("solicitante_nombre"),
        derechohabiente=derechohabiente,
        nombre=formato.nombre_completo(derechohabiente) if derechohabiente else None,
        encontrado_aqui=bool(derechohabiente and not t.derechohabiente_id),
        citas=_citas(derechohabiente.id) if derechohabiente else [],
        motivos=linea.actual().flujo.motivos,
        resultados=[(d, formato.nombre_completo(d)) for d in resultados or []],
        busqueda_hecha=busqueda_hecha,
        documento=documento,
        error_busqueda=error_busqueda,
        cancelacion=session.pop("cancelacion", None),
        devolucion=repo_agentes.devolucion_de_transferencia(sesion, t.id),
        resultados_devolucion=RESULTADOS_DEVOLUCION,
    ), status


def detalle(transferencia_id: int):
    """A transfer's context: caller, derechohabiente and citas, path, what was captured."""
    return _vista_detalle(_transferencia(transferencia_id))


def _normalizar_documento(texto: str) -> str:
    return re.sub(r"[\s\-.]", "", texto or "").upper()


def buscar(transferencia_id: int):
    """Find the caller by CURP or RFC (in the form body: personal data never goes in a URL).

    Where several people share the document, the agent picks one of them: the choice is
    checked against the same search, so no other person can be reached by sending an id.
    """
    t = _transferencia(transferencia_id)
    if t.derechohabiente_id:
        abort(400)  # the line identified the caller: there is nobody to look for
    documento = _normalizar_documento(request.form.get("documento", ""))
    if not re.fullmatch(r"[A-ZÑ&0-9]{10,18}", documento):
        return _vista_detalle(t, documento=documento, status=400,
                              error_busqueda="Escriba una CURP (18 caracteres) o un RFC "
                                             "(12 o 13 caracteres).")
    resultados = repo.buscar_por_documento(db.sesion(), documento)
    if "elegido" in request.form:
        elegido = formularios.id_de("elegido")
        if elegido not in {d.id for d in resultados}:
            abort(400)
        return _recordar_encontrado(t, elegido)
    log.info("agente %s buscó un documento en la transferencia %s: %d resultado(s)",
             current_user.usuario, t.id, len(resultados))
    if len(resultados) == 1:
        return _recordar_encontrado(t, resultados[0].id)
    return _vista_detalle(t, resultados=resultados, busqueda_hecha=True, documento=documento)


def _recordar_encontrado(t: Transferencia, derechohabiente_id: int):
    """Record on the transfer who the agent found, then show it."""
    repo_agentes.registrar_encontrado(db.sesion(), t, derechohabiente_id, current_user.usuario)
    db.confirmar()
    log.info("agente %s identificó a quien llama en la transferencia %s", current_user.usuario,
             t.id)
    return redirect(url_for("agentes.detalle", transferencia_id=t.id))


# -- cancelling and handling ---------------------------------------------------------------


def cancelar(transferencia_id: int):
    """Cancel a cita for the caller: a confirmation first, then the phone's atomic cancel."""
    t = _transferencia(transferencia_id)
    sesion = db.sesion()
    if not request.form.get("cita_id"):
        flash("Elija la cita que se va a cancelar.", "error")
        return redirect(url_for("agentes.detalle", transferencia_id=t.id))
    cita_id = formularios.id_de("cita_id")
    cita = repo_agentes.cita_por_id(sesion, cita_id) if cita_id is not None else None
    if cita is None or cita.derechohabiente_id != _derechohabiente_id(t):
        abort(400)  # not one of this caller's citas: a forged form, not a slip
    motivos = {str(m["codigo"]): m for m in linea.actual().flujo.motivos}
    motivo = motivos.get(request.form.get("motivo", ""))
    tipo = request.form.get("solicitante_tipo", "")
    nombre = formularios.texto("solicitante_nombre", 120)
    detalle_motivo = formularios.texto("motivo_detalle", 200)
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
                               fecha=formato.fecha_larga(cita.fecha),
                               horas=formato.horas(cita.hora_inicio, cita.hora_fin),
                               clave=cita.clave,
                               motivo=texto_motivo, solicitante=SOLICITANTES[tipo],
                               solicitante_nombre=datos["solicitante_nombre"])
    resultado = cancelacion.cancelar(
        sesion, cita.id,
        solicitante_tipo=tipo,
        solicitante_nombre=datos["solicitante_nombre"] or None,
        motivo_codigo=motivo["codigo"],
        motivo_texto=texto_motivo,
        canal="agente",
        call_sid=t.call_sid,
        ahora=ahora(),
        agente=current_user.usuario,
        destinos=cancelacion.destinos_de(current_app.config),
    )
    db.confirmar()
    log.info("agente %s, transferencia %s, cita %s: %s folio=%s", current_user.usuario, t.id,
             cita.id, resultado.resultado, resultado.folio)
    # Shown once, big, on the detail page the browser is sent to (never in the URL).
    session["cancelacion"] = {"resultado": resultado.resultado, "folio": resultado.folio,
                              "clave": cita.clave}
    return redirect(url_for("agentes.detalle", transferencia_id=t.id))


def atendida(transferencia_id: int):
    """Mark the transfer handled by this agent."""
    t = _transferencia(transferencia_id)
    repo_agentes.marcar_atendida(db.sesion(), t, current_user.usuario)
    db.confirmar()
    log.info("agente %s atendió la transferencia %s", current_user.usuario, t.id)
    flash("Transferencia marcada como atendida.", "ok")
    return redirect(url_for("agentes.detalle", transferencia_id=t.id))
