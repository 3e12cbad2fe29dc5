"""Agent hours (the AGENT_HOURS syntax) in Mexico City time, closed on federal holidays."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ZONA = ZoneInfo("America/Mexico_City")

_ABREVIATURAS = ("lun", "mar", "mie", "jue", "vie", "sab", "dom")
_DIAS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_PLURALES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábados", "domingos")
_POR_NOMBRE = {
    **{abreviatura: i for i, abreviatura in enumerate(_ABREVIATURAS)},
    **{"".join(c for c in unicodedata.normalize("NFD", dia) if not unicodedata.combining(c)): i
       for i, dia in enumerate(_DIAS)},
}
_TRAMO = re.compile(r"(?P<dias>.*?)\s*(?P<desde>\d{1,2}:\d{2})\s*-\s*(?P<hasta>\d{1,2}:\d{2})")


@dataclass(frozen=True)
class Tramo:
    """Opening time of one day, in minutes after midnight; the end is exclusive."""

    inicio: int
    fin: int

    def __str__(self) -> str:
        return f"de {_reloj(self.inicio)} a {_reloj(self.fin)} horas"


@dataclass(frozen=True)
class Horario:
    """Agent hours: always open, or one Tramo (or None) per weekday, Monday first."""

    siempre: bool = False
    dias: tuple[Tramo | None, ...] = (None,) * 7


def _reloj(minutos: int) -> str:
    return f"{minutos // 60}:{minutos % 60:02d}"


def _minutos(texto: str, *, es_fin: bool) -> int:
    horas, minutos = (int(parte) for parte in texto.split(":"))
    # 24:00 lets a day run to midnight, since ranges may not cross it.
    if minutos > 59 or horas > 24 or (horas == 24 and (minutos or not es_fin)):
        raise ValueError(f"hora inválida en el horario de agentes: {texto!r}")
    return horas * 60 + minutos


def _dia(nombre: str) -> int:
    sin_acentos = "".join(c for c in unicodedata.normalize("NFD", nombre.lower())
                          if not unicodedata.combining(c))
    if sin_acentos not in _POR_NOMBRE:
        raise ValueError(f"día desconocido en el horario de agentes: {nombre!r} "
                         f"(use {', '.join(_ABREVIATURAS)})")
    return _POR_NOMBRE[sin_acentos]


def _dias(texto: str) -> list[int]:
    dias = []
    for elemento in texto.replace(" ", "").split(","):
        if not elemento:
            raise ValueError(f"lista de días incompleta en el horario de agentes: {texto!r}")
        desde, _, hasta = elemento.partition("-")
        primero = _dia(desde)
        ultimo = _dia(hasta) if hasta else primero
        if ultimo < primero:
            raise ValueError(f"rango de días al revés en el horario de agentes: {elemento!r} "
                             "(la semana va de lun a dom)")
        dias.extend(range(primero, ultimo + 1))
    return dias


def parse_horario(texto: str) -> Horario:
    """Parse "24/7" or e.g. "lun-vie 08:00-20:00; sab 09:00-14:00" into a Horario."""
    if texto.strip() == "24/7":
        return Horario(siempre=True)
    dias: list[Tramo | None] = [None] * 7
    segmentos = [s.strip() for s in texto.split(";") if s.strip()]
    if not segmentos:
        raise ValueError("horario de agentes vacío: use \"24/7\" o p. ej. "
                         "\"lun-vie 08:00-20:00; sab 09:00-14:00\"")
    for segmento in segmentos:
        partes = _TRAMO.fullmatch(segmento)
        if partes is None or not partes["dias"]:
            raise ValueError(f"tramo inválido en el horario de agentes: {segmento!r} "
                             "(forma: \"lun-vie 08:00-20:00\")")
        tramo = Tramo(_minutos(partes["desde"], es_fin=False),
                      _minutos(partes["hasta"], es_fin=True))
        if tramo.fin <= tramo.inicio:
            raise ValueError(f"la hora de fin debe ser posterior a la de inicio: {segmento!r}")
        for dia in _dias(partes["dias"]):
            if dias[dia] is not None:
                raise ValueError(f"el {_DIAS[dia]} aparece dos veces en el horario de agentes")
            dias[dia] = tramo
    return Horario(dias=tuple(dias))


@lru_cache(maxsize=16)
def _feriados(anio: int) -> holidays.HolidayBase:
    return holidays.country_holidays("MX", years=anio)


def feriado(d: date) -> bool:
    """Whether *d* is a Mexican federal holiday (descanso obligatorio)."""
    return d in _feriados(d.year)


def abierto(h: Horario, cuando: datetime) -> bool:
    """Whether agents attend at the aware instant *cuando*, judged in Mexico City."""
    if cuando.tzinfo is None or cuando.utcoffset() is None:
        raise ValueError("abierto() necesita una fecha y hora con zona horaria")
    if h.siempre:
        return True
    local = cuando.astimezone(ZONA)
    tramo = h.dias[local.weekday()]
    if tramo is None or feriado(local.date()):
        return False
    return tramo.inicio <= local.hour * 60 + local.minute < tramo.fin


def _corridas(dias: list[int]) -> list[list[int]]:
    corridas: list[list[int]] = []
    for dia in dias:
        if corridas and corridas[-1][-1] == dia - 1:
            corridas[-1].append(dia)
        else:
            corridas.append([dia])
    return corridas


def _enumerar(partes: list[str], final: str = " y ") -> str:
    return partes[0] if len(partes) == 1 else ", ".join(partes[:-1]) + final + partes[-1]


def _describir_dias(dias: list[int]) -> str:
    if len(dias) == 7:
        return "todos los días"
    partes = []
    sueltos: list[str] = []
    for corrida in _corridas(dias):
        if len(corrida) >= 3:
            if sueltos:
                partes.append("los " + _enumerar(sueltos))
                sueltos = []
            partes.append(f"de {_DIAS[corrida[0]]} a {_DIAS[corrida[-1]]}")
        else:
            sueltos.extend(_PLURALES[d] for d in corrida)
    if sueltos:
        partes.append("los " + _enumerar(sueltos))
    return _enumerar(partes)


def describir(h: Horario) -> str:
    """Say the agent hours to a caller, e.g. "de lunes a viernes de 8:00 a 20:00 horas"."""
    if h.siempre:
        return "las 24 horas, todos los días"
    por_tramo: dict[Tramo, list[int]] = {}
    for dia, tramo in enumerate(h.dias):
        if tramo is not None:
            por_tramo.setdefault(tramo, []).append(dia)
    if not por_tramo:
        return "sin horario de atención"
    grupos = [f"{_describir_dias(dias)} {tramo}" for tramo, dias in por_tramo.items()]
    return _enumerar(grupos, final=", y ") + ", excepto días festivos"
