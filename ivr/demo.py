"""`ivr demo-data`: a small fictitious agenda relative to today, to try the line at once."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.mx import curp as stdnum_curp

from ivr import repo
from ivr.domain.folio import nuevo_folio
from ivr.domain.horario import feriado
from ivr.domain.keypad import a_teclas
from ivr.importer import COLUMNAS, importar_csv
from ivr.models import MEXICO, Cancelacion, Cita

UNIDAD = "UAPES No. 4 (demostración)"


def con_digito(base17: str) -> str:
    """A CURP with its correct check digit."""
    return base17 + stdnum_curp.calc_check_digit(base17 + "0")


@dataclass(frozen=True)
class Persona:
    """A fictitious derechohabiente of the demo."""

    curp: str
    rfc: str
    nombre: str
    primer_apellido: str
    segundo_apellido: str
    descripcion: str


RAMIREZ = Persona(con_digito("RASF850312MDFMTR0"), "", "María Fernanda", "Ramírez", "Soto",
                  "dos citas futuras: al llamar elige cuál cancelar")
TORRES = Persona(con_digito("TOVL700221HJCRGS0"), "", "José Luis", "Torres", "Vega",
                 "cita mañana a las 9:00: menos de 36 horas, oye el recordatorio")
LUNA = Persona(con_digito("LUCP650909MMCNST0"), "", "Patricia", "Luna", "Castro",
               "su única cita ya pasó: no tiene nada que cancelar")
MENDEZ = Persona(con_digito("MEOJ780130HDFNRR0"), "", "Jorge", "Méndez", "Ortiz",
                 "su cita ya la canceló un agente: oye el folio de esa cancelación")
CRUZ = Persona(con_digito("CUOA920505HDFRLL0"), "CUOA920505K47", "Alejandro", "Cruz", "Olvera",
               "se identifica con su RFC (13 teclas) en vez de la CURP")
IBARRA = Persona(con_digito("IAQS950817XNLBRM0"), "", "Sam", "Ibarra", "Quiroz",
                 "CURP con sexo X (no binario)")
PERSONAS = (RAMIREZ, TORRES, LUNA, MENDEZ, CRUZ, IBARRA)

CANCELADA_POR_AGENTE = "DM4Q7C"


def dia_habil(desde: date, n: int) -> date:
    """The n-th working day after `desde` (n < 0: before it): Monday to Friday, not a federal
    holiday, as the offices that give citas work."""
    paso = 1 if n > 0 else -1
    d, faltan = desde, abs(n)
    while faltan:
        d += timedelta(days=paso)
        if d.weekday() < 5 and not feriado(d):
            faltan -= 1
    return d


def _citas(hoy: date) -> list[tuple[Persona, str, date, str, str, str]]:
    """(persona, clave, fecha, inicio, fin, estado) for every demo cita."""
    return [
        (RAMIREZ, "DM3K7A", dia_habil(hoy, 3), "10:00", "10:15", "agendada"),
        (RAMIREZ, "DM8R2B", dia_habil(hoy, 8), "12:30", "12:45", "agendada"),
        # Tomorrow at 9:00 is always in the future and always less than 36 hours away (even
        # when tomorrow is a Saturday: the demo needs the reminder every day).
        (TORRES, "DM5T9H", hoy + timedelta(days=1), "09:00", "09:15", "agendada"),
        (LUNA, "DM2P6W", dia_habil(hoy, -5), "11:00", "11:15", "atendida"),
        (MENDEZ, CANCELADA_POR_AGENTE, dia_habil(hoy, 4), "08:30", "08:45", "agendada"),
        (CRUZ, "DM6X3E", dia_habil(hoy, 3), "13:15", "13:30", "agendada"),
        (IBARRA, "DM9G4V", dia_habil(hoy, 5), "16:00", "16:15", "agendada"),
    ]


def agenda_csv(hoy: date) -> str:
    """The demo agenda as an import CSV."""
    salida = io.StringIO()
    escritor = csv.writer(salida, lineterminator="\n")
    escritor.writerow(COLUMNAS)
    for p, clave, fecha, inicio, fin, estado in _citas(hoy):
        escritor.writerow([p.curp, p.rfc, p.nombre, p.primer_apellido, p.segundo_apellido,
                           "5500000000", clave, UNIDAD, "03", fecha.isoformat(), inicio, fin,
                           estado])
    return salida.getvalue()


def _cancelar_por_agente(session: Session, hoy: date) -> None:
    """Mendez's cita, cancelled the day before by an agent (once: later runs keep the folio)."""
    cita = session.scalars(select(Cita).where(Cita.clave == CANCELADA_POR_AGENTE)).one()
    cita.estado = "cancelada"
    existe = session.scalars(select(Cancelacion).where(Cancelacion.cita_id == cita.id)).first()
    if existe is None:
        creada = datetime.combine(hoy - timedelta(days=1), time(12, 0), tzinfo=MEXICO)
        session.add(Cancelacion(cita_id=cita.id, folio=nuevo_folio(), solicitante_tipo="titular",
                                motivo_codigo=2, motivo_texto="No puedo asistir en la fecha u "
                                "horario", canal="agente", call_sid=None,
                                creada_en=creada.astimezone(UTC)))
    session.flush()


def cargar_demo(session: Session, hoy: date) -> list[dict]:
    """Load the demo agenda through the importer (no commit); who to call as, and why.

    Run again, it resets the demo: its dates move to today's, and the demo citas cancelled
    since (by trying the line) are agendadas again, so the README's scripted call works every
    time. Only the demo's own claves are touched."""
    repo.deshacer_cancelaciones(session, [clave for _, clave, *_ in _citas(hoy)
                                          if clave != CANCELADA_POR_AGENTE])
    resultado = importar_csv(session, io.StringIO(agenda_csv(hoy)))
    if resultado.errores:
        raise RuntimeError(f"la agenda de demostración no es válida: {resultado.errores}")
    _cancelar_por_agente(session, hoy)
    return [{"curp": p.curp, "rfc": p.rfc or None, "primer_apellido": p.primer_apellido,
             "descripcion": p.descripcion} for p in PERSONAS]


@click.command("demo-data")
@with_appcontext
def demo_data_command() -> None:
    """Carga (o restablece) una agenda ficticia con fechas desde hoy y muestra con quién llamar."""
    from ivr import db

    session = db.sesion()
    reloj = current_app.config.get("RELOJ") or (lambda: datetime.now(UTC))
    personas = cargar_demo(session, reloj().astimezone(MEXICO).date())
    session.commit()
    click.echo("Agenda de demostración cargada. Llame como alguna de estas personas "
               "(5, 1, 7 en los menús; al final de cada dato, #):\n")
    for p in personas:
        click.echo(f"  {p['primer_apellido']}: {p['descripcion']}")
        datos = [("CURP", p["curp"])] + ([("RFC", p["rfc"])] if p["rfc"] else [])
        datos.append(("Apellido", p["primer_apellido"]))
        for nombre, valor in datos:
            click.echo(f"    {nombre:<9}{valor:<20}teclas: {a_teclas(valor)}#")
        click.echo("")
