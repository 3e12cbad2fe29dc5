"""The supervisor report on the agents' page (/agent/informe and its CSV): supervisors only.
The figures are ivr/informe's; this module reads the dates asked for and shows them."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, abort, render_template, request
from flask_login import current_user

from ivr import db, etiquetas, informe, linea
from ivr.agentes.acceso import ahora
from ivr.models import MEXICO


def _solo_supervisores() -> None:
    # Not 403: an agent learns nothing about a page that isn't theirs.
    if not getattr(current_user, "supervisor", False):
        abort(404)


def _fecha(nombre: str) -> date | None:
    valor = request.args.get(nombre) or ""
    try:
        return date.fromisoformat(valor) if valor else None
    except ValueError:
        return None


def _informe() -> tuple[informe.Informe, str | None]:
    """The report of the days asked for (?desde=AAAA-MM-DD&hasta=…), the last 7 by default;
    dates that don't read, or the wrong way round, fall back to the default with a word."""
    hoy = ahora().astimezone(MEXICO).date()
    aviso = None
    desde, hasta = _fecha("desde"), _fecha("hasta")
    if (request.args.get("desde") and desde is None) or (request.args.get("hasta")
                                                           and hasta is None):
        aviso = "Fechas no válidas (use AAAA-MM-DD): se muestran los últimos 7 días."
        desde = hasta = None
    try:
        desde, hasta = informe.periodo(desde, hasta, hoy)
    except ValueError:
        aviso = "La fecha inicial es posterior a la final: se muestran los últimos 7 días."
        desde, hasta = informe.periodo(None, None, hoy)
    if (hasta - desde).days > informe.DIAS_MAXIMOS:
        aviso = f"Se muestran a lo más {informe.DIAS_MAXIMOS + 1} días."
        desde = hasta - timedelta(days=informe.DIAS_MAXIMOS)
    orden = tuple(linea.actual().flujo.nodos)
    return informe.del_periodo(db.sesion(), desde, hasta, orden), aviso


def ver_informe():
    """The report: the funnel as a chart, the table by day, drop-off, transfers, durations."""
    _solo_supervisores()
    datos, aviso = _informe()
    return render_template("agentes/informe.html", informe=datos, aviso=aviso,
                           embudo=informe.embudo_svg(datos.total),
                           porcentaje=informe.porcentaje, segundos=informe.segundos,
                           campos=informe.EMBUDO, como_terminaron=informe.COMO_TERMINARON,
                           etiqueta_nodo=etiquetas.nodo, etiqueta_razon=etiquetas.razon)


def informe_csv():
    """The same table by day as CSV (UTF-8 with BOM, so Excel reads the accents)."""
    _solo_supervisores()
    datos, _ = _informe()
    nombre = f"informe_{datos.desde.isoformat()}_{datos.hasta.isoformat()}.csv"
    return Response("\ufeff" + informe.a_csv(datos), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{nombre}"'})
