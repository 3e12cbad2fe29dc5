"""The supervisor report: figures of a period computed from the call records, by day in Mexico
City time, and the same figures as an SVG funnel, a CSV and plain text.

`calcular` is pure (rows in, figures out); `del_periodo` reads the rows through
ivr/repo_informe and is the one entry point of the page and of `ivr informe`.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape

from sqlalchemy.orm import Session

from ivr import repo_informe
from ivr.models import MEXICO
from ivr.repo_informe import FilaLlamada, FilaTransferencia

DIAS_POR_OMISION = 7
DIAS_MAXIMOS = 366  # a wider range is cut: one query per report, bounded
# The funnel's steps: (field of Dia, label).
EMBUDO = (("llamadas", "Llamadas"), ("curp", "Llegaron a la CURP"),
          ("identificadas", "Identificadas"), ("oyeron_cita", "Oyeron su cita"),
          ("confirmaron", "Confirmaron"), ("canceladas", "Canceladas"))
# How a transfer ended, from the <Dial>/<Enqueue> status the line recorded.
FINALES = {"completed": "atendida", "answered": "atendida", "bridged": "atendida",
           "atendida": "atendida", "no-answer": "sin_respuesta", "busy": "ocupado",
           "fuera_de_horario": "fuera_de_horario"}
COMO_TERMINARON = (("atendida", "Atendida"), ("sin_respuesta", "Sin respuesta"),
                   ("ocupado", "Ocupado"), ("fuera_de_horario", "Fuera de horario"),
                   ("otro", "Otro (falló, colgó, sin dato)"))
TIPOS_DE_ENTRADA = ("teclas", "voz", "silencio")


@dataclass
class Dia:
    """The funnel of one day (or of the whole period, `fecha` None)."""

    fecha: date | None
    llamadas: int = 0
    curp: int = 0
    identificadas: int = 0
    oyeron_cita: int = 0
    confirmaron: int = 0
    canceladas: int = 0

    @property
    def contencion(self) -> float | None:
        """Cancelled without an agent ÷ calls that reached the CURP step (None: no such call)."""
        return self.canceladas / self.curp if self.curp else None

    def contar(self, ll: FilaLlamada) -> None:
        """Add one call to the funnel."""
        self.llamadas += 1
        self.curp += "curp" in ll.ruta
        self.identificadas += ll.identificado
        self.oyeron_cita += "cita" in ll.ruta
        self.confirmaron += (ll.cancelada_por_la_linea or ll.desenlace == "ya_cancelada"
                             or ll.razon == "no_cancelable")
        self.canceladas += ll.cancelada_por_la_linea


@dataclass
class Informe:
    """Every figure of the report for the days `desde` to `hasta` (both included)."""

    desde: date
    hasta: date
    dias: list[Dia]
    total: Dia
    abandonos: list[tuple[str, int]]  # hang-ups by the node the caller was at, most first
    transferencias: dict[str, Counter]  # reason -> how they ended (+ "total")
    duracion_mediana: float | None
    duracion_p90: int | None
    con_duracion: int
    entradas: dict[str, Counter] = field(default_factory=dict)  # node -> kinds + "reintentos"


def periodo(desde: date | None, hasta: date | None, hoy: date) -> tuple[date, date]:
    """The days asked for: by default the last 7 days up to today (Mexico City)."""
    hasta = hasta or hoy
    desde = desde or hasta - timedelta(days=DIAS_POR_OMISION - 1)
    if desde > hasta:
        raise ValueError("la fecha inicial es posterior a la final")
    return desde, hasta


def limites_utc(desde: date, hasta: date) -> tuple[datetime, datetime]:
    """The instants of Mexico City's midnight opening `desde` and closing `hasta`."""
    return (datetime.combine(desde, time(0), tzinfo=MEXICO),
            datetime.combine(hasta + timedelta(days=1), time(0), tzinfo=MEXICO))


def percentil(valores: list[int], p: float) -> int | None:
    """The nearest-rank percentile: the smallest value with at least p % of them at or below."""
    if not valores:
        return None
    ordenados = sorted(valores)
    return ordenados[max(math.ceil(p / 100 * len(ordenados)), 1) - 1]


def calcular(desde: date, hasta: date, llamadas: list[FilaLlamada],
             transferencias: list[FilaTransferencia], orden: tuple[str, ...] = ()) -> Informe:
    """The report's figures from the period's rows (nodes listed in `orden` when given)."""
    dias = {desde + timedelta(days=i): Dia(desde + timedelta(days=i))
            for i in range((hasta - desde).days + 1)}
    total = Dia(None)
    abandonos: Counter = Counter()
    entradas: dict[str, Counter] = defaultdict(Counter)
    duraciones = []
    for ll in llamadas:
        dia = dias.get(ll.iniciada_en.astimezone(MEXICO).date())
        if dia is None:
            continue
        dia.contar(ll)
        total.contar(ll)
        if (ll.desenlace or "").startswith("colgo"):
            abandonos[ll.ultimo_nodo or "?"] += 1
        if ll.duracion_segundos is not None:
            duraciones.append(ll.duracion_segundos)
        for nodo, tipo, fallida in ll.entradas:
            entradas[nodo][tipo] += 1
            entradas[nodo]["reintentos"] += bool(fallida)
    por_razon: dict[str, Counter] = defaultdict(Counter)
    for t in transferencias:
        por_razon[t.razon][FINALES.get(t.dial_status or "", "otro")] += 1
        por_razon[t.razon]["total"] += 1
    posicion = {nodo: i for i, nodo in enumerate(orden)}
    return Informe(
        desde=desde, hasta=hasta, dias=list(dias.values()), total=total,
        abandonos=sorted(abandonos.items(), key=lambda kv: (-kv[1], kv[0])),
        transferencias=dict(sorted(por_razon.items(), key=lambda kv: (-kv[1]["total"], kv[0]))),
        duracion_mediana=statistics.median(duraciones) if duraciones else None,
        duracion_p90=percentil(duraciones, 90), con_duracion=len(duraciones),
        entradas=dict(sorted(entradas.items(),
                             key=lambda kv: (posicion.get(kv[0], len(posicion)), kv[0]))))


