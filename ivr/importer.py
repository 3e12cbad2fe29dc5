"""`ivr import-citas`: load the agenda from a CSV file, all or nothing (SPEC §4)."""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import IO

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.domain.documento import normalizar, validar_curp, validar_rfc
from ivr.domain.keypad import a_teclas
from ivr.models import ESTADOS_CITA, Cancelacion, Cita, Derechohabiente, Unidad

COLUMNAS = ("curp", "rfc", "nombre", "primer_apellido", "segundo_apellido", "telefono", "clave",
            "unidad", "ventanilla", "fecha", "hora_inicio", "hora_fin", "estado")
OBLIGATORIAS = ("curp", "nombre", "primer_apellido", "clave", "unidad", "ventanilla", "fecha",
                "hora_inicio", "hora_fin", "estado")
# The widths of the columns they go to: a longer value is a bad row, not a database error.
LARGOS = {"nombre": 120, "primer_apellido": 120, "segundo_apellido": 120, "telefono": 30,
          "unidad": 200, "ventanilla": 40}
CLAVE = re.compile(r"[A-Z0-9]{6}")
FECHA = re.compile(r"\d{4}-\d{2}-\d{2}")
HORA = re.compile(r"\d{2}:\d{2}")
LOTE = 500  # ids per IN (...) query: well under every driver's parameter limit


@dataclass
class Resultado:
    """What an import did (counts of citas), or every bad row with its line number."""

    creados: int = 0
    actualizados: int = 0
    sin_cambios: int = 0
    derechohabientes_nuevos: int = 0
    errores: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Fila:
    """One valid CSV row, normalised."""

    linea: int
    curp: str
    rfc: str | None
    nombre: str
    primer_apellido: str
    segundo_apellido: str | None
    telefono: str | None
    clave: str
    unidad: str
    ventanilla: str
    fecha: date
    hora_inicio: time
    hora_fin: time
    estado: str


def _texto(valor: str) -> str:
    """NFC, surrounding spaces stripped and inner runs of spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", valor).split())


def _leer(path_or_file: str | Path | IO) -> str:
    """The file's text; UnicodeDecodeError if it is not UTF-8. A leading BOM is dropped."""
    if isinstance(path_or_file, str | Path):
        contenido = Path(path_or_file).read_bytes()
    else:
        contenido = path_or_file.read()
    if isinstance(contenido, bytes):
        contenido = contenido.decode("utf-8")
    return contenido.removeprefix("\ufeff")


def _hora(valor: str) -> time | None:
    if not HORA.fullmatch(valor):
        return None
    try:
        return time.fromisoformat(valor)
    except ValueError:
        return None


def _validar(linea: int, v: dict[str, str]) -> tuple[Fila | None, list[str]]:
    """The row (its texts already through _texto) as a Fila, or the reasons it is bad."""
    motivos = [f"falta {k}" for k in OBLIGATORIAS if not v[k]]
    curp = normalizar(v["curp"])
    if curp and not validar_curp(curp):
        motivos.append(f"CURP inválida ({v['curp']}): formato o dígito verificador")
    rfc = normalizar(v["rfc"]) or None
    if rfc and not validar_rfc(rfc):
        motivos.append(f"RFC con formato inválido ({v['rfc']})")
    for k, largo in LARGOS.items():
        if len(v[k]) > largo:
            motivos.append(f"{k} demasiado largo (más de {largo} caracteres)")
    try:
        a_teclas(v["primer_apellido"])  # the caller keys it in: it needs a keypad form
    except ValueError:
        motivos.append(f"primer_apellido con caracteres que no son letras ({v['primer_apellido']})")
    if v["clave"] and not CLAVE.fullmatch(v["clave"]):
        motivos.append(f"clave inválida ({v['clave']}): deben ser 6 letras mayúsculas o dígitos")
    fecha = None
    if v["fecha"]:
        try:
            fecha = date.fromisoformat(v["fecha"]) if FECHA.fullmatch(v["fecha"]) else None
        except ValueError:
            fecha = None
        if fecha is None:
            motivos.append(f"fecha inválida ({v['fecha']}): use AAAA-MM-DD")
    horas = {}
    for k in ("hora_inicio", "hora_fin"):
        if v[k]:
            horas[k] = _hora(v[k])
            if horas[k] is None:
                motivos.append(f"{k} inválida ({v[k]}): use HH:MM de 24 horas")
    if horas.get("hora_inicio") and horas.get("hora_fin") \
            and horas["hora_fin"] <= horas["hora_inicio"]:
        motivos.append("hora_fin debe ser posterior a hora_inicio")
    if v["estado"] and v["estado"] not in ESTADOS_CITA:
        motivos.append(f"estado inválido ({v['estado']}): debe ser {', '.join(ESTADOS_CITA)}")
    if motivos:
        return None, motivos
    return Fila(linea=linea, curp=curp, rfc=rfc, nombre=v["nombre"],
                primer_apellido=v["primer_apellido"],
                segundo_apellido=v["segundo_apellido"] or None,
                telefono=v["telefono"] or None, clave=v["clave"], unidad=v["unidad"],
                ventanilla=v["ventanilla"], fecha=fecha, hora_inicio=horas["hora_inicio"],
                hora_fin=horas["hora_fin"], estado=v["estado"]), []


