"""Spoken Mexican Spanish: IDs spelled aloud, surnames, yes/no, menus, motivos and names."""

from pathlib import Path

import pytest
import yaml
from stdnum.mx import curp as stdnum_curp

from ivr.domain.habla import (
    coincide_apellido,
    elegir_por_apellido,
    entender_documento,
    entender_motivo,
    entender_nombre,
    entender_opcion,
    entender_si_no,
    lecturas_documento,
)

CURP = "GOMA850123HDFRRN02"
CURP_X = "HEVL010304XMCRLSA8"
RFC = "GOMA850123AB1"


@pytest.mark.parametrize(
    ("texto", "documento"),
    [
        ("G O M A 8 5 0 1 2 3 H D F R R N 0 2", CURP),
        ("goma850123hdfrrn02".upper(), CURP),
        ("ge o eme a ochenta y cinco cero uno veintitrés hache de efe erre erre ene cero dos",
         CURP),
        ("Ge, o, eme de mamá, a. 85/01/23 hache de efe, erre, erre, ene, cero dos.", CURP),
        ("G O M A ocho cinco cero uno dos tres H D F R R N cero dos", CURP),
        ("mi curp es este… a ver G O M A 850123 H D F R R N 02 okay", CURP),
        ("ge de gato o de oso eme de mamá a de árbol 85 01 23 hache de hotel de de dedo efe de "
         "foca erre erre ene cero dos", CURP),
        ("ache e ve chica ele cero uno cero tres cero cuatro equis eme ce erre ele ese a ocho",
         CURP_X),
        ("H E be corta L 01 03 04 X M C R L S A 8", CURP_X),
        ("H E V de vaca L 01 03 04 X M C R L S A 8", CURP_X),
        ("H E be de vaca L 01 03 04 X M C R L S A 8", CURP_X),
        ("RFC: G O M A 85 01 23 A be grande 1", RFC),
        ("C E W I doble cero diez diez X N L R L L A 0", "CEWI001010XNLRLLA0"),
        ("ce e doble u i latina 00 10 10 equis ene ele erre ele ele a cero", "CEWI001010XNLRLLA0"),
        ("i be a i griega 91 09 09 M M S B R N 05", "IBAY910909MMSBRN05"),
        ("I B A Y 91 09 09 M M S B R N 05", "IBAY910909MMSBRN05"),
        ("ce a seta ese 77 07 07 M N L S ekis R 06", "CAZS770707MNLSXR06"),
    ],
)
def test_entender_documento(texto, documento):
    assert entender_documento(texto) == documento


def test_b_o_v_sin_calificar_deja_dos_lecturas_que_decide_el_registro():
    dicho = "mi erre efe ce es ge o eme a ochenta y cinco cero uno veintitrés a be uno"
    assert lecturas_documento(dicho) == {RFC, "GOMA850123AV1"}
    assert entender_documento(dicho) is None  # both could be somebody's
    assert entender_documento(dicho, {RFC}.__contains__) == RFC
    assert entender_documento(dicho, {RFC, "GOMA850123AV1"}.__contains__) is None
    assert entender_documento(dicho, set().__contains__) is None


@pytest.mark.parametrize(
    ("texto", "lecturas"),
    [
        # the year whole or its last two digits
        ("ge o eme a mil novecientos ochenta y cinco cero uno veintitrés hache de efe erre erre "
         "ene cero dos", {CURP}),
        # "y" is dropped or is the letter I; only one reading has 18 characters and validates
        ("a y o o setenta y cinco cero seis cero siete hache de efe erre ene ese cero uno",
         {"AIOO750607HDFRNS01"}),
        # a correction replaces as much as it says again, never more
        ("G O M A 85 01 23 H D F R R N 0 2 no perdón 0 3", set()),
        # both readings of V E B Y … L B R are valid CURPs
        ("V E B Y 95 06 30 H C H L B R 03", {"VEBY950630HCHLBR03", "VEVY950630HCHLVR03"}),
        # taken back with nothing said after it
        ("G O M A 85 01 23 H D F R R N 0 2, no", set()),
    ],
)
def test_lecturas_documento(texto, lecturas):
    assert lecturas_documento(texto) == lecturas


