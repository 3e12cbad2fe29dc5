"""The pure dialog step on a small flow with fake actions: retries, globals, destinations."""

import copy

import pytest

from ivr import dialog, flows
from ivr.dialog import Colgar, Decir, Entrada, Escuchar, Marcar, Resultado

FLUJO_DATOS = {
    "inicio": "menu",
    "max_intentos": 3,
    "max_fallos_identidad": 2,
    "gather": {"input": "dtmf speech", "language": "es-MX"},
    "globales": {"0": ["agente"], "*": ["repetir"]},
    "motivos": [{"codigo": 1, "texto": "Uno"}],
    "nodos": {
        "menu": {
            "tipo": "menu", "prompt": ["hola", "menu"], "repetir": "menu", "ayuda": "menu_ayuda",
            "gather": {"num_digits": 1},
            "opciones": {
                "1": {"ir": "dato", "guardar": {"solicitante_tipo": "titular"},
                      "palabras": ["dato"]},
                "2": {"mensaje": "info"},
                "3": {"agente": "area_3"},
                "4": {"fin": "adios"},
            },
        },
        "dato": {
            "tipo": "captura", "prompt": "dato", "ayuda": "dato_ayuda", "accion": "revisar",
            "al_entrar": "preparar",
            "resultados": {
                "bien": {"fin": "listo"},
                "no_esta": {"decir": "no_esta", "ir": "dato", "fallo_identidad": True},
                "mal": {"no_entendido": True},
            },
        },
        "agente": {
            "tipo": "transferencia", "prompt": "pasando", "accion": "marcado",
            "resultados": {
                "contesto": {"colgar": True, "desenlace": "transferida"},
                "fallo": {"decir": "nadie", "ir": "otra_vez"},
            },
        },
        "otra_vez": {
            "tipo": "menu", "prompt": "otra_vez", "ayuda": "otra_vez_ayuda",
            "agotado": {"fin": "adios", "desenlace": "sin_agente"},
            "opciones": {"1": {"ir": "agente"}, "2": {"fin": "adios", "desenlace": "sin_agente"}},
        },
    },
}


def _flujo():
    flujo, problemas = flows.construir(FLUJO_DATOS)
    assert problemas == []
    return flujo


def _acciones(respuestas):
    def revisar(estado, entrada, flujo):
        return respuestas[entrada.digitos]

    def preparar(estado, entrada, flujo):
        return Resultado(params={"x": "equis"})

    def marcado(estado, entrada, flujo):
        return Resultado("contesto" if entrada.marcacion == "completed" else "fallo")

    return {"revisar": revisar, "preparar": preparar, "marcado": marcado}


ACCIONES = _acciones({
    "11": Resultado("bien", params={"folio": "F"}),
    "22": Resultado("no_esta"),
    "33": Resultado("mal"),
})


def _inicio():
    estado = dialog.estado_inicial("CA1", "+5255")
    return dialog.iniciar(_flujo(), estado, ACCIONES)


def _paso(estado, **kw):
    return dialog.paso(_flujo(), estado, Entrada(**kw), ACCIONES)


def test_start_enters_the_first_node_with_its_prompts():
    estado, salida = _inicio()
    assert [d.prompt for d in salida.decir] == ["hola", "menu"]
    assert salida.fin == Escuchar("menu", {"input": "dtmf speech", "language": "es-MX",
                                           "num_digits": 1})
    assert estado.nodo == "menu" and estado.ruta == ["menu"]


def test_a_key_moves_on_remembers_and_runs_on_entry():
    estado, _ = _inicio()
    estado, salida = _paso(estado, digitos="1")
    assert estado.nodo == "dato" and estado.solicitante_tipo == "titular"
    assert salida.decir == (Decir("dato", {"x": "equis"}),)
    assert estado.ruta == ["menu", "dato"]


