"""The callbacks list ("llamar de vuelta"): callers who asked to be called back, and marking
one as called with its outcome. Its context (and the cancel form) is the transfer's page."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ivr import db, etiquetas, repo_agentes, repo_devoluciones
from ivr.agentes import formato, formularios
from ivr.agentes.acceso import ahora
from ivr.models import Devolucion

log = logging.getLogger(__name__)
# The outcomes an agent can record (the model's RESULTADOS_DEVOLUCION), as agents read them.
RESULTADOS_DEVOLUCION = {
    "contactado": "Se habló con quien llamó",
    "no_contesto": "No contestó",
    "numero_equivocado": "Número equivocado",
    "otro": "Otro resultado (ver nota)",
}


def _fila(d: Devolucion, personas: dict, citas: dict, instante) -> dict:
    t = d.transferencia
    persona = personas.get(t.derechohabiente_id or t.encontrado_id)
    cita = citas.get(t.cita_id)
    pedida = formato.utc(d.creada_en)
    return {
        "id": d.id,
        "transferencia": t.id,
        "hora": pedida.astimezone(formato.MEXICO).strftime("%d/%m %H:%M"),
        "hace": formato.hace(pedida, instante),
        "telefono": formato.ultimos_cuatro(d.telefono),
        "nombre": formato.nombre_completo(persona) if persona else None,
        "cita": formato.cita_corta(cita),
        "cita_pronto": formato.pronto(cita, instante),
        "razon": etiquetas.razon(t.razon),
        "conexion": etiquetas.conexion(t.dial_status),
        "pendiente": d.estado == "pendiente",
        "llamado_por": d.llamado_por,
        "resultado": RESULTADOS_DEVOLUCION.get(d.resultado or "", d.resultado),
        "url": url_for("agentes.detalle", transferencia_id=t.id, _anchor="devolucion"),
    }


def llamar_de_vuelta():
    """Callers waiting for a call back, in the order they asked (all of them with ?ver=todas)."""
    todas = request.args.get("ver") == "todas"
    sesion = db.sesion()
    instante = ahora()
    pedidas = repo_devoluciones.devoluciones(sesion, solo_pendientes=not todas)
    transferencias = [d.transferencia for d in pedidas]
    personas = repo_agentes.derechohabientes_por_id(
        sesion, (t.derechohabiente_id or t.encontrado_id for t in transferencias))
    citas = repo_agentes.citas_por_id(sesion, (t.cita_id for t in transferencias))
    return render_template("agentes/devoluciones.html", todas=todas,
                           devoluciones=[_fila(d, personas, citas, instante) for d in pedidas])


def llamado(devolucion_id: int):
    """Mark a callback as called, with its outcome and an optional note."""
    resultado = request.form.get("resultado", "")
    d = repo_devoluciones.devolucion_por_id(db.sesion(), devolucion_id)
    if d is None:
        abort(404)
    destino = url_for("agentes.detalle", transferencia_id=d.transferencia_id,
                      _anchor="devolucion")
    if resultado not in RESULTADOS_DEVOLUCION:
        flash("Elija cómo resultó la llamada.", "error")
        return redirect(destino)
    repo_devoluciones.marcar_llamado(db.sesion(), d.id, resultado=resultado,
                                     agente=current_user.usuario, ahora=ahora(),
                                     nota=formularios.texto("nota", 200))
    db.confirmar()
    log.info("agente %s llamó de vuelta (devolución %s): %s", current_user.usuario, d.id,
             resultado)
    flash(f"Devolución marcada como llamada: {RESULTADOS_DEVOLUCION[resultado].lower()}.", "ok")
    return redirect(destino)


def en_la_barra() -> dict:
    """For every page's header: how many callers wait for a call back."""
    if not current_user.is_authenticated:
        return {}
    return {"devoluciones_pendientes": repo_agentes.contar_devoluciones_pendientes(db.sesion())}