def del_periodo(session: Session, desde: date, hasta: date,
                orden: tuple[str, ...] = ()) -> Informe:
    """The report of these days (Mexico City), from the database."""
    inicio, fin = limites_utc(desde, hasta)
    return calcular(desde, hasta, repo_informe.llamadas_entre(session, inicio, fin),
                    repo_informe.transferencias_entre(session, inicio, fin), orden)


# -- the same figures, three ways ---------------------------------------------------------------


def porcentaje(valor: float | None) -> str:
    """"41.7 %", or "—" when there is nothing to divide."""
    return "—" if valor is None else f"{valor * 100:.1f} %"


def segundos(valor: float | None) -> str:
    """"95 s", or "—"."""
    return "—" if valor is None else f"{valor:g} s"


def a_csv(informe: Informe) -> str:
    """The by-day table (and its total) as CSV, for a spreadsheet."""
    salida = io.StringIO()
    escritor = csv.writer(salida, lineterminator="\r\n")
    escritor.writerow(["fecha", *(campo for campo, _ in EMBUDO), "contencion"])
    for dia in [*informe.dias, informe.total]:
        contencion = "" if dia.contencion is None else f"{dia.contencion:.4f}"
        escritor.writerow([dia.fecha.isoformat() if dia.fecha else "total",
                           *(getattr(dia, campo) for campo, _ in EMBUDO), contencion])
    return salida.getvalue()


def a_texto(informe: Informe, etiqueta_nodo=lambda n: n, etiqueta_razon=lambda r: r) -> str:
    """Every figure as plain text, for a terminal (`ivr informe`)."""
    lineas = [f"Informe del {informe.desde.isoformat()} al {informe.hasta.isoformat()} "
              "(hora de la Ciudad de México)", ""]
    encabezado = ["fecha", *(campo for campo, _ in EMBUDO), "contencion"]
    filas = [[d.fecha.isoformat() if d.fecha else "total",
              *(str(getattr(d, c)) for c, _ in EMBUDO), porcentaje(d.contencion)]
             for d in [*informe.dias, informe.total]]
    anchos = [max(len(f[i]) for f in [encabezado, *filas]) for i in range(len(encabezado))]
    for fila in [encabezado, *filas]:
        lineas.append("  ".join(v.rjust(a) if i else v.ljust(a)
                                for i, (v, a) in enumerate(zip(fila, anchos, strict=True))))
    lineas += ["", f"Contención: {porcentaje(informe.total.contencion)} "
               f"({informe.total.canceladas} canceladas sin agente de {informe.total.curp} "
               "que llegaron a la CURP)", "", "Abandonos (colgaron), por nodo:"]
    lineas += [f"  {etiqueta_nodo(n)}: {c}" for n, c in informe.abandonos] or ["  ninguno"]
    lineas += ["", "Transferencias, por razón y cómo terminaron:"]
    for razon, cuenta in informe.transferencias.items():
        detalle = ", ".join(f"{texto.lower()} {cuenta[clave]}"
                            for clave, texto in COMO_TERMINARON if cuenta[clave])
        lineas.append(f"  {etiqueta_razon(razon)}: {cuenta['total']} ({detalle})")
    if not informe.transferencias:
        lineas.append("  ninguna")
    lineas += ["", f"Duración: mediana {segundos(informe.duracion_mediana)}, p90 "
               f"{segundos(informe.duracion_p90)} ({informe.con_duracion} llamadas con duración)",
               "", "Entradas por nodo (teclas / voz / silencio; reintentos):"]
    for nodo, cuenta in informe.entradas.items():
        lineas.append(f"  {etiqueta_nodo(nodo)}: {cuenta['teclas']} / {cuenta['voz']} / "
                      f"{cuenta['silencio']}; {cuenta['reintentos']} reintentos")
    if not informe.entradas:
        lineas.append("  ninguna")
    return "\n".join(lineas) + "\n"


def embudo_svg(dia: Dia, ancho: int = 640) -> str:
    """The funnel as an inline SVG (drawn here, no script, no CDN): one bar per step, its width
    in proportion to the calls, with the count and the share of calls."""
    alto_barra, separacion, margen = 26, 8, 170
    alto = len(EMBUDO) * (alto_barra + separacion)
    partes = [f'<svg xmlns="http://www.w3.org/2000/svg" class="embudo" role="img" '
              f'width="{ancho}" height="{alto}" viewBox="0 0 {ancho} {alto}" '
              f'aria-label="Embudo de llamadas">']
    disponible = ancho - margen - 90
    for i, (campo, etiqueta) in enumerate(EMBUDO):
        valor = getattr(dia, campo)
        largo = round(disponible * valor / dia.llamadas) if dia.llamadas else 0
        y = i * (alto_barra + separacion)
        parte = porcentaje(valor / dia.llamadas if dia.llamadas else None)
        partes.append(
            f'<g><title>{escape(etiqueta)}: {valor} ({parte})</title>'
            f'<text x="{margen - 8}" y="{y + 18}" text-anchor="end">{escape(etiqueta)}</text>'
            f'<rect x="{margen}" y="{y}" width="{largo}" height="{alto_barra}" rx="3"/>'
            f'<text x="{margen + largo + 6}" y="{y + 18}">{valor} · {parte}</text></g>')
    partes.append("</svg>")
    return "".join(partes)
