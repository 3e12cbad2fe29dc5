"""Agent hours: parsing, opening at an instant, and how they are said."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ivr.domain.horario import Horario, Tramo, abierto, describir, feriado, parse_horario

MX = ZoneInfo("America/Mexico_City")
HABIL = "lun-vie 08:00-20:00; sab 09:00-14:00"


def _t(inicio: str, fin: str) -> Tramo:
    def minutos(texto):
        horas, mins = texto.split(":")
        return int(horas) * 60 + int(mins)
    return Tramo(minutos(inicio), minutos(fin))


@pytest.mark.parametrize(
    ("texto", "horario"),
    [
        ("24/7", Horario(siempre=True)),
        (" 24/7 ", Horario(siempre=True)),
        (HABIL, Horario(dias=(_t("8:00", "20:00"),) * 5 + (_t("9:00", "14:00"), None))),
        ("mié 9:00-14:00", Horario(dias=(None, None, _t("9:00", "14:00")) + (None,) * 4)),
        ("LUN,MIE, vie 09:30-13:00",
         Horario(dias=(_t("9:30", "13:00"), None, _t("9:30", "13:00"), None,
                       _t("9:30", "13:00"), None, None))),
        ("sáb-dom 10:00-24:00; ", Horario(dias=(None,) * 5 + (_t("10:00", "24:00"),) * 2)),
        ("lunes-martes 8:00 - 9:00",
         Horario(dias=(_t("8:00", "9:00"),) * 2 + (None,) * 5)),
        ("lun-mar,jue 8:00-9:00",
         Horario(dias=(_t("8:00", "9:00"),) * 2 + (None, _t("8:00", "9:00")) + (None,) * 3)),
    ],
)
def test_parse_horario(texto, horario):
    assert parse_horario(texto) == horario


@pytest.mark.parametrize(
    ("texto", "mensaje"),
    [
        ("", "vacío"),
        (" ; ", "vacío"),
        ("24/5", "tramo inválido"),
        ("lun-vie", "tramo inválido"),
        ("08:00-20:00", "tramo inválido"),
        ("lun-vie 8-20", "tramo inválido"),
        ("lnu 08:00-20:00", "día desconocido"),
        ("vie-lun 08:00-20:00", "al revés"),
        ("lun,,mar 08:00-20:00", "incompleta"),
        ("lun 20:00-08:00", "posterior"),
        ("lun 08:00-08:00", "posterior"),
        ("lun 08:60-09:00", "hora inválida"),
        ("lun 25:00-26:00", "hora inválida"),
        ("lun 24:00-24:00", "hora inválida"),
        ("lun 08:00-24:30", "hora inválida"),
        ("lun-vie 08:00-20:00; vie 09:00-14:00", "viernes aparece dos veces"),
    ],
)
def test_parse_horario_rechaza(texto, mensaje):
    with pytest.raises(ValueError, match=mensaje):
        parse_horario(texto)


@pytest.mark.parametrize(
    ("d", "es_feriado"),
    [
        (date(2026, 1, 1), True),
        (date(2026, 2, 2), True),  # first Monday of February: Constitución
        (date(2026, 2, 5), False),  # the historical date, no longer the day off
        (date(2026, 3, 16), True),
        (date(2026, 5, 1), True),
        (date(2026, 9, 16), True),
        (date(2026, 11, 16), True),
        (date(2026, 11, 20), False),
        (date(2026, 12, 25), True),
        (date(2030, 10, 1), True),  # transmisión del Poder Ejecutivo
        (date(2026, 10, 1), False),
        (date(2026, 12, 12), False),
    ],
)
def test_feriado(d, es_feriado):
    assert feriado(d) is es_feriado


@pytest.mark.parametrize(
    ("cuando", "esta_abierto"),
    [
        (datetime(2026, 9, 15, 10, 0, tzinfo=MX), True),  # Tuesday
        (datetime(2026, 9, 16, 10, 0, tzinfo=MX), False),  # Independencia, Wednesday
        (datetime(2026, 12, 25, 10, 0, tzinfo=MX), False),  # Friday
        (datetime(2026, 2, 2, 10, 0, tzinfo=MX), False),  # Monday, Constitución
        (datetime(2026, 2, 3, 10, 0, tzinfo=MX), True),
        (datetime(2026, 9, 19, 10, 0, tzinfo=MX), True),  # Saturday
        (datetime(2026, 9, 19, 14, 0, tzinfo=MX), False),  # end is exclusive
        (datetime(2026, 9, 19, 13, 59, 59, tzinfo=MX), True),
        (datetime(2026, 9, 19, 8, 59, tzinfo=MX), False),
        (datetime(2026, 9, 20, 10, 0, tzinfo=MX), False),  # Sunday
        (datetime(2026, 9, 15, 8, 0, tzinfo=MX), True),  # start is inclusive
        (datetime(2026, 9, 15, 7, 59, tzinfo=MX), False),
        (datetime(2026, 9, 15, 20, 0, tzinfo=MX), False),
        # 15 Sep 2026 01:00 UTC is still Monday 14 Sep, 19:00 in Mexico City (UTC-6).
        (datetime(2026, 9, 15, 1, 0, tzinfo=UTC), True),
        (datetime(2026, 9, 15, 2, 0, tzinfo=UTC), False),
        # 17 Sep 2026 00:30 UTC is 16 Sep 18:30 local: Independencia, closed.
        (datetime(2026, 9, 17, 0, 30, tzinfo=UTC), False),
        # Mexico City has had no daylight saving time since 2022: UTC-6 all year.
        (datetime(2026, 9, 17, 14, 30, tzinfo=UTC), True),
        (datetime(2026, 9, 15, 9, 0, tzinfo=timezone(timedelta(hours=-5))), True),  # 8:00 MX
    ],
)
def test_abierto(cuando, esta_abierto):
    assert abierto(parse_horario(HABIL), cuando) is esta_abierto


@pytest.mark.parametrize(
    "cuando",
    [
        datetime(2026, 9, 16, 10, 0, tzinfo=MX),
        datetime(2026, 12, 25, 3, 0, tzinfo=MX),
        datetime(2026, 9, 20, 23, 59, tzinfo=UTC),
    ],
)
def test_abierto_24_7_incluso_en_feriados(cuando):
    assert abierto(parse_horario("24/7"), cuando) is True


@pytest.mark.parametrize("texto", ["24/7", HABIL])
def test_abierto_rechaza_fecha_sin_zona(texto):
    with pytest.raises(ValueError, match="zona horaria"):
        abierto(parse_horario(texto), datetime(2026, 9, 15, 10, 0))


def test_abierto_hasta_la_medianoche():
    h = parse_horario("sab 20:00-24:00")
    assert abierto(h, datetime.combine(date(2026, 9, 19), time(23, 59), MX)) is True
    assert abierto(h, datetime.combine(date(2026, 9, 20), time(0, 0), MX)) is False


@pytest.mark.parametrize(
    ("texto", "dicho"),
    [
        ("24/7", "las 24 horas, todos los días"),
        (HABIL, "de lunes a viernes de 8:00 a 20:00 horas, y los sábados de 9:00 a 14:00 "
                "horas, excepto días festivos"),
        ("lun-dom 08:00-20:00", "todos los días de 8:00 a 20:00 horas, excepto días festivos"),
        ("lun,mie,vie 09:30-14:00",
         "los lunes, miércoles y viernes de 9:30 a 14:00 horas, excepto días festivos"),
        ("sab-dom 10:00-13:00", "los sábados y domingos de 10:00 a 13:00 horas, "
                                "excepto días festivos"),
        ("lun 8:00-14:00; mar 9:00-15:00; mie 8:00-14:00",
         "los lunes y miércoles de 8:00 a 14:00 horas, y los martes de 9:00 a 15:00 horas, "
         "excepto días festivos"),
        ("lun-jue 8:00-16:00; vie 8:00-14:00; sab 9:00-13:00",
         "de lunes a jueves de 8:00 a 16:00 horas, los viernes de 8:00 a 14:00 horas, "
         "y los sábados de 9:00 a 13:00 horas, excepto días festivos"),
    ],
)
def test_describir(texto, dicho):
    assert describir(parse_horario(texto)) == dicho