@pytest.mark.parametrize(
    "texto",
    [
        "",
        "no sé",
        "G O M A 8 5 0 1 2 3 H D F R R N 0 3",  # check digit
        "G O M A 8 5 0 1 2 3 H D F R R N 0",  # 17 characters
        "ge o eme a ochenta cinco cero uno veintitrés hache de efe erre erre ene cero dos",
        "G O M A 85 01 23 H D F R R N 0 2 no perdón 0 3",
        "be de casa a e zeta 02 02 02 H B S Z Z N A 2",  # the clarifier disagrees
        "doble be a e zeta 02 02 02 H B S Z Z N A 2",  # W or BB?
        "G O M A 85 01 23 A B",  # an RFC without its homoclave
        "G O M 85 01 23 A B 1",  # an RFC of a company (12): only personas físicas call
        "goma 850123 hdfrrn02",  # "goma" is a word, not four letters
    ],
)
def test_entender_documento_rechaza(texto):
    assert entender_documento(texto) is None


@pytest.mark.parametrize("posicion", range(18))
def test_una_letra_mal_oida_no_se_repara(posicion):
    """Whatever was misheard, the result is what was said, its b/v homophone or nothing,
    never a neighbour."""
    for otro in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXZ":
        if otro == CURP[posicion]:
            continue
        dicho = CURP[:posicion] + otro + CURP[posicion + 1:]
        homofono = CURP[:posicion] + {"B": "V", "V": "B"}.get(otro, otro) + CURP[posicion + 1:]
        assert entender_documento(" ".join(dicho)) in (None, dicho, homofono)


def test_sexo_x_con_digito_verificador():
    base = "BOXW310820XNERXN0"
    curp = base + stdnum_curp.calc_check_digit(base + "0")
    assert entender_documento(" ".join(curp)) == curp


@pytest.mark.parametrize(
    ("dicho", "registrado", "coincide"),
    [
        ("Gómez", "GOMEZ", True),
        ("Gomes", "Gómez", True),
        ("mi apellido es gómez", "Gómez", True),
        ("Bargas", "Vargas", True),
        ("Castiyo", "Castillo", True),
        ("Ernández", "Hernández", True),
        ("Jiménez", "Ximénez", True),
        ("Kintero", "Quintero", True),
        ("Cruz", "de la Cruz", True),
        ("del Río", "Río", True),
        ("Ruiz", "Ruíz", True),
        ("Gómez Hernández", "Gómez", True),
        ("G O M E Z", "Gómez", True),
        ("Hernández", "Gómez", False),
        ("Godínez", "Gómez", False),
        ("Fernández", "Hernández", False),
        ("Caro", "Carro", False),
        ("Hernández Gómez", "Gómez", False),
        ("Gómez, no, perdón, Hernández", "Gómez", False),
        ("", "Gómez", False),
        ("Gómez", "", False),
    ],
)
def test_coincide_apellido(dicho, registrado, coincide):
    assert coincide_apellido(dicho, registrado) is coincide


def test_elegir_por_apellido():
    assert elegir_por_apellido("Gomes", ["Hernández", "GÓMEZ", "Godínez", "Gómez"]) == [1, 3]
    assert elegir_por_apellido("Pérez", ["Gómez"]) == []


MOTIVOS = [
    {"codigo": 1, "texto": "Ya no necesito el préstamo", "palabras": ["ya no lo necesito"]},
    {"codigo": 2, "texto": "No puedo asistir en la fecha u horario", "palabras": ["no puedo ir"]},
    {"codigo": 3, "texto": "No tengo completa la documentación", "palabras": ["papeles"]},
    {"codigo": 4, "texto": "Quiero agendar en otra fecha u oficina", "palabras": ["otra fecha"]},
    {"codigo": 5, "texto": "Otro motivo", "palabras": ["otro motivo"]},
]


