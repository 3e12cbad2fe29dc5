"""Whole calls made by voice only: every answer is a SpeechResult, as Twilio posts it.

The transcripts are written as a recogniser writes Mexican callers (see tests/corpus for the
parser's own labelled corpus)."""

import pytest
from sqlalchemy import select

from ivr import db
from ivr.models import Cita, Transferencia
from tests.llamadas import LOPEZ
from tests.test_llamada import cancelaciones

# GOMA850123HDFRRN02, RUPL900704MJCZRS09 and HEGJ700315QX4 as callers say them.
CURP_GOMEZ = ("mi curp es ge o eme a ochenta y cinco cero uno veintitrés hache de efe erre erre "
              "ene cero dos")
CURP_RUIZ = "R U P L 90 07 04 M J C Z R S 09"
RFC_HERNANDEZ = "este… hache e ge jota setenta cero tres quince cu equis cuatro"


def hasta_curp_por_voz(llamada):
    llamada.say("préstamos")
    assert llamada.nodo == "menu_prestamos", llamada.dicho
    llamada.say("citas")
    assert llamada.nodo == "menu_citas", llamada.dicho
    llamada.say("cancelar mi cita")
    assert llamada.nodo == "curp", llamada.dicho
    return llamada


def hasta_motivo_por_voz(llamada):
    """The whole way to the motivo question, by voice, as Gómez and titular."""
    hasta_curp_por_voz(llamada)
    llamada.say(CURP_GOMEZ)
    llamada.say("Gómez")
    llamada.say("cancelar")
    llamada.say("soy yo")
    assert llamada.nodo == "motivo", llamada.dicho
    return llamada


def test_a_whole_cancellation_by_voice(app, llamar):
    llamada = hasta_curp_por_voz(llamar())
    llamada.say(CURP_GOMEZ)
    assert llamada.nodo == "apellido", llamada.dicho
    llamada.say("Gomes")  # as the recogniser writes Gómez
    assert llamada.nodo == "cita", llamada.dicho
    assert "miércoles 2 de diciembre" in llamada.dicho
    llamada.say("sí, cancélela")
    assert llamada.nodo == "solicitante", llamada.dicho
    llamada.say("soy el titular")
    assert llamada.nodo == "motivo", llamada.dicho
    llamada.say("es que no puedo ir ese día")
    assert llamada.nodo == "confirmacion", llamada.dicho
    assert "No puedo asistir en la fecha u horario" in llamada.dicho
    llamada.say("sí, confirmo")
    assert "Su cita quedó cancelada." in llamada.dicho
    [c] = cancelaciones(app)
    assert (c.motivo_codigo, c.solicitante_tipo, c.canal) == (2, "titular", "ivr")
    assert c.call_sid == llamada.tel.call_sid


def test_on_behalf_of_someone_with_a_motivo_in_own_words(app, llamar):
    llamada = hasta_curp_por_voz(llamar())
    llamada.say(CURP_RUIZ)
    llamada.say("Ruíz")
    assert llamada.nodo == "citas", llamada.dicho
    llamada.say("la segunda")
    assert "miércoles 9 de diciembre" in llamada.dicho
    llamada.say("cancelar")
    llamada.say("llamo por mi mamá")
    assert llamada.nodo == "nombre_solicitante", llamada.dicho
    llamada.say("se llama Rosa María Pérez Ruiz")
    assert llamada.nodo == "motivo", llamada.dicho
    llamada.say("me voy a jubilar el mes que entra")
    assert "me voy a jubilar el mes que entra" in llamada.dicho.lower()
    llamada.say("claro que sí")
    assert "Su cita quedó cancelada." in llamada.dicho
    [c] = cancelaciones(app)
    assert c.solicitante_tipo == "tercero"
    assert c.solicitante_nombre == "Rosa María Pérez Ruiz"
    assert (c.motivo_codigo, c.motivo_texto) == (5, "me voy a jubilar el mes que entra")


def test_rfc_spoken_with_fillers(app, llamar):
    llamada = hasta_curp_por_voz(llamar())
    llamada.say(RFC_HERNANDEZ)
    assert llamada.nodo == "apellido", llamada.dicho
    llamada.say("Hernández")
    assert llamada.nodo == "cita", llamada.dicho


def test_saying_cancelar_mi_cita_skips_the_menus(app, llamar):
    llamada = llamar()
    llamada.say("quiero cancelar mi cita")
    assert llamada.nodo == "curp", llamada.dicho
    llamada.say(CURP_GOMEZ)
    llamada.say("Gómez")
    llamada.say("sí")  # ¿La cancela?
    assert llamada.nodo == "solicitante", llamada.dicho
    llamada.say("no")  # ¿Es usted el titular? No: on behalf of someone
    assert llamada.nodo == "nombre_solicitante", llamada.dicho


