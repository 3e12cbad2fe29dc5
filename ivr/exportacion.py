"""`ivr export-cancelaciones`: the cancellations of a range of days, as CSV for Excel or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import IO

import click
from flask.cli import with_appcontext
from sqlalchemy import Row
from sqlalchemy.orm import Session

from ivr import repo_agenda
from ivr.models import MEXICO

COLUMNAS = ("clave", "curp", "folio", "fecha", "hora_inicio", "unidad", "ventanilla",
            "motivo_codigo", "motivo_texto", "solicitante_tipo", "solicitante_nombre", "canal",
            "agente", "cancelada_en", "entregada_al_sistema")
FORMATOS = ("csv", "json")
FECHA = re.compile(r"\d{4}-\d{2}-\d{2}")


def limites(desde: date, hasta: date) -> tuple[datetime, datetime]:
    """The UTC instants [start of *desde*, end of *hasta*) of those Mexico City days."""
    inicio = datetime.combine(desde, time(0), tzinfo=MEXICO)
    fin = datetime.combine(hasta + timedelta(days=1), time(0), tzinfo=MEXICO)
    return inicio.astimezone(UTC), fin.astimezone(UTC)


def _instante(valor: datetime) -> str:
    # SQLite gives back naive datetimes: they were stored in UTC.
    if valor.tzinfo is None:
        valor = valor.replace(tzinfo=UTC)
    return valor.astimezone(MEXICO).isoformat()


def registro(fila: Row) -> dict:
    """One cancellation as exported: JSON types (dates and instants as ISO 8601 text)."""
    r = fila._asdict()
    return {c: r[c] for c in COLUMNAS} | {
        "fecha": r["fecha"].isoformat(),
        "hora_inicio": r["hora_inicio"].strftime("%H:%M"),
        "cancelada_en": _instante(r["cancelada_en"]),
        "entregada_al_sistema": bool(r["entregada_al_sistema"]),
    }


def cancelaciones(session: Session, desde: date, hasta: date) -> list[dict]:
    """The cancellations made on the Mexico City days desde..hasta (both included)."""
    return [registro(f) for f in repo_agenda.cancelaciones_entre(session, *limites(desde, hasta))]


def escribir_csv(registros: Iterable[dict], salida: IO[bytes]) -> None:
    """CSV in UTF-8 with BOM (so Excel reads the accents), a header row, CRLF line ends."""
    texto = io.TextIOWrapper(salida, encoding="utf-8-sig", newline="", write_through=True)
    escritor = csv.writer(texto)
    escritor.writerow(COLUMNAS)
    for r in registros:
        escritor.writerow([_celda(r[c]) for c in COLUMNAS])
    texto.flush()
    texto.detach()  # the stream stays the caller's


def _celda(valor) -> str:
    if isinstance(valor, bool):
        return "sí" if valor else "no"
    return "" if valor is None else str(valor)


def escribir_json(registros: Iterable[dict], salida: IO[bytes]) -> None:
    """A JSON array of objects with the CSV's columns as keys, in UTF-8."""
    salida.write(json.dumps(list(registros), ensure_ascii=False, indent=2).encode() + b"\n")


def _fecha(ctx: click.Context, parametro: click.Parameter, valor: str | None) -> date:
    nombre = parametro.opts[0]
    if valor is None:
        raise click.UsageError(f"falta {nombre} AAAA-MM-DD", ctx)
    try:
        if FECHA.fullmatch(valor):
            return date.fromisoformat(valor)
    except ValueError:
        pass
    raise click.UsageError(f"{nombre} debe ser una fecha AAAA-MM-DD, no «{valor}»", ctx)


def _formato(ctx: click.Context, _parametro: click.Parameter, valor: str) -> str:
    if valor.lower() not in FORMATOS:
        raise click.UsageError(f"--formato debe ser csv o json, no «{valor}»", ctx)
    return valor.lower()


@click.command("export-cancelaciones")
@click.option("--desde", callback=_fecha, metavar="AAAA-MM-DD",
              help="Primer día (hora de la Ciudad de México).")
@click.option("--hasta", callback=_fecha, metavar="AAAA-MM-DD",
              help="Último día, incluido (hora de la Ciudad de México).")
@click.option("--formato", default="csv", show_default=True, callback=_formato,
              metavar="csv|json", help="csv (UTF-8 con BOM, para Excel) o json.")
@with_appcontext
def export_cancelaciones_command(desde: date, hasta: date, formato: str) -> None:
    """Escribe en la salida estándar las cancelaciones hechas entre dos días (incluidos)."""
    from ivr import db

    if hasta < desde:
        raise click.UsageError(f"--hasta ({hasta}) es anterior a --desde ({desde})")
    registros = cancelaciones(db.sesion(), desde, hasta)
    salida = sys.stdout.buffer
    (escribir_csv if formato == "csv" else escribir_json)(registros, salida)
    salida.flush()