@pytest.mark.parametrize(
    ("texto", "esperado"),
    [
        ("ya no lo necesito", (1, "Ya no necesito el préstamo")),
        ("no puedo ir ese día", (2, "No puedo asistir en la fecha u horario")),
        ("me faltan papeles", (3, "No tengo completa la documentación")),
        ("quiero cambiar la fecha", (4, "Quiero agendar en otra fecha u oficina")),
        ("quiero ir a otra oficina", (4, "Quiero agendar en otra fecha u oficina")),
        ("el uno", (1, "Ya no necesito el préstamo")),
        ("la opción dos", (2, "No puedo asistir en la fecha u horario")),
        ("otro motivo", (5, "Otro motivo")),
        ("  Me voy a jubilar. ", (5, "Me voy a jubilar")),
        ("", (5, "Otro motivo")),
    ],
)
def test_entender_motivo(texto, esperado):
    assert entender_motivo(texto, MOTIVOS) == esperado


def test_entender_motivo_respeta_las_palabras_del_flujo():
    motivos = [*MOTIVOS[:2], {**MOTIVOS[2], "palabras": ["expediente clínico"]}, *MOTIVOS[3:]]
    assert entender_motivo("el expediente clínico", motivos)[0] == 3


def test_entender_motivo_con_los_motivos_del_flujo():
    flujo = yaml.safe_load(
        (Path(__file__).parents[1] / "flows" / "cancelacion.yaml").read_text(encoding="utf-8"))
    motivos = flujo["motivos"]
    assert entender_motivo("ya no lo necesito", motivos)[0] == 1
    assert entender_motivo("me faltan papeles", motivos)[0] == 3
    assert entender_motivo("mi perro se comió la INE y el talón", motivos)[0] == 3
    assert entender_motivo("me mudé de ciudad", motivos) == (5, "me mudé de ciudad")


@pytest.mark.parametrize(
    ("texto", "esperado"),
    [
        ("sí", True), ("si", True), ("Claro que sí.", True), ("confirmo", True),
        ("así es", True), ("sí, cancélela", True), ("no hay problema", True),
        ("no", False), ("mejor no", False), ("todavía no", False), ("no gracias", False),
        ("ya no quiero cancelar", False), ("no es correcto", False),
        ("no, sí quiero", None), ("no sé", None), ("", None), ("bueno", None),
    ],
)
def test_entender_si_no(texto, esperado):
    assert entender_si_no(texto) is esperado


MENU = {"1": ["cita médica"], "2": ["pensiones"],
        "5": ["préstamos", "préstamo personal", "cancelar"], "7": ["cancelar mi cita"]}
GLOBALES = {"0": ["agente", "hablar con una persona"], "*": ["repetir"]}


@pytest.mark.parametrize(
    ("texto", "opciones", "tecla"),
    [
        ("préstamos", MENU, "5"),
        ("Préstamo personal, por favor", MENU, "5"),
        ("cinco", MENU, "5"),
        ("la cinco", MENU, "5"),
        ("opción siete", MENU, "7"),
        ("el 5", MENU, "5"),
        ("5", MENU, "5"),
        ("cancelar mi cita", MENU, "7"),  # the longest phrase wins
        ("cita médica o préstamos", MENU, "1"),
        ("pensiones o préstamos", MENU, None),  # two keys, equally long
        ("seis", MENU, None),
        ("no quiero cancelar", MENU, None),
        ("hablar con una persona", GLOBALES, "0"),
        ("cero", GLOBALES, "0"),
        ("asterisco", GLOBALES, "*"),
        ("G O M A 8 5 0 1 2 3 H D F R R N 0 2", GLOBALES, None),
        ("cero dos", GLOBALES, None),
        ("", GLOBALES, None),
    ],
)
def test_entender_opcion(texto, opciones, tecla):
    assert entender_opcion(texto, opciones) == tecla


@pytest.mark.parametrize(
    ("texto", "nombre"),
    [
        ("se llama María de la Luz Pérez", "María de la Luz Pérez"),
        ("su nombre es juan hernández", "Juan Hernández"),
        ("Me llamo JOSÉ LÓPEZ, gracias", "José López"),
        ("Este, soy Ana María Ruiz del Valle", "Ana María Ruiz del Valle"),
        ("es Rosa Elena Gómez-Farías", "Rosa Elena Gómez-Farías"),
        ("Pedro", "Pedro"),
        ("mi nombre es Pedro Páramo y soy su hijo", "Pedro Páramo"),
        ("", None),
        ("123", None),
        ("no sé", None),
        ("...", None),
    ],
)
def test_entender_nombre(texto, nombre):
    assert entender_nombre(texto) == nombre
