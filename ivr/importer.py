"""`ivr import-citas`: load the agenda from a CSV file as offices export it, all or nothing.

The contract is SPEC §4; issue 9 widens it to what Excel in es-MX saves: UTF-8 with or without
BOM or Windows-1252, `,` or `;`, dates AAAA-MM-DD or dd/mm/aaaa, times H:MM or HH:MM[:SS],
`estado` in any case, headers in any order and matched ignoring case, accents and spaces.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import IO

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ivr import repo_agenda
from ivr.domain.documento import normalizar, validar_curp, validar_rfc
from ivr.domain.keypad import a_teclas
from ivr.models import ESTADOS_CITA, TECLAS, teclas_de

COLUMNAS = ("curp", "rfc", "nombre", "primer_apellido", "segundo_apellido", "telefono", "clave",
            "unidad", "ventanilla", "fecha", "hora_inicio", "hora_fin", "estado")
OBLIGATORIAS = ("curp", "nombre", "primer_apellido", "clave", "unidad", "ventanilla", "fecha",
                "hora_inicio", "hora_fin", "estado")
SEPARADORES = (",", ";")
# The widths of the columns they go to: a longer value is a bad row, not a database error.
LARGOS = {"nombre": 120, "primer_apellido": 120, "segundo_apellido": 120, "telefono": 30,
          "unidad": 200, "ventanilla": 40}
CLAVE = re.compile(r"[A-Z0-9]{6}")
FECHA_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
FECHA_MX = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
HORA = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
# What _texto leaves of the C0 and C1 control characters (it turns tabs and line breaks into
# spaces): a NUL or an escape in a name is garbage, and PostgreSQL refuses NUL in text.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Resultado:
    """What an import did (counts of citas), or every bad row with its line number."""

    creados: int = 0
    actualizados: int = 0
    sin_cambios: int = 0
    derechohabientes_nuevos: int = 0
    errores: list[tuple[int, str]] = field(default_factory=list)
    codificacion: str | None = None
    separador: str | None = None


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


class ArchivoIlegible(Exception):
    """The file can't be read as text; args: (line, reason)."""