def test_retries_short_then_full_then_agent():
    estado, _ = _inicio()
    estado, s1 = _paso(estado)  # silence
    assert [d.prompt for d in s1.decir] == ["no_escuche", "menu"]
    estado, s2 = _paso(estado, digitos="9")  # wrong key: counts with the silence
    assert [d.prompt for d in s2.decir] == ["menu_ayuda"]
    estado, s3 = _paso(estado, digitos="9")
    assert s3.fin == Marcar("agente", "reintentos_agotados", {})
    assert [d.prompt for d in s3.decir] == ["pasando"]
    assert (estado.razon, estado.nodo_transferencia) == ("reintentos_agotados", "menu")


def test_a_wrong_key_is_an_option_that_does_not_exist():
    estado, _ = _inicio()
    _, salida = _paso(estado, digitos="8")
    assert [d.prompt for d in salida.decir] == ["opcion_no_existe", "menu"]


def test_speech_not_understood_says_so():
    estado, _ = _inicio()
    _, salida = _paso(estado, habla="el clima de mañana")
    assert [d.prompt for d in salida.decir] == ["no_entendi", "menu"]


@pytest.mark.parametrize("entrada", [{"digitos": "0"}, {"habla": "quiero un agente"}])
def test_zero_or_asking_for_an_agent_transfers_anywhere(entrada):
    estado, _ = _inicio()
    estado, _ = _paso(estado, digitos="1")
    estado, salida = _paso(estado, **entrada)
    assert salida.fin == Marcar("agente", "pidio_agente", {})
    assert estado.nodo_transferencia == "dato"


def test_star_repeats_and_a_valid_answer_starts_the_count_again():
    estado, _ = _inicio()
    estado, _ = _paso(estado)  # one failure
    estado, salida = _paso(estado, digitos="*")
    assert [d.prompt for d in salida.decir] == ["menu"]  # the repeat form, no welcome
    assert estado.intentos == 0
    estado, _ = _paso(estado, digitos="9")
    estado, salida = _paso(estado, digitos="9")
    assert isinstance(salida.fin, Escuchar)  # two failures since the repeat: no agent yet
    assert estado.intentos == 2


def test_a_message_option_says_it_and_asks_again():
    estado, _ = _inicio()
    estado, _ = _paso(estado)  # one failure, forgotten by the valid answer that follows
    estado, salida = _paso(estado, digitos="2")
    assert [d.prompt for d in salida.decir] == ["info", "menu"]
    assert isinstance(salida.fin, Escuchar) and estado.intentos == 0


def test_fin_and_agente_options():
    estado, _ = _inicio()
    _, salida = _paso(estado, digitos="4")
    assert salida.decir == (Decir("adios", {}),) and salida.fin == Colgar()
    _, salida = _paso(estado, digitos="3")
    assert salida.fin == Marcar("agente", "area_3", {})


def test_action_outcomes_map_to_destinations():
    estado, _ = _inicio()
    estado, _ = _paso(estado, digitos="1")
    _, salida = _paso(estado, digitos="11")
    assert salida.decir == (Decir("listo", {"x": "equis", "folio": "F"}),)
    assert salida.fin == Colgar()
    estado2, salida = _paso(estado, digitos="33")
    assert [d.prompt for d in salida.decir] == ["opcion_no_existe", "dato"]
    assert estado2.intentos == 1


def test_failed_identifications_add_up_across_the_call():
    estado, _ = _inicio()
    estado, _ = _paso(estado, digitos="1")
    estado, salida = _paso(estado, digitos="22")
    assert [d.prompt for d in salida.decir] == ["no_esta", "dato"]
    assert estado.fallos_identidad == 1 and estado.intentos == 0
    estado, salida = _paso(estado, digitos="22")
    assert salida.fin == Marcar("agente", "identificacion_fallida", {})
    assert [d.prompt for d in salida.decir] == ["no_esta", "pasando"]


