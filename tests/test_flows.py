"""The flow files are valid, and the validator catches what would break a call."""

from pathlib import Path

import pytest
import yaml

from ivr import acciones, flows
from ivr.config import RAIZ
from ivr.prompts import Catalogo

FLUJO = RAIZ / "flows" / "cancelacion.yaml"


@pytest.fixture(scope="module")
def catalogo():
    return Catalogo.cargar(RAIZ / "audio_prompts", "es-MX")


def _datos():
    return yaml.safe_load(FLUJO.read_text("utf-8"))


def _problemas(datos, catalogo):
    flujo, problemas = flows.construir(datos)
    return problemas + flows.validar(flujo, catalogo.ids(), acciones.salidas_registradas())


def test_the_shipped_flow_is_valid(catalogo):
    flujo = flows.cargar(FLUJO, catalogo.ids(), acciones.salidas_registradas())
    assert flujo.inicio == "menu_principal"
    # SPEC §2 node ids, all present.
    assert set(flujo.nodos) == {
        "menu_principal", "menu_prestamos", "menu_citas", "curp", "apellido", "citas", "cita",
        "solicitante", "nombre_solicitante", "motivo", "confirmacion", "sin_cita", "cancelada",
        # The agents' part: dialling, the retry, the callback offer and its confirmation.
        "agente", "reintento", "devolucion_oferta", "devolucion",
    }
    assert flujo.tras_agente() == {"agente", "reintento", "devolucion_oferta", "devolucion"}
    # Announced most frequent first; the keys are the codes.
    assert [m["codigo"] for m in flujo.motivos] == [2, 1, 3, 4, 5]
    assert flujo.max_intentos == 3 and flujo.max_fallos_identidad == 3


def test_the_self_service_path_is_5_1_7(catalogo):
    flujo = flows.cargar(FLUJO, catalogo.ids(), acciones.salidas_registradas())
    assert flujo.nodos["menu_principal"].opciones["5"].destino.ir == "menu_prestamos"
    assert flujo.nodos["menu_prestamos"].opciones["1"].destino.ir == "menu_citas"
    assert flujo.nodos["menu_citas"].opciones["7"].destino.ir == "curp"


def test_every_gather_declares_speech_and_spanish(catalogo):
    flujo = flows.cargar(FLUJO, catalogo.ids(), acciones.salidas_registradas())
    for nodo in flujo.nodos.values():
        assert nodo.gather["language"] == "es-MX", nodo.id
        assert "speech" in nodo.gather["input"], nodo.id
        assert nodo.gather["action_on_empty_result"] is True, nodo.id
        assert nodo.gather["profanity_filter"] is False, nodo.id


def test_hints_fit_twilios_limits_and_any_provider(catalogo):
    # Twilio (warning 13330): at most 500 comma-separated entries of 100 characters; class
    # tokens ($...) depend on the provider Twilio picks, so none are used.
    flujo = flows.cargar(FLUJO, catalogo.ids(), acciones.salidas_registradas())
    for nodo in flujo.nodos.values():
        entradas = [h.strip() for h in nodo.gather.get("hints", "").split(",") if h.strip()]
        assert len(entradas) <= 500, nodo.id
        for h in entradas:
            assert len(h) <= 100 and "$" not in h, (nodo.id, h)
    assert "hints" not in flujo.nodos["apellido"].gather
    assert flujo.nodos["confirmacion"].no == "3"


def test_every_catalog_placeholder_is_well_formed(catalogo):
    for pid in catalogo.ids():
        texto = catalogo.textos[pid]
        assert texto.count("{") == texto.count("}"), pid


