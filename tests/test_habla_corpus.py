"""The labelled speech corpus (tests/corpus): every case must pass, refusals above all."""

import pytest
import yaml

from ivr.domain import habla_reporte
from ivr.domain.documento import validar_curp, validar_rfc

CASOS = habla_reporte.casos()


def _id(caso):
    return f"{caso.archivo[:-5]}-{caso.categoria}-{caso.entrada[:40]}"


@pytest.mark.parametrize("caso", [c for c in CASOS if c.debe_rechazar], ids=_id)
def test_lo_que_debe_rechazarse_se_rechaza(caso):
    assert caso.obtenido == caso.esperado


@pytest.mark.parametrize("caso", [c for c in CASOS if not c.debe_rechazar], ids=_id)
def test_lo_que_debe_entenderse_se_entiende(caso):
    assert caso.obtenido == caso.esperado


def test_el_corpus_de_documentos_cumple_lo_que_pide_el_issue():
    documentos = [c for c in CASOS if c.archivo == "documentos.yaml"]
    assert len(documentos) >= 200
    assert sum(c.esperado is None for c in documentos) >= 40
    categorias = {c.categoria for c in documentos}
    assert {"mayusculas_espaciadas", "nombres_de_letras", "variantes", "aclaraciones",
            "numeros_en_palabras", "fechas_con_barras", "muletillas", "rfc", "sexo_x",
            "rechazo_digito_verificador", "rechazo_longitud", "rechazo_fecha_imposible",
            "rechazo_estado", "rechazo_no_respuesta"} <= categorias


def test_cada_documento_esperado_es_valido():
    for caso in CASOS:
        if caso.archivo == "documentos.yaml" and caso.esperado is not None:
            doc = caso.esperado
            assert validar_curp(doc) if len(doc) == 18 else validar_rfc(doc) and len(doc) == 13


def test_el_corpus_de_apellidos_tiene_muchos_que_no_deben_coincidir():
    apellidos = [c for c in CASOS if c.archivo == "apellidos.yaml"]
    assert sum(c.esperado is False for c in apellidos) >= 30


def test_reporte_cuenta_por_categoria():
    filas = habla_reporte.reporte()
    assert ("documentos.yaml", "rechazo_estado", 4, 4) in filas
    assert sum(total for _, _, total, _ in filas) == len(CASOS)


def test_main_imprime_la_tabla(capsys):
    assert habla_reporte.main([]) == 0
    salida = capsys.readouterr().out
    assert salida.splitlines()[0].split() == ["archivo", "categoría", "casos", "aciertos", "%"]
    assert "documentos.yaml  rechazo_estado                   4        4  100.0" in salida


def test_main_falla_si_se_acepta_lo_que_debe_rechazarse(tmp_path, capsys):
    (tmp_path / "documentos.yaml").write_text(yaml.safe_dump({"casos": [
        {"texto": "G O M A 8 5 0 1 2 3 H D F R R N 0 2", "esperado": None,
         "categoria": "rechazo_prueba"},
    ]}), encoding="utf-8")
    assert habla_reporte.main([str(tmp_path), "--fallos"]) == 1
    assert "FALLO documentos.yaml [rechazo_prueba]" in capsys.readouterr().out


def test_main_sin_corpus(tmp_path, capsys):
    assert habla_reporte.main([str(tmp_path)]) == 2


def test_los_menus_del_corpus_son_los_del_flujo():
    """The corpus copies the flow's menus; a change to the flow must show up here."""
    from ivr import acciones, flows
    from ivr.config import RAIZ
    from ivr.prompts import Catalogo

    catalogo = Catalogo.cargar(RAIZ / "audio_prompts", "es-MX")
    flujo = flows.cargar(RAIZ / "flows" / "cancelacion.yaml", catalogo.ids(),
                         acciones.salidas_registradas())
    menus = yaml.safe_load((RAIZ / "tests" / "corpus" / "opciones.yaml").read_text("utf-8"))
    for nombre, opciones in menus["menus"].items():
        copia = {str(k): list(v) for k, v in opciones.items()}
        if nombre == "globales":
            assert copia == {k: list(v) for k, v in flujo.globales.items()}
        elif nombre == "citas":  # what elegir_cita passes for the listed citas
            assert copia == {str(i): [o, f"la {o}"]
                             for i, o in enumerate(acciones.ORDINALES[:len(copia)], start=1)}
        else:
            nodo = flujo.nodos[nombre]
            assert copia == {**{t: list(o.palabras) for t, o in nodo.opciones.items()},
                             **{n: list(p) for n, p in nodo.atajos.items()}}, nombre