def test_the_step_does_not_mutate_its_input_state():
    estado, _ = _inicio()
    copia = copy.deepcopy(estado)
    _paso(estado, digitos="1")
    assert estado == copia


# Every kind of step, walked from the start: after each one, the state it was given is as it was.
CAMINOS = [
    [{}, {"digitos": "9"}, {"digitos": "9"}],                    # retries up to the agents
    [{"digitos": "1"}, {"digitos": "22"}, {"digitos": "22"}],    # identity fails twice
    [{"digitos": "1"}, {"digitos": "33"}, {"digitos": "11"}],    # not understood, then done
    [{"digitos": "2"}, {"digitos": "*"}, {"habla": "dato"}],     # message, repeat, speech
    [{"digitos": "0"}, {"marcacion": "busy"}, {}, {}, {}],       # dial fails, offers run out
    [{"digitos": "0"}, {"marcacion": "no-answer"}, {"digitos": "1"},
     {"marcacion": "completed"}],
]


@pytest.mark.parametrize("camino", CAMINOS)
def test_no_step_mutates_its_input_state(camino):
    flujo = _flujo()
    estado, _ = _inicio()
    for entrada in camino:
        antes = copy.deepcopy(estado)
        nuevo, _ = dialog.paso(flujo, estado, Entrada(**entrada), ACCIONES)
        assert estado == antes
        estado = nuevo


def test_a_failed_dial_marks_the_earlier_answer_failed_on_the_copy_only():
    # A dial's result that is "not understood" marks the last answer (given at an earlier
    # node) failed: in place, so on the new state's own copy of it, never on the input's.
    datos = copy.deepcopy(FLUJO_DATOS)
    datos["nodos"]["agente"]["resultados"]["fallo"] = {"no_entendido": True}
    flujo, problemas = flows.construir(datos)
    assert problemas == []
    estado, _ = dialog.iniciar(flujo, dialog.estado_inicial("CA1"), ACCIONES)
    estado, _ = dialog.paso(flujo, estado, Entrada(digitos="0"), ACCIONES)
    antes = copy.deepcopy(estado)
    nuevo, _ = dialog.paso(flujo, estado, Entrada(marcacion="busy"), ACCIONES)
    assert nuevo.entradas[-1] == ["menu", "teclas", True]
    assert estado == antes and estado.entradas[-1] == ["menu", "teclas", False]


def test_how_the_dial_ended_is_the_transfer_nodes_input():
    estado, _ = _inicio()
    estado, salida = _paso(estado, digitos="0")
    assert (estado.nodo, estado.marcaciones, estado.desenlace) == ("agente", 1, "sin_agente")
    assert (estado.razon, estado.nodo_transferencia) == ("pidio_agente", "menu")
    answered, salida = _paso(estado, marcacion="completed")
    assert salida == dialog.Salida((), Colgar()) and answered.desenlace == "transferida"
    estado, salida = _paso(estado, marcacion="no-answer")
    assert [d.prompt for d in salida.decir] == ["nadie", "otra_vez"]
    assert estado.nodo == "otra_vez" and estado.desenlace == "sin_agente"
    # The retry dials again, and "0" there keeps why and where the call first left.
    estado, salida = _paso(estado, digitos="0")
    assert salida.fin == Marcar("agente", "pidio_agente", {}) and estado.marcaciones == 2
    assert estado.nodo_transferencia == "menu"


def test_exhausted_retries_follow_the_nodes_agotado_not_an_agent():
    estado, _ = _inicio()
    estado, _ = _paso(estado, digitos="0")
    estado, _ = _paso(estado, marcacion="busy")
    for _ in range(2):
        estado, salida = _paso(estado)
        assert isinstance(salida.fin, Escuchar)
    estado, salida = _paso(estado)
    assert salida == dialog.Salida((Decir("adios", {}),), Colgar())
    assert estado.desenlace == "sin_agente" and estado.marcaciones == 1
