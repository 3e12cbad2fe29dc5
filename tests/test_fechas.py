"""Dates and times in Mexican Spanish."""

from datetime import date, time

import pytest

from ivr.domain.fechas import a_la_hora, dia_y_fecha, hora, horario


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
        (time(15, 15), "tres y cuarto de la tarde"),
        (time(9, 5), "nueve y cinco de la mañana"),
        (time(11, 59), "once y cincuenta y nueve de la mañana"),
        (time(12, 0), "doce del día"),
        (time(13, 0), "una de la tarde"),
        (time(19, 59), "siete y cincuenta y nueve de la tarde"),
        (time(20, 0), "ocho de la noche"),
        (time(23, 30), "once y media de la noche"),
        (time(0, 30), "doce y media de la mañana"),
    ],
)
def test_hora(t, texto):
    assert hora(t) == texto


@pytest.mark.parametrize(
    ("inicio", "fin", "texto"),
    [
        (time(15, 0), time(15, 15), "de las tres a las tres y cuarto de la tarde"),
        (time(9, 0), time(9, 20), "de las nueve a las nueve y veinte de la mañana"),
        (time(13, 0), time(13, 30), "de la una a la una y media de la tarde"),
        (time(12, 45), time(13, 15),
         "de las doce y cuarenta y cinco del día a la una y cuarto de la tarde"),
        (time(11, 45), time(12, 15),
         "de las once y cuarenta y cinco de la mañana a las doce y cuarto del día"),
        (time(11, 45), time(13, 0),
         "de las once y cuarenta y cinco de la mañana a la una de la tarde"),
        (time(19, 45), time(20, 15),
         "de las siete y cuarenta y cinco de la tarde a las ocho y cuarto de la noche"),
        (time(1, 0), time(1, 30), "de la una a la una y media de la mañana"),
    ],
)
def test_horario(inicio, fin, texto):
    assert horario(inicio, fin) == texto


@pytest.mark.parametrize(
    ("t", "texto"),
    [
        (time(10, 0), "a las diez de la mañana"),
        (time(13, 30), "a la una y media de la tarde"),
        (time(12, 0), "a las doce del día"),
    ],
)
def test_a_la_hora(t, texto):
    assert a_la_hora(t) == texto
