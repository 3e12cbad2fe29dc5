"""Dates and times in Mexican Spanish."""

from datetime import date, time

import pytest

from ivr.domain.fechas import dia_y_fecha, hora, horario


@pytest.mark.parametrize(
    ("d", "texto"),
    [
        (date(2025, 12, 2), "martes 2 de diciembre"),
        (date(2026, 9, 5), "sábado 5 de septiembre"),
        (date(2026, 1, 1), "jueves 1 de enero"),
        (date(2026, 3, 18), "miércoles 18 de marzo"),
        (date(2026, 2, 22), "domingo 22 de febrero"),
    ],
)
def test_dia_y_fecha(d, texto):
    assert dia_y_fecha(d) == texto


@pytest.mark.parametrize(
    ("t", "texto"),
    [
        (time(15, 15), "3:15 de la tarde"),
        (time(9, 5), "9:05 de la mañana"),
        (time(11, 59), "11:59 de la mañana"),
        (time(12, 0), "12:00 de la tarde"),
        (time(13, 0), "1:00 de la tarde"),
        (time(19, 59), "7:59 de la tarde"),
        (time(20, 0), "8:00 de la noche"),
        (time(23, 30), "11:30 de la noche"),
        (time(0, 30), "12:30 de la mañana"),
    ],
)
def test_hora(t, texto):
    assert hora(t) == texto


@pytest.mark.parametrize(
    ("inicio", "fin", "texto"),
    [
        (time(15, 0), time(15, 15), "de las 3:00 a las 3:15 de la tarde"),
        (time(9, 0), time(9, 20), "de las 9:00 a las 9:20 de la mañana"),
        (time(13, 0), time(13, 30), "de la 1:00 a la 1:30 de la tarde"),
        (time(12, 45), time(13, 15), "de las 12:45 a la 1:15 de la tarde"),
        (time(11, 45), time(12, 15), "de las 11:45 de la mañana a las 12:15 de la tarde"),
        (time(11, 45), time(13, 0), "de las 11:45 de la mañana a la 1:00 de la tarde"),
        (time(19, 45), time(20, 15), "de las 7:45 de la tarde a las 8:15 de la noche"),
        (time(1, 0), time(1, 30), "de la 1:00 a la 1:30 de la mañana"),
    ],
)
def test_horario(inicio, fin, texto):
    assert horario(inicio, fin) == texto