@pytest.mark.parametrize("cambio, esperado", [
    (lambda d: d["nodos"]["menu_citas"]["opciones"]["7"].update(ir="curpp"),
     "destino 'curpp' no existe"),
    (lambda d: d["nodos"]["curp"].update(prompt="no_existe"),
     "prompt 'no_existe' no está en el catálogo"),
    (lambda d: d["nodos"]["curp"].update(accion="magia"),
     "acción 'magia' no está registrada"),
    (lambda d: (d["nodos"]["menu_citas"]["opciones"].pop("7"),
                d["nodos"]["menu_principal"].pop("atajos"),
                d["nodos"]["menu_prestamos"].pop("atajos")),
     "nodo curp no se alcanza desde menu_principal"),
    (lambda d: d["nodos"]["menu_principal"].update(atajos={"nada": ["x"]}),
     "nodo menu_principal: destino 'nada' no existe"),
    (lambda d: d["nodos"]["cancelada"].pop("despedida"), "un nodo final necesita despedida"),
    (lambda d: d["nodos"]["curp"]["resultados"].pop("no_encontrado"),
     "la acción identificar_documento puede dar 'no_encontrado'"),
    (lambda d: d["nodos"]["curp"].pop("ayuda"), "falta ayuda"),
    (lambda d: d["nodos"]["curp"]["gather"].update(finish_on="#"),
     "atributo de Gather desconocido: finish_on"),
    (lambda d: d.update(inicio="menu"), "el nodo de inicio 'menu' no existe"),
    (lambda d: d["nodos"]["menu_principal"]["opciones"].update({"12": {"ir": "curp"}}),
     "una opción es una sola tecla"),
    (lambda d: d["nodos"]["confirmacion"].update(si="9"), "si/no apunta a la opción 9"),
    (lambda d: d["nodos"]["confirmacion"].update({False: "3"}),
     "la clave False no es texto; escríbala entre comillas"),
    (lambda d: d["nodos"]["curp"].update(promt="curp"), "clave desconocida: promt"),
    (lambda d: d["nodos"]["solicitante"]["opciones"]["1"]["guardar"].update(solicitante="x"),
     "la opción 1 guarda 'solicitante', que no es un campo del estado de la llamada"),
])
def test_the_validator_names_each_problem(catalogo, cambio, esperado):
    datos = _datos()
    cambio(datos)
    problemas = _problemas(datos, catalogo)
    assert any(esperado in p for p in problemas), problemas


def test_an_invalid_flow_file_stops_loading(tmp_path: Path, catalogo):
    datos = _datos()
    datos["nodos"]["apellido"]["resultados"]["una_cita"] = "nowhere"
    ruta = tmp_path / "malo.yaml"
    ruta.write_text(yaml.safe_dump(datos, allow_unicode=True), "utf-8")
    with pytest.raises(flows.FlujoInvalido) as e:
        flows.cargar(ruta, catalogo.ids(), acciones.salidas_registradas())
    assert "malo.yaml: nodo apellido: destino 'nowhere' no existe" in str(e.value)


def test_a_prompt_placeholder_is_filled_and_never_evaluated(catalogo):
    loc = catalogo.locucion("citas_cuantas", {"n": "{__class__}"})
    assert loc.texto == "Tiene {__class__} citas agendadas."
    with pytest.raises(KeyError):
        catalogo.locucion("citas_cuantas", {})


def test_a_recording_replaces_the_text_when_present(tmp_path: Path):
    (tmp_path / "es-MX").mkdir()
    (tmp_path / "es-MX.yaml").write_text("hola: 'Hola.'\nfecha: 'El {fecha}.'\n", "utf-8")
    (tmp_path / "es-MX" / "hola.mp3").write_bytes(b"ID3")
    (tmp_path / "es-MX" / "fecha.mp3").write_bytes(b"ID3")
    cat = Catalogo.cargar(tmp_path, "es-MX")
    assert cat.locucion("hola").grabacion == "hola.mp3"
    # A prompt with data can't be pre-recorded: its text is always spoken.
    assert cat.locucion("fecha", {"fecha": "lunes"}).grabacion is None


def test_agents_hear_every_node_and_reason_in_spanish(catalogo):
    from ivr import etiquetas

    flujo = flows.cargar(FLUJO, catalogo.ids(), acciones.salidas_registradas())
    razones = {"pidio_agente", "reintentos_agotados", "identificacion_fallida", "error_interno"}
    for nodo in flujo.nodos.values():
        assert nodo.id in etiquetas.NODOS, nodo.id
        razones.update(d.agente for d in flujo.destinos(nodo) if d.agente)
    assert razones <= set(etiquetas.RAZONES), razones - set(etiquetas.RAZONES)
