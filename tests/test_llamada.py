"""Whole calls on the keypad, through signed webhooks and TwiML followed as Twilio does."""

import threading
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from ivr import db
from ivr.db import engine_for
from ivr.domain.deletreo import deletrear
from ivr.domain.folio import ALFABETO
from ivr.domain.keypad import a_teclas
from ivr.models import Cancelacion, Cita, Transferencia
from ivr.models import Llamada as LlamadaRegistro
from tests.llamadas import (
    GODINEZ,
    GOMEZ,
    HERNANDEZ,
    LOPEZ,
    NUNEZ,
    PEREZ,
    RUIZ,
    Llamada,
    hasta_curp,
)


def teclas(texto: str) -> str:
    return a_teclas(texto) + "#"


def identificar(llamada, persona, por="curp"):
    hasta_curp(llamada)
    documento = persona.curp if por == "curp" else persona.rfc
    llamada.press(teclas(documento))
    assert llamada.nodo == "apellido", llamada.dicho
    llamada.press(teclas(persona.primer_apellido))
    return llamada


def cita_de(app, clave):
    with app.app_context():
        return db.sesion().scalars(select(Cita).where(Cita.clave == clave)).one()


def cancelaciones(app):
    with app.app_context():
        return db.sesion().scalars(select(Cancelacion)).all()


def test_welcome_and_main_menu(llamar):
    llamada = llamar()
    assert llamada.dicho.startswith(
        "Línea ASISSSTE. Diga qué necesita, por ejemplo: cancelar mi cita. O para préstamos "
        "personales y sus citas, presione 5.")
    gather = llamada.xml().find("Gather")
    assert gather.get("action") == "https://ivr.example.test/voice/menu_principal"
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "es-MX"
    assert gather.get("numDigits") == "1"
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.find("Say").get("language") == "es-MX"