def test_b_or_v_is_settled_by_the_check_digit_and_the_registry(app, llamar):
    # "be" where López's CURP has a V: LOBM… fails the check digit, LOVM… is hers.
    assert LOPEZ.curp == "LOVM550101MDFPRR07"
    llamada = hasta_curp_por_voz(llamar())
    llamada.say("ele o be eme cincuenta y cinco cero uno cero uno eme de efe pe erre erre "
                "cero siete")
    assert llamada.nodo == "apellido", llamada.dicho


def test_an_rfc_heard_b_or_v_is_the_one_registered(app, llamar):
    # Gómez's RFC ends "A B 1"; heard "a ve uno", both readings have an RFC's format and
    # neither has a right check digit: only the registered one is kept, then the surname.
    llamada = hasta_curp_por_voz(llamar())
    llamada.say("mi RFC es G O M A 85 01 23 a ve 1")
    assert llamada.nodo == "apellido", llamada.dicho
    llamada.say("Gómez")
    assert llamada.nodo == "cita", llamada.dicho


def test_a_valid_reading_nobody_has_is_not_found(app, llamar):
    # Only one reading is valid (the year said whole), and nobody is registered with it.
    llamada = hasta_curp_por_voz(llamar())
    llamada.say("pe a eme jota dos mil tres cero ocho veintidós eme o ce erre erre ene a seis")
    assert llamada.nodo == "curp"
    assert llamada.dicho.startswith("No encontramos esa CURP o RFC."), llamada.dicho


def test_a_different_surname_never_passes(app, llamar):
    llamada = hasta_curp_por_voz(llamar())
    llamada.say(CURP_GOMEZ)
    llamada.say("Hernández")
    assert "El apellido no coincide" in llamada.dicho
    assert llamada.nodo == "apellido"
    assert "diciembre" not in llamada.dicho


def test_a_spelled_curp_that_does_not_validate_is_asked_again_then_keypad(app, llamar):
    llamada = hasta_curp_por_voz(llamar())
    # Last digit wrong: never "repaired" into a valid CURP.
    llamada.say(CURP_GOMEZ.replace("cero dos", "cero tres"))
    assert llamada.nodo == "curp"
    assert llamada.dicho.startswith("No le entendí.")
    llamada.say("no sé cuál es")
    assert llamada.nodo == "curp"
    assert "presione 4, 6, 6, 2" in llamada.dicho  # the second retry explains the keypad


def test_unknown_speech_is_a_no_match_like_a_wrong_key(app, llamar):
    llamada = llamar()
    llamada.say("quiero saber el clima")
    assert llamada.nodo == "menu_principal"
    assert llamada.dicho.startswith("No le entendí.")


def test_asking_for_a_person_by_voice_transfers(app, llamar):
    llamada = hasta_curp_por_voz(llamar())
    llamada.say("quiero hablar con una persona")
    assert llamada.tel.estado == "transferred"
    with app.app_context():
        t = db.sesion().scalars(select(Transferencia)).one()
    assert (t.razon, t.nodo) == ("pidio_agente", "curp")


def test_number_words_choose_menu_options(app, llamar):
    llamada = llamar()
    llamada.say("cinco")
    assert llamada.nodo == "menu_prestamos"
    llamada.say("la uno")
    assert llamada.nodo == "menu_citas"
    llamada.say("siete")
    assert llamada.nodo == "curp"


def test_declining_by_voice_changes_nothing(app, llamar):
    llamada = hasta_motivo_por_voz(llamar())
    llamada.say("ya no lo necesito")
    assert "Ya no necesito el préstamo" in llamada.dicho
    llamada.say("no, mejor no")
    assert cancelaciones(app) == []
    with app.app_context():
        assert db.sesion().scalars(select(Cita).where(Cita.clave == "UC3QK2")).one().estado \
            == "agendada"


def test_saying_de_nuevo_at_motivo_is_a_motivo_not_a_repeat(app, llamar):
    llamada = hasta_motivo_por_voz(llamar())
    llamada.say("quiero agendar de nuevo en otra fecha")
    assert llamada.nodo == "confirmacion", llamada.dicho
    assert "Quiero agendar en otra fecha u oficina" in llamada.dicho


@pytest.mark.parametrize("dicho", ["no", "no, gracias", "todavía no", "mejor no"])
def test_a_plain_no_at_confirmation_declines(app, llamar, dicho):
    llamada = hasta_motivo_por_voz(llamar())
    llamada.say("ya no lo necesito")
    llamada.say(dicho)
    assert llamada.tel.estado == "completed", llamada.dicho
    assert "No le entendí" not in llamada.dicho
    assert cancelaciones(app) == []
