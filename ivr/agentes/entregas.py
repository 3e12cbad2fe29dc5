"""Undelivered news of cancellations: the outbox events that died (the Sistema de Citas or an
SMS never took them in 24 h), so that someone follows up, and a button to try again."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ivr import db, repo_outbox
from ivr.agentes import formato
from ivr.agentes.acceso import ahora

log = logging.getLogger(__name__)
DESTINOS = {"sistema_citas": "Sistema de Citas", "sms": "SMS al titular"}


def no_entregados():
    """The dead events, newest first: which cita, where to, how many tries, the last error."""
    instante = ahora()
    filas = []
    for evento, clave in repo_outbox.listar(db.sesion(), "muerto"):
        creado = formato.utc(evento.creado_en)
        filas.append({
            "id": evento.id,
            "clave": clave,
            "destino": DESTINOS.get(evento.destino, evento.destino),
            "creado": creado.astimezone(formato.MEXICO).strftime("%d/%m %H:%M"),
            "hace": formato.hace(creado, instante),
            "intentos": evento.intentos,
            "error": evento.ultimo_error or "",
        })
    return render_template("agentes/entregas.html", eventos=filas)


def reintentar_entrega(evento_id: int):
    """Put a dead event back in the outbox with a fresh 24 h."""
    evento = repo_outbox.reintentar(db.sesion(), evento_id, ahora())
    if evento is None:
        abort(404)
    if evento.estado == "entregado":
        flash("Ese aviso ya se había entregado.", "info")
    else:
        db.confirmar()
        log.info("agente %s reintenta el evento %s del outbox", current_user.usuario, evento_id)
        flash(f"Se volverá a intentar el aviso {evento_id}.", "ok")
    return redirect(url_for("agentes.no_entregados"))


def en_la_barra() -> dict:
    """For every page's header: how many events died undelivered."""
    if not current_user.is_authenticated:
        return {}
    return {"no_entregados": repo_outbox.contar_por_estado(db.sesion()).get("muerto", 0)}