def test_full_keypad_cancellation_as_titular(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    assert llamada.nodo == "cita"
    # What the seed's web page shows, written to be said: "número 4", "tres de la tarde".
    assert llamada.dicho == (
        "Su cita: miércoles 2 de diciembre, a las tres de la tarde, en UAPES número 4, "
        "ventanilla dos, clave u, ce, tres, cu, ka, dos. ¿La cancela? Presione 1. Para oírla "
        "de nuevo, 2.")
    llamada.press("1")
    assert llamada.nodo == "solicitante"
    llamada.press("1")
    assert llamada.nodo == "motivo"
    assert llamada.dicho == (
        "¿Por qué la cancela? No puedo asistir en la fecha u horario, presione 2. Ya no "
        "necesito el préstamo, presione 1. No tengo completa la documentación, presione 3. "
        "Quiero agendar en otra fecha u oficina, presione 4. Otro motivo, presione 5.")
    llamada.press("2")
    assert llamada.nodo == "confirmacion"
    assert llamada.dicho == (
        "Motivo: No puedo asistir en la fecha u horario. ¿Confirma? Presione 1. Para cambiar el "
        "motivo, 2. Para no cancelar, 3.")
    llamada.press("1")
    [cancelacion] = cancelaciones(app)
    folio = cancelacion.folio
    assert len(folio) == 7 and set(folio) <= set(ALFABETO)
    # Said once, spelled with Mexican letter names; * says it again, silence ends the call.
    assert llamada.dicho == (f"Su cita quedó cancelada. Su folio es: {deletrear(folio)}. Para "
                             "repetirlo, presione asterisco.")
    assert llamada.nodo == "cancelada" and not llamada.tel.terminada
    llamada.press("*")
    assert llamada.dicho == (f"Su folio es: {deletrear(folio)}. Para repetirlo, presione "
                             "asterisco.")
    llamada.silence()
    assert llamada.dicho == ("Gracias por avisar; el espacio queda libre para otra persona. "
                             "Hasta luego.")
    assert llamada.tel.terminada and llamada.xml()[-1].tag == "Hangup"
    assert cancelacion.solicitante_tipo == "titular"
    assert (cancelacion.motivo_codigo, cancelacion.motivo_texto) == (
        2, "No puedo asistir en la fecha u horario")
    assert cancelacion.canal == "ivr" and cancelacion.call_sid == llamada.tel.call_sid
    assert cita_de(app, "UC3QK2").estado == "cancelada"


def test_the_confirmation_commits_once(app, llamar):
    # The cancellation and the call's record (the folio's node ends the line's part): one
    # transaction, one COMMIT.
    from sqlalchemy import event

    llamada = identificar(llamar(), GOMEZ).press("1").press("1").press("2")
    commits = []
    escuchar = lambda _conexion: commits.append(1)  # noqa: E731
    event.listen(db.engine_de(app), "commit", escuchar)
    try:
        llamada.press("1")
    finally:
        event.remove(db.engine_de(app), "commit", escuchar)
    assert "Su cita quedó cancelada." in llamada.dicho
    assert len(commits) == 1
    with app.app_context():
        registro = db.sesion().get(LlamadaRegistro, llamada.tel.call_sid)
        assert (registro.desenlace, registro.ultimo_nodo) == ("cancelada", "cancelada")


def test_cancellation_on_behalf_of_the_titular(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("1").press("2")
    assert llamada.nodo == "nombre_solicitante"
    assert llamada.xml().find("Gather").get("input") == "dtmf speech"
    llamada.press("5")  # a key is no name: asked again
    assert llamada.nodo == "nombre_solicitante"
    assert llamada.dicho.startswith("Esa opción no existe.")
    llamada.press("*")
    assert llamada.nodo == "nombre_solicitante" and "nombre completo" in llamada.dicho
    llamada.say("Rosa Gómez Ortiz")
    assert llamada.nodo == "motivo"
    llamada.press("1").press("1")
    [c] = cancelaciones(app)
    assert (c.solicitante_tipo, c.solicitante_nombre) == ("tercero", "Rosa Gómez Ortiz")


def test_zero_at_the_name_of_the_third_party_reaches_an_agent(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("1").press("2").press("0")
    assert llamada.tel.estado == "transferred"


def test_identified_by_rfc(app, llamar):
    llamada = identificar(llamar(), HERNANDEZ, por="rfc")
    assert llamada.nodo == "cita"
    assert ("viernes 4 de diciembre, a las once y cuarenta y cinco de la mañana, en UAPES "
            "número 7, ventanilla cinco, clave") in llamada.dicho


def test_keypad_twins_are_told_apart_by_surname(app, llamar):
    assert a_teclas(GOMEZ.curp) == a_teclas(GODINEZ.curp)
    llamada = identificar(llamar(), GODINEZ)
    assert "jueves 3 de diciembre" in llamada.dicho


def test_two_citas_listed_in_date_order(app, llamar):
    llamada = identificar(llamar(), RUIZ)
    assert llamada.nodo == "citas"
    assert llamada.dicho == (
        "Tiene 2 citas agendadas. Para la del lunes 30 de noviembre a las diez y media de la "
        "mañana, presione 1. Para la del miércoles 9 de diciembre a la una de la tarde, "
        "presione 2.")
    llamada.press("3")
    assert llamada.dicho.startswith("Esa opción no existe.")
    llamada.press("2")
    assert llamada.nodo == "cita" and "miércoles 9 de diciembre" in llamada.dicho
    llamada.press("1").press("1").press("4").press("1")
    assert cita_de(app, "RZ8C2B").estado == "cancelada"
    assert cita_de(app, "RZ2D7F").estado == "agendada"


def test_past_or_started_citas_are_never_offered(app, llamar):
    llamada = identificar(llamar(), PEREZ)
    assert llamada.nodo == "sin_cita"
    assert llamada.dicho == ("No tiene citas agendadas que se puedan cancelar. Para hablar con "
                             "un agente presione 0. Para terminar la llamada presione 1.")
    llamada.press("1")
    assert llamada.tel.terminada and "Hasta luego" in llamada.dicho


def test_a_cita_under_36_hours_cancels_with_the_reminder(app, llamar):
    llamada = identificar(llamar(), NUNEZ)
    assert "miércoles 25 de noviembre" in llamada.dicho
    assert "con 36 horas de anticipación" in llamada.dicho
    llamada.press("1").press("1").press("5").press("1")
    assert cita_de(app, "NZ5W2Q").estado == "cancelada"


def test_no_reminder_when_far_away(llamar):
    llamada = identificar(llamar(), GOMEZ)
    assert "36 horas" not in llamada.dicho


def test_nothing_to_cancel_says_the_last_folio(app, llamar):
    primera = identificar(llamar(), LOPEZ)
    primera.press("1").press("1").press("1").press("1")
    [c] = cancelaciones(app)
    segunda = identificar(llamar(), LOPEZ)
    assert segunda.nodo == "sin_cita"
    assert "Su última cita fue cancelada, con el folio" in segunda.dicho
    segunda.press("0")
    assert segunda.tel.estado == "transferred"
    assert c.folio


def test_wrong_surname_three_times_goes_to_an_agent(app, llamar):
    llamada = hasta_curp(llamar())
    llamada.press(teclas(GOMEZ.curp))
    for _ in range(2):
        llamada.press(teclas("Hernandez"))
        assert llamada.nodo == "apellido"
        assert llamada.dicho.startswith("El apellido no coincide con nuestro registro.")
        assert "miércoles" not in llamada.dicho  # nothing about the cita before identity
    llamada.press(teclas("Hernandez"))
    assert llamada.tel.estado == "transferred"
    assert "Le comunico con un agente" in llamada.dicho
    with app.app_context():
        t = db.sesion().scalars(select(Transferencia)).one()
        assert (t.razon, t.nodo, t.identificado) == ("identificacion_fallida", "apellido", False)


def test_unknown_curp_is_asked_again(llamar):
    llamada = hasta_curp(llamar())
    llamada.press(teclas("ZAZA800101HDFXXX09"))
    assert llamada.nodo == "curp"
    assert llamada.dicho.startswith("No encontramos esa CURP o RFC.")


def test_wrong_length_entry_is_a_retry(llamar):
    llamada = hasta_curp(llamar())
    llamada.press("12345#")
    assert llamada.nodo == "curp"
    assert llamada.dicho.startswith("Marcó 5 teclas. La CURP lleva 18 y el RFC 13.")
    llamada.press(teclas(GOMEZ.curp)[:17] + "#")  # one key short
    assert llamada.dicho.startswith("Marcó 17 teclas. La CURP lleva 18 y el RFC 13.")
    assert "Por ejemplo, si su CURP empieza con G O M A" in llamada.dicho


def test_zero_goes_to_an_agent_with_a_whisper(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("0")
    assert llamada.tel.estado == "transferred"
    dial = llamada.xml().find("Dial")
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("action") == "https://ivr.example.test/voice/agente"
    numero = dial.find("Number")
    assert numero.text == "+525540001000"
    assert numero.get("url").startswith(
        f"https://ivr.example.test/voice/susurro?call={llamada.tel.call_sid}&t=")


def test_silence_three_times_goes_to_an_agent(llamar):
    llamada = llamar()
    llamada.silence()
    assert llamada.dicho.startswith("No le escuché.")
    llamada.silence()
    assert llamada.dicho.startswith("Puede marcar una tecla o decir lo que necesita.")
    llamada.silence()
    assert llamada.tel.estado == "transferred"


def test_out_of_hours_the_caller_hears_hours_and_the_web(app, llamar):
    app.config["RELOJ"] = lambda: __import__("tests.llamadas").llamadas.mexico(22)
    llamada = llamar()
    llamada.press("0")
    assert "no hay agentes disponibles" in llamada.dicho
    assert "asisste punto issste punto gob punto mx" in llamada.dicho
    assert llamada.xml().find("Dial") is None
    assert llamada.nodo == "devolucion_oferta"  # a callback is offered; 2 ends the call
    llamada.press("2")
    assert llamada.tel.terminada and llamada.tel.estado == "completed"


def test_declining_changes_nothing(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("1").press("1").press("1").press("3")
    assert llamada.tel.terminada
    assert "No cancelamos su cita; sigue agendada." in llamada.dicho
    assert cancelaciones(app) == []
    assert cita_de(app, "UC3QK2").estado == "agendada"


def test_change_motivo_at_confirmation(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("1").press("1").press("1").press("2")
    assert llamada.nodo == "motivo"
    llamada.press("3").press("1")
    [c] = cancelaciones(app)
    assert c.motivo_codigo == 3


def test_star_repeats_and_cita_option_2_reads_again(llamar):
    llamada = identificar(llamar(), GOMEZ)
    primera = llamada.dicho
    llamada.press("2")
    assert llamada.dicho == primera
    llamada.press("*")
    assert llamada.dicho == primera


def test_forged_or_missing_signature_is_refused_and_nothing_is_written(app):
    cliente = app.test_client()
    form = {"CallSid": "CA" + "f" * 32, "From": "+5255", "Digits": "5"}
    r = cliente.post("/voice/incoming", data=form, base_url="https://ivr.example.test")
    assert r.status_code == 403
    r = cliente.post("/voice/incoming", data=form, base_url="https://ivr.example.test",
                     headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert r.status_code == 403
    with app.app_context():
        assert app.extensions["ivr_store"].get(form["CallSid"]) is None


def test_repeated_confirmation_webhook_returns_the_same_folio(app, llamar):
    # Twilio retries a webhook while the call is still up (no status callback yet).
    llamada = identificar(llamar(ruta_estado=None), GOMEZ)
    llamada.press("1").press("1").press("1")
    llamada.press("1")
    cuerpo = llamada.tel.ultima_respuesta[2]
    assert "Su cita quedó cancelada." in llamada.dicho
    # The same Gather result posted again: same answer, same folio, one cancellation.
    otra = llamada.tel.reenviar()
    assert otra[0] == 200 and otra[2] == cuerpo
    assert len(cancelaciones(app)) == 1


def test_a_repeated_or_stale_webhook_hears_the_last_answer_byte_for_byte(app, llamar):
    # The cita's read-back is filled in for this caller (date, place, clave): kept compact in
    # the state, it is written again the same, for a repeat and for the fallback URL.
    llamada = identificar(llamar(ruta_estado=None), GOMEZ)
    assert llamada.nodo == "cita"
    cuerpo = llamada.tel.ultima_respuesta[2]
    assert "Su cita" in cuerpo
    assert llamada.tel.reenviar()[2] == cuerpo
    r = _firmado(app, "/voice/fallback", {"CallSid": llamada.tel.call_sid,
                                          "From": "+525511112222", "ErrorCode": "11200"})
    assert r.get_data(as_text=True) == cuerpo
    # A stale webhook (an earlier node's) gets the same, and the call goes on from there.
    r = _firmado(app, "/voice/curp", {"CallSid": llamada.tel.call_sid, "Digits": "1"})
    assert r.get_data(as_text=True) == cuerpo
    llamada.press("1").press("1").press("1").press("1")
    assert "Su cita quedó cancelada." in llamada.dicho


def test_a_state_saved_with_its_twiml_by_the_previous_version_is_still_answered(app, llamar):
    # A deploy in the middle of a call: the state the previous version saved kept the TwiML.
    llamada = identificar(llamar(ruta_estado=None), GOMEZ)
    sid = llamada.tel.call_sid
    with app.app_context():
        store = app.extensions["ivr_store"]
        estado = store.get(sid)
        cuerpo = llamada.tel.ultima_respuesta[2]
        assert estado.previo != cuerpo
        estado.previo = cuerpo
        store.save(sid, estado)
    assert llamada.tel.reenviar()[2] == cuerpo
    llamada.press("1").press("1").press("1").press("1")
    assert "Su cita quedó cancelada." in llamada.dicho


def test_a_webhook_repeated_after_the_call_ended_hangs_up_and_redoes_nothing(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("1").press("1").press("1").press("1").silence()
    assert llamada.tel.colgada
    sid = llamada.tel.call_sid
    otra = llamada.tel.reenviar()
    assert otra[0] == 200 and "<Hangup" in otra[2] and "Gather" not in otra[2]
    assert len(cancelaciones(app)) == 1
    assert app.extensions["ivr_store"].get(sid) is None


def test_two_calls_racing_on_the_same_cita_cancel_once(app):
    """Two real threads confirm the same cita at once: one folio, the other hears it was taken."""
    llamadas = [identificar(Llamada(app, desde=f"+52551111000{i}"), GOMEZ) for i in range(2)]
    for llamada in llamadas:
        llamada.press("1").press("1").press("1")
        assert llamada.nodo == "confirmacion"
    barrera = threading.Barrier(2)
    errores = []

    def confirmar(llamada):
        try:
            barrera.wait(timeout=10)
            llamada.press("1")
        except Exception as e:  # noqa: BLE001 - reported below
            errores.append(e)

    hilos = [threading.Thread(target=confirmar, args=(ll,)) for ll in llamadas]
    for h in hilos:
        h.start()
    for h in hilos:
        h.join(timeout=30)
    assert errores == []
    dichos = sorted(ll.dicho for ll in llamadas)
    assert sum("Su cita quedó cancelada." in d for d in dichos) == 1
    assert sum("Esta cita ya había sido cancelada" in d for d in dichos) == 1
    [c] = cancelaciones(app)
    assert all(c.folio for c in [c])


def test_status_completed_records_the_call_and_drops_its_state(app, llamar):
    llamada = identificar(llamar(), GOMEZ)
    sid = llamada.tel.call_sid
    assert app.extensions["ivr_store"].get(sid) is not None
    llamada.tel.colgar()
    assert app.extensions["ivr_store"].get(sid) is None
    with app.app_context():
        registro = db.sesion().get(LlamadaRegistro, sid)
        assert registro.ultimo_nodo == "cita"
        assert registro.desenlace == "colgo_completed"
        assert registro.ruta[:4] == ["menu_principal", "menu_prestamos", "menu_citas", "curp"]
        assert db.sesion().scalar(select(func.count()).select_from(LlamadaRegistro)) == 1


def test_dead_redis_gets_an_apology_and_an_agent_never_a_500(tmp_path):
    from tests.llamadas import nueva_app

    app = nueva_app(f"sqlite:///{tmp_path}/x.sqlite3", "memoria",
                    REDIS_URL="redis://127.0.0.1:1/0")
    llamada = Llamada(app)
    assert llamada.tel.ultima_respuesta[0] == 200
    assert llamada.dicho.startswith("Lo sentimos, tuvimos un problema con su llamada.")
    assert llamada.tel.estado == "transferred"
    ElementTree.fromstring(llamada.tel.ultima_respuesta[2])  # valid TwiML


def test_dead_database_mid_call_gets_an_apology_and_an_agent(tmp_path):
    from tests.llamadas import cargar_agenda, nueva_app

    app = nueva_app(f"sqlite:///{tmp_path}/x.sqlite3", "memoria")
    cargar_agenda(app)
    llamada = hasta_curp(Llamada(app))
    # The database goes away between two webhooks (an unreachable PostgreSQL).
    from sqlalchemy.orm import sessionmaker

    from ivr.db import EXTENSION, BaseDeDatos, engine_for

    muerta = engine_for("postgresql://nadie@127.0.0.1:1/nada")
    app.extensions[EXTENSION] = BaseDeDatos(muerta, sessionmaker(muerta))
    llamada.press(teclas(GOMEZ.curp))
    assert llamada.tel.error_de_aplicacion is None
    assert llamada.tel.ultima_respuesta[0] == 200
    assert llamada.dicho.startswith("Lo sentimos, tuvimos un problema con su llamada.")
    assert llamada.tel.estado == "transferred"


def _firmado(app, ruta, form):
    from twilio.request_validator import RequestValidator

    from tests.llamadas import BASE, TOKEN

    firma = RequestValidator(TOKEN).compute_signature(BASE + ruta, form)
    return app.test_client().post(ruta, data=form, base_url=BASE,
                                  headers={"X-Twilio-Signature": firma})


def test_fallback_for_a_lost_incoming_webhook_starts_the_call(app):
    r = _firmado(app, "/voice/fallback", {"CallSid": "CA" + "a" * 32, "ErrorCode": "11200",
                                          "From": "+525511112222"})
    assert r.status_code == 200 and r.content_type.startswith("text/xml")
    raiz = ElementTree.fromstring(r.data)
    assert raiz.find("Gather").get("action") == "https://ivr.example.test/voice/menu_principal"
    assert raiz.find("Gather/Say").text.startswith("Línea ASISSSTE.")  # the welcome


@pytest.mark.parametrize("persona", [GOMEZ])
def test_nothing_about_the_cita_before_identity(llamar, persona):
    llamada = hasta_curp(llamar())
    llamada.press(teclas(persona.curp))
    assert "diciembre" not in llamada.dicho and "UAPES" not in llamada.dicho


def test_the_folio_is_heard_even_if_the_last_state_cannot_be_saved(app, llamar):
    from ivr.store import StoreError

    class SinEscritura:
        """The store answers reads but fails writes (Redis out of memory, say)."""

        def __init__(self, real):
            self.real = real

        def get(self, sid):
            return self.real.get(sid)

        def save(self, sid, estado):
            raise StoreError("OOM command not allowed")

        def delete(self, sid):
            self.real.delete(sid)

    llamada = identificar(llamar(), GOMEZ).press("1").press("1").press("1")
    assert llamada.nodo == "confirmacion"
    app.extensions["ivr_store"] = SinEscritura(app.extensions["ivr_store"])
    llamada.press("1")
    assert "Su cita quedó cancelada. Su folio es" in llamada.dicho
    [c] = cancelaciones(app)
    assert deletrear(c.folio) in llamada.dicho


def test_a_wrong_key_at_the_cita_asks_again_without_the_read_back(llamar):
    llamada = identificar(llamar(), GOMEZ)
    llamada.press("9")
    assert llamada.dicho == "Esa opción no existe. ¿La cancela? Presione 1. Para oírla de nuevo, 2."
    llamada.press("2")  # asked for: the whole read-back again
    assert llamada.dicho.startswith("Su cita: miércoles 2 de diciembre, a las tres de la tarde")


def test_the_keypad_is_explained_on_request_and_on_the_second_retry(llamar):
    llamada = hasta_curp(llamar())
    assert llamada.dicho == ("Marque su CURP o RFC, cada letra con su tecla, y al final gato. "
                             "O dígala.")
    llamada.press("*")
    assert llamada.dicho.startswith("Por ejemplo, si su CURP empieza con G O M A, presione 4, 6,")
    llamada.silence()
    assert llamada.dicho == ("No le escuché. Marque su CURP o RFC, cada letra con su tecla, y al "
                             "final gato. O dígala.")


@pytest.mark.postgres
def test_a_connection_the_server_dropped_between_webhooks_is_replaced_unheard(postgres_url):
    # No ping before each checkout: the webhook that meets a dropped connection runs again on
    # a new one, and the caller hears the next question, not an apology.
    from tests.llamadas import cargar_agenda, nueva_app

    app = nueva_app(postgres_url, "memoria")
    cargar_agenda(app)
    llamada = identificar(Llamada(app), GOMEZ).press("1").press("1")
    assert llamada.nodo == "motivo"
    otra = engine_for(postgres_url)
    try:
        with otra.connect() as conexion:  # every connection of the app's pool, as a restart
            terminadas = conexion.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar()
    finally:
        otra.dispose()
    assert terminadas >= 1
    llamada.press("2")  # the confirmation reads the cita: the first query meets the dead link
    assert llamada.nodo == "confirmacion", llamada.dicho
    assert llamada.dicho.startswith("Motivo: No puedo asistir en la fecha u horario. ¿Confirma?")
    db.engine_de(app).dispose()


@pytest.mark.postgres
def test_the_status_callback_does_not_wait_for_the_disk(postgres_url):
    # The end of a call is committed without an fsync (synchronous_commit off for that
    # transaction only), in one round trip: the record's statement alone, no BEGIN, no SET
    # LOCAL, no COMMIT sent. The cancellation before it was committed durably.
    from sqlalchemy import event

    from tests.llamadas import cargar_agenda, nueva_app

    app = nueva_app(postgres_url, "memoria")
    cargar_agenda(app)
    llamada = identificar(Llamada(app), GOMEZ).press("1").press("1").press("2")
    sentencias = []
    event.listen(db.engine_de(app), "before_cursor_execute",
                 lambda _c, _cur, sql, params, *_: sentencias.append((sql, params)))
    llamada.press("1")  # confirm: the cancellation is committed durably
    assert "Su cita quedó cancelada." in llamada.dicho
    durables = len(sentencias)
    llamada.silence()  # no repeat of the folio: goodbye, and the status callback
    assert llamada.tel.colgada
    *_, (estado, params) = sentencias[durables:]  # the goodbye's record, then the status's
    assert not any("set_config" in s for s, _ in sentencias[:-1])
    assert estado.startswith("INSERT INTO llamada")
    assert "set_config(%(set_config_2)s::VARCHAR, %(set_config_3)s::VARCHAR, true)" in estado
    assert (params["set_config_2"], params["set_config_3"]) == ("synchronous_commit", "off")
    with db.engine_de(app).connect() as conexion:
        assert conexion.exec_driver_sql(
            "SELECT desenlace, terminada_en IS NOT NULL FROM llamada WHERE call_sid = %(s)s",
            {"s": llamada.tel.call_sid}).one() == ("cancelada", True)
    db.engine_de(app).dispose()


def test_a_step_without_sql_opens_no_session_and_commits_nothing(app, llamar, monkeypatch):
    # The welcome and the menus ask nothing of the agenda: their webhooks make no database
    # session (let alone a transaction or a COMMIT); the CURP's does.
    from sqlalchemy import event

    sesiones = []
    hacer = db.sesion

    def contar():
        sesiones.append(1)
        return hacer()

    monkeypatch.setattr(db, "sesion", contar)
    sentencias = []
    event.listen(db.engine_de(app), "before_cursor_execute",
                 lambda _c, _cur, sql, *_: sentencias.append(sql))
    event.listen(db.engine_de(app), "commit", lambda _c: sentencias.append("COMMIT"))
    event.listen(db.sessionmaker_de(app), "after_commit",
                 lambda _s: sentencias.append("commit de la sesión"))
    llamada = hasta_curp(llamar())
    assert (sesiones, sentencias) == ([], [])
    llamada.press(teclas(GOMEZ.curp))
    # The CURP's lookup: on PostgreSQL alone (autocommit), and the session, which began no
    # transaction, is not committed either; elsewhere in a transaction.
    assert sesiones and sentencias[0].startswith("SELECT derechohabiente.id")
    solo = db.engine_de(app).dialect.name == "postgresql"
    assert ("COMMIT" in sentencias) is not solo
    assert ("commit de la sesión" in sentencias) is not solo


def test_the_confirmation_knows_the_date_the_read_back_said_without_asking_the_agenda(app, llamar):
    # The read-back reads the cita; the confirmation's help says the same date from the call's
    # state: the motivo's webhook sends no SQL. The confirmation still checks the agenda.
    from sqlalchemy import event

    llamada = identificar(llamar(), GOMEZ)
    assert "miércoles 2 de diciembre" in llamada.dicho, llamada.dicho
    llamada.press("1").press("1")  # the cita is this one; the titular cancels
    sentencias = []
    event.listen(db.engine_de(app), "before_cursor_execute",
                 lambda _c, _cur, sql, *_: sentencias.append(sql))
    llamada.press("2")  # the motivo: the summary follows
    assert llamada.nodo == "confirmacion" and sentencias == []
    llamada.press("9").press("9")  # a second wrong key: the help, with the cita's date
    assert "Para cancelar su cita del miércoles 2 de diciembre" in llamada.dicho, llamada.dicho
    llamada.press("1")
    assert "Su cita quedó cancelada." in llamada.dicho
    # (On PostgreSQL the UPDATE is the first part of one statement with the record's INSERT.)
    assert any("UPDATE cita SET estado" in s for s in sentencias)


def test_after_the_folio_the_goodbye_sends_no_sql_and_the_record_is_whole(app, llamar):
    # The folio's step wrote the call's record; the goodbye (or * for the folio again)
    # changes none of it and sends no SQL. The status callback still writes the end, with
    # the whole path; 0 for an agent at the folio is a new outcome, and is written.
    from sqlalchemy import event

    llamada = identificar(llamar(), GOMEZ).press("1").press("1").press("2").press("1")
    assert "Su cita quedó cancelada." in llamada.dicho
    sentencias = []
    event.listen(db.engine_de(app), "before_cursor_execute",
                 lambda _c, _cur, sql, *_: sentencias.append(sql))
    event.listen(db.engine_de(app), "commit", lambda _c: sentencias.append("COMMIT"))
    llamada.press("*")  # the folio again
    assert llamada.dicho.startswith("Su folio es:"), llamada.dicho
    llamada.tel.silence()  # goodbye: Twilio hangs up and calls the status URL
    assert llamada.tel.colgada
    assert len(sentencias) in (1, 2) and sentencias[0].startswith("INSERT INTO llamada"), \
        sentencias  # the status callback's record alone (and its COMMIT, off PostgreSQL)
    with app.app_context():
        registro = db.sesion().scalars(
            select(LlamadaRegistro).where(LlamadaRegistro.call_sid == llamada.tel.call_sid)).one()
    assert registro.desenlace == "cancelada" and registro.terminada_en is not None
    assert registro.ruta[-1] == "cancelada" and registro.ultimo_nodo == "cancelada"


def test_an_agent_asked_for_at_the_folio_is_written(app, llamar):
    llamada = identificar(llamar(), GOMEZ).press("1").press("1").press("2").press("1")
    sentencias = []
    from sqlalchemy import event

    event.listen(db.engine_de(app), "before_cursor_execute",
                 lambda _c, _cur, sql, *_: sentencias.append(sql))
    llamada.press("0")
    assert any(s.startswith("INSERT INTO llamada") for s in sentencias), sentencias