def _persona(v: dict[str, str]) -> tuple:
    return (normalizar(v["rfc"]), v["nombre"].casefold(), v["primer_apellido"].casefold(),
            v["segundo_apellido"].casefold())


def leer_filas(texto: str) -> tuple[list[Fila], list[tuple[int, str]]]:
    """Parse and validate the CSV text: the good rows, and (line, reason) for each bad one."""
    errores: list[tuple[int, str]] = []
    lector = csv.reader(io.StringIO(texto, newline=""), strict=True)
    try:
        encabezado = next(lector, None)
    except csv.Error as e:
        return [], [(1, f"encabezado ilegible: {e}")]
    if encabezado is None:
        return [], [(1, "el archivo está vacío")]
    if tuple(c.strip() for c in encabezado) != COLUMNAS:
        return [], [(1, "encabezado distinto del esperado: " + ",".join(COLUMNAS))]
    filas: list[Fila] = []
    claves: dict[str, int] = {}
    personas: dict[str, tuple[int, tuple]] = {}
    fin_anterior = lector.line_num
    while True:
        linea = fin_anterior + 1  # the physical line where this record starts
        try:
            valores = next(lector)
        except StopIteration:
            break
        except csv.Error as e:
            errores.append((linea, f"CSV mal formado: {e}"))
            break
        fin_anterior = lector.line_num
        if not any(c.strip() for c in valores):
            continue
        if len(valores) != len(COLUMNAS):
            errores.append((linea, f"tiene {len(valores)} columnas, se esperaban {len(COLUMNAS)}"))
            continue
        v = {k: _texto(valor) for k, valor in zip(COLUMNAS, valores, strict=True)}
        fila, motivos = _validar(linea, v)
        clave, curp = v["clave"], normalizar(v["curp"])
        if clave in claves:
            motivos.append(f"la clave {clave} ya aparece en la línea {claves[clave]}")
        elif clave:
            claves[clave] = linea
        if curp:
            previa = personas.setdefault(curp, (linea, _persona(v)))
            if previa[1] != _persona(v):
                motivos.append(f"la CURP {curp} aparece en la línea {previa[0]} con otro "
                               "nombre o RFC")
        if motivos:
            errores.extend((linea, m) for m in motivos)
        else:
            filas.append(fila)
    if not errores and not filas:
        errores.append((1, "el archivo no tiene ninguna cita"))
    return filas, errores


def _en_lotes(valores: Iterable, n: int = LOTE):
    valores = list(valores)
    for i in range(0, len(valores), n):
        yield valores[i:i + n]


def _poner(objeto, **valores) -> bool:
    """Set the attributes that differ; True if any did."""
    cambio = False
    for nombre, valor in valores.items():
        if getattr(objeto, nombre) != valor:
            setattr(objeto, nombre, valor)
            cambio = True
    return cambio