def _texto(valor: str) -> str:
    """NFC, surrounding spaces stripped and inner runs of spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", valor).split())


def _linea_de_byte(contenido: bytes, posicion: int) -> int:
    return contenido.count(b"\n", 0, posicion) + 1


def decodificar(contenido: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (with or without BOM) or Windows-1252.

    Decided once for the whole file: if every byte of it is valid UTF-8 it is UTF-8, otherwise
    it is Windows-1252. UTF-8 is strict about its multi-byte sequences, so a Windows-1252 file
    with even one accented letter (a lone byte of 0x80 or more) fails it, while a file that is
    only ASCII reads the same either way. A BOM settles it without looking further.
    """
    if contenido.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ArchivoIlegible(1, "el archivo está en UTF-16 («Texto Unicode» de Excel): "
                                 "guárdelo como «CSV UTF-8 (delimitado por comas)»")
    if contenido.startswith(codecs.BOM_UTF8):
        try:
            return contenido[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8"
        except UnicodeDecodeError as e:
            raise ArchivoIlegible(_linea_de_byte(e.object, e.start),
                                  "el archivo empieza como UTF-8 (BOM) pero no lo es") from None
    try:
        return contenido.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return contenido.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as e:
        # The five bytes Windows-1252 leaves undefined: neither encoding explains the file.
        raise ArchivoIlegible(_linea_de_byte(e.object, e.start),
                              f"el archivo no está en UTF-8 ni en Windows-1252 (byte "
                              f"0x{e.object[e.start]:02X})") from None


def _leer(path_or_file: str | Path | IO) -> tuple[str, str | None]:
    """The file's text and its encoding (None when it was handed over as text)."""
    if isinstance(path_or_file, str | Path):
        contenido = Path(path_or_file).read_bytes()
    else:
        contenido = path_or_file.read()
    if isinstance(contenido, str):
        return contenido.removeprefix("\ufeff"), None
    return decodificar(contenido)


def _nombre_de_columna(encabezado: str) -> str:
    """A header cell as compared: no accents, case, spaces or punctuation ("Teléfono")."""
    sin_acentos = "".join(c for c in unicodedata.normalize("NFKD", encabezado)
                          if not unicodedata.combining(c))
    return "".join(c for c in sin_acentos.casefold() if c.isalnum())


_COLUMNA_POR_NOMBRE = {_nombre_de_columna(c): c for c in COLUMNAS}


def _columnas(celdas: list[str]) -> tuple[list[str | None], list[str], list[str]]:
    """Each cell's column (None if unknown), the missing columns and the unexpected cells."""
    while celdas and not celdas[-1].strip():
        celdas = celdas[:-1]  # Excel keeps empty cells of a column that was once formatted
    columnas = [_COLUMNA_POR_NOMBRE.get(_nombre_de_columna(c)) for c in celdas]
    faltan = [c for c in COLUMNAS if c not in columnas]
    sobran = [celda.strip() or "(vacía)" for celda, c in zip(celdas, columnas, strict=True)
              if c is None]
    sobran += [c for i, c in enumerate(columnas) if c is not None and c in columnas[:i]]
    return columnas, faltan, sobran


def _separador(primera_linea: str) -> str:
    """`,` or `;`: the one that splits the header into more known columns, else the commoner."""
    def conocidas(sep: str) -> int:
        celdas = next(csv.reader([primera_linea], delimiter=sep), [])
        return len({_COLUMNA_POR_NOMBRE.get(_nombre_de_columna(c)) for c in celdas} - {None})
    return max(SEPARADORES, key=lambda s: (conocidas(s), primera_linea.count(s)))


def _fecha(valor: str) -> date | None:
    for patron, orden in ((FECHA_ISO, (1, 2, 3)), (FECHA_MX, (3, 2, 1))):
        m = patron.fullmatch(valor)
        if m:
            try:
                return date(*(int(m[i]) for i in orden))
            except ValueError:
                return None
    return None


def _hora(valor: str) -> time | None:
    m = HORA.fullmatch(valor)
    if not m:
        return None
    try:
        return time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        return None


def _validar(linea: int, v: dict[str, str], curps: dict[str, bool]) -> tuple[Fila | None,
                                                                            list[str]]:
    """The row (its texts already through _texto) as a Fila, or the reasons it is bad.

    *curps* caches each CURP's validity: a person's citas share it and the check is costly.
    """
    motivos = [f"falta {k}" for k in OBLIGATORIAS if not v[k]]
    curp = normalizar(v["curp"])
    if curp:
        if curp not in curps:
            curps[curp] = validar_curp(curp)
        if not curps[curp]:
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
    fecha = _fecha(v["fecha"]) if v["fecha"] else None
    if v["fecha"] and fecha is None:
        motivos.append(f"fecha inválida ({v['fecha']}): use AAAA-MM-DD o dd/mm/aaaa")
    horas = {}
    for k in ("hora_inicio", "hora_fin"):
        if v[k]:
            horas[k] = _hora(v[k])
            if horas[k] is None:
                motivos.append(f"{k} inválida ({v[k]}): use H:MM o HH:MM[:SS], de 24 horas")
    if horas.get("hora_inicio") and horas.get("hora_fin") \
            and horas["hora_fin"] <= horas["hora_inicio"]:
        motivos.append("hora_fin debe ser posterior a hora_inicio")
    estado = v["estado"].casefold()
    if estado and estado not in ESTADOS_CITA:
        motivos.append(f"estado inválido ({v['estado']}): debe ser {', '.join(ESTADOS_CITA)}")
    if motivos:
        return None, motivos
    return Fila(linea=linea, curp=curp, rfc=rfc, nombre=v["nombre"],
                primer_apellido=v["primer_apellido"],
                segundo_apellido=v["segundo_apellido"] or None,
                telefono=v["telefono"] or None, clave=v["clave"], unidad=v["unidad"],
                ventanilla=v["ventanilla"], fecha=fecha, hora_inicio=horas["hora_inicio"],
                hora_fin=horas["hora_fin"], estado=estado), []


def _persona(v: dict[str, str]) -> tuple:
    return (normalizar(v["rfc"]), v["nombre"].casefold(), v["primer_apellido"].casefold(),
            v["segundo_apellido"].casefold())


def leer_filas(texto: str) -> tuple[list[Fila], list[tuple[int, str]], str]:
    """Parse and validate the CSV text: the good rows, (line, reason) for each bad one, and
    the separator it used."""
    primera_linea = texto.split("\n", 1)[0]
    separador = _separador(primera_linea)
    lector = csv.reader(io.StringIO(texto, newline=""), delimiter=separador, strict=True)
    try:
        encabezado = next(lector, None)
    except csv.Error as e:
        return [], [(1, f"encabezado ilegible: {e}")], separador
    if encabezado is None or not any(c.strip() for c in encabezado):
        return [], [(1, "el archivo está vacío")], separador
    columnas, faltan, sobran = _columnas(encabezado)
    if faltan or sobran:
        partes = [f"faltan {', '.join(faltan)}"] if faltan else []
        partes += [f"no se esperaban {', '.join(sobran)}"] if sobran else []
        return [], [(1, f"encabezado: {'; '.join(partes)} (separador visto: «{separador}»; "
                        f"se esperan las columnas {', '.join(COLUMNAS)})")], separador
    ancho = len(columnas)
    errores: list[tuple[int, str]] = []
    filas: list[Fila] = []
    claves: dict[str, int] = {}
    personas: dict[str, tuple[int, tuple]] = {}
    curps_validas: dict[str, bool] = {}
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
        if len(valores) > ancho and not any(c.strip() for c in valores[ancho:]):
            valores = valores[:ancho]
        if len(valores) != ancho:
            errores.append((linea, f"tiene {len(valores)} columnas, se esperaban {ancho}"))
            continue
        v = {k: _texto(valor) for k, valor in zip(columnas, valores, strict=True)}
        sucias = [(k, m[0]) for k in COLUMNAS if (m := CONTROL.search(v[k]))]
        if sucias:  # no other check for this row: its messages would echo the garbage
            errores.extend((linea, f"{k} contiene un carácter de control (U+{ord(c):04X}): "
                                   "quítelo") for k, c in sucias)
            continue
        fila, motivos = _validar(linea, v, curps_validas)
        clave, curp = v["clave"], normalizar(v["curp"])
        if clave in claves:
            motivos.append(f"la clave {clave} ya aparece en la línea {claves[clave]}")
        elif clave:
            claves[clave] = linea
        if curp:
            persona = _persona(v)
            previa = personas.setdefault(curp, (linea, persona))
            if previa[1] != persona:
                motivos.append(f"la CURP {curp} aparece en la línea {previa[0]} con otro "
                               "nombre o RFC")
        if motivos:
            errores.extend((linea, m) for m in motivos)
        else:
            filas.append(fila)
    if not errores and not filas:
        errores.append((1, "el archivo no tiene ninguna cita"))
    return filas, errores, separador


def _con_teclas(datos: dict) -> dict:
    """The row plus the keypad forms of the fields it holds, as the model's validator sets."""
    return datos | {TECLAS[k]: teclas_de(k, datos[k]) for k in TECLAS if k in datos}


def cargar_filas(session: Session, filas: list[Fila]) -> Resultado:
    """Write valid rows in bulk: derechohabientes by CURP, unidades by name, citas by clave.

    Reads what is stored for these keys first, then writes only what is new or changed. A
    clave stored under another CURP is refused (a typo must not hand one person's cita to
    another) and then nothing is written. Flushes through the session; the caller commits.
    """
    personas = repo_agenda.personas_por_curp(session, {f.curp for f in filas})
    citas = repo_agenda.citas_por_clave(session, [f.clave for f in filas])
    ajenas = [(f.linea, f"la clave {f.clave} ya es de una cita de otra persona (otra CURP) "
                        "en la agenda: corrija la clave o la CURP")
              for f in filas if f.clave in citas and citas[f.clave].curp != f.curp]
    if ajenas:
        return Resultado(errores=ajenas)
    unidades = repo_agenda.unidades_por_nombre(session, {f.unidad for f in filas})
    resultado = Resultado()

    deseadas: dict[str, dict] = {}  # curp → what the file says of that person
    for f in filas:
        datos = deseadas.setdefault(f.curp, {
            "rfc": f.rfc, "nombre": f.nombre, "primer_apellido": f.primer_apellido,
            "segundo_apellido": f.segundo_apellido, "telefono": None})
        if f.telefono:  # an empty phone never erases the registered one; the last one wins
            datos["telefono"] = f.telefono
    nuevas, cambiadas = [], []
    for curp, datos in deseadas.items():
        guardada = personas.get(curp)
        if guardada is None:
            nuevas.append(_con_teclas({"curp": curp, **datos}))
            continue
        if datos["telefono"] is None:
            datos["telefono"] = guardada.telefono
        if any(getattr(guardada, k) != v for k, v in datos.items()):
            cambiadas.append(_con_teclas({"id": guardada.id, **datos}))
    ids = {curp: fila.id for curp, fila in personas.items()}
    ids.update(repo_agenda.insertar_personas(session, nuevas))
    repo_agenda.actualizar_personas(session, cambiadas)
    resultado.derechohabientes_nuevos = len(nuevas)
    unidades.update(repo_agenda.insertar_unidades(
        session, sorted({f.unidad for f in filas} - unidades.keys())))

    por_crear, por_cambiar = [], []
    for f in filas:
        valores = {"unidad_id": unidades[f.unidad], "ventanilla": f.ventanilla,
                   "fecha": f.fecha, "hora_inicio": f.hora_inicio, "hora_fin": f.hora_fin,
                   "estado": f.estado}
        guardada = citas.get(f.clave)
        if guardada is None:
            por_crear.append({"clave": f.clave, "derechohabiente_id": ids[f.curp], **valores})
            continue
        if guardada.cancelada_aqui:
            valores["estado"] = "cancelada"  # by phone or by an agent: a re-import can't undo it
        if any(getattr(guardada, k) != v for k, v in valores.items()):
            por_cambiar.append({"id": guardada.id, **valores})
    repo_agenda.insertar_citas(session, por_crear)
    repo_agenda.actualizar_citas(session, por_cambiar)
    resultado.creados, resultado.actualizados = len(por_crear), len(por_cambiar)
    resultado.sin_cambios = len(filas) - len(por_crear) - len(por_cambiar)
    return resultado


def importar_csv(session: Session, path_or_file: str | Path | IO) -> Resultado:
    """Validate the whole CSV; load it only if every row is good (flushes, caller commits)."""
    try:
        texto, codificacion = _leer(path_or_file)
    except ArchivoIlegible as e:
        return Resultado(errores=[e.args])
    filas, errores, separador = leer_filas(texto)
    if errores:
        resultado = Resultado(errores=errores)
    else:
        resultado = cargar_filas(session, filas)
    resultado.codificacion, resultado.separador = codificacion, separador
    return resultado


@click.command("import-citas")
@click.argument("archivo", metavar="ARCHIVO", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_citas_command(archivo: str) -> None:
    """Carga la agenda desde un CSV (todo o nada; reimportar el mismo archivo no cambia nada).

    Acepta lo que guarda Excel: UTF-8 (con o sin BOM) o Windows-1252, separado por comas o
    por punto y coma, fechas AAAA-MM-DD o dd/mm/aaaa, horas H:MM o HH:MM[:SS].
    """
    from ivr import db

    session = db.sesion()
    try:
        resultado = importar_csv(session, archivo)
        if not resultado.errores:
            session.commit()
    except (IntegrityError, DataError) as e:
        # E.g. another import racing this one. The driver's message and the statement's
        # parameters would print personal data: the type of error is enough to go on.
        session.rollback()
        click.echo(f"No se cargó nada: la base de datos rechazó la carga "
                   f"({type(e).__name__}). Vuelva a intentarlo.", err=True)
        sys.exit(1)
    if resultado.errores:
        session.rollback()
        for linea, motivo in resultado.errores:
            click.echo(f"línea {linea}: {motivo}", err=True)
        click.echo(f"No se cargó nada: {len(resultado.errores)} error(es).", err=True)
        sys.exit(1)
    click.echo(f"Archivo: {resultado.codificacion}, separador «{resultado.separador}».")
    click.echo(f"Citas: {resultado.creados} nuevas, {resultado.actualizados} actualizadas, "
               f"{resultado.sin_cambios} sin cambios; "
               f"{resultado.derechohabientes_nuevos} derechohabientes nuevos.")