def cargar_filas(session: Session, filas: list[Fila]) -> Resultado:
    """Write valid rows: derechohabientes by CURP, unidades by name, citas by clave; no commit."""
    resultado = Resultado()
    personas: dict[str, Derechohabiente] = {}
    for lote in _en_lotes({f.curp for f in filas}):
        personas.update((d.curp, d) for d in session.scalars(
            select(Derechohabiente).where(Derechohabiente.curp.in_(lote))))
    unidades: dict[str, Unidad] = {}
    for lote in _en_lotes({f.unidad for f in filas}):
        unidades.update((u.nombre, u) for u in session.scalars(
            select(Unidad).where(Unidad.nombre.in_(lote))))
    citas: dict[str, Cita] = {}
    canceladas: set[int] = set()
    for lote in _en_lotes({f.clave for f in filas}):
        citas.update((c.clave, c)
                     for c in session.scalars(select(Cita).where(Cita.clave.in_(lote))))
        canceladas.update(session.scalars(
            select(Cancelacion.cita_id).join(Cita, Cancelacion.cita_id == Cita.id)
            .where(Cita.clave.in_(lote))))
    for f in filas:
        datos = {"rfc": f.rfc, "nombre": f.nombre, "primer_apellido": f.primer_apellido,
                 "segundo_apellido": f.segundo_apellido}
        persona = personas.get(f.curp)
        if persona is None:
            persona = personas[f.curp] = Derechohabiente(curp=f.curp, telefono=f.telefono, **datos)
            session.add(persona)
            resultado.derechohabientes_nuevos += 1
        else:
            _poner(persona, **datos)
            if f.telefono:
                _poner(persona, telefono=f.telefono)
        if f.unidad not in unidades:
            unidades[f.unidad] = Unidad(nombre=f.unidad)
            session.add(unidades[f.unidad])
    session.flush()
    for f in filas:
        cita = citas.get(f.clave)
        estado = f.estado
        if cita is not None and cita.id in canceladas:
            estado = "cancelada"  # cancelled by phone or by an agent: a re-import can't undo it
        valores = {"derechohabiente_id": personas[f.curp].id, "unidad_id": unidades[f.unidad].id,
                   "ventanilla": f.ventanilla, "fecha": f.fecha, "hora_inicio": f.hora_inicio,
                   "hora_fin": f.hora_fin, "estado": estado}
        if cita is None:
            session.add(Cita(clave=f.clave, **valores))
            resultado.creados += 1
        elif _poner(cita, **valores):
            resultado.actualizados += 1
        else:
            resultado.sin_cambios += 1
    session.flush()
    return resultado


def _linea_de_byte(contenido: bytes, posicion: int) -> int:
    return contenido.count(b"\n", 0, posicion) + 1


def importar_csv(session: Session, path_or_file: str | Path | IO) -> Resultado:
    """Validate the whole CSV; load it only if every row is good (flushes, caller commits)."""
    try:
        texto = _leer(path_or_file)
    except UnicodeDecodeError as e:
        return Resultado(errores=[(_linea_de_byte(e.object, e.start),
                                   "el archivo no está en UTF-8")])
    filas, errores = leer_filas(texto)
    if errores:
        return Resultado(errores=errores)
    return cargar_filas(session, filas)


@click.command("import-citas")
@click.argument("archivo", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_citas_command(archivo: str) -> None:
    """Load the agenda from a CSV file (all or nothing; re-importing changes nothing)."""
    from ivr import db

    session = db.sesion()
    resultado = importar_csv(session, archivo)
    if resultado.errores:
        session.rollback()
        for linea, motivo in resultado.errores:
            click.echo(f"línea {linea}: {motivo}", err=True)
        click.echo(f"No se cargó nada: {len(resultado.errores)} error(es).", err=True)
        sys.exit(1)
    session.commit()
    click.echo(f"Citas: {resultado.creados} nuevas, {resultado.actualizados} actualizadas, "
               f"{resultado.sin_cambios} sin cambios; "
               f"{resultado.derechohabientes_nuevos} derechohabientes nuevos.")
