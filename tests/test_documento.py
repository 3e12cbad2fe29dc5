"""CURP and RFC validation, kind and masking."""

import pytest

from ivr.domain.documento import enmascarar, normalizar, tipo_documento, validar_curp, validar_rfc


@pytest.mark.parametrize(
    ("texto", "normal"),
    [
        (" goma850123hdfrrn02 ", "GOMA850123HDFRRN02"),
        ("GOMA-850123-HDF.RRN 02", "GOMA850123HDFRRN02"),
        ("goma\t850123", "GOMA850123"),
        ("muña", "MUÑA"),
        ("", ""),
    ],
)
def test_normalizar(texto, normal):
    assert normalizar(texto) == normal


@pytest.mark.parametrize(
    ("curp", "valida"),
    [
        ("GOMA850123HDFRRN02", True),
        ("goma850123hdfrrn02", True),
        ("GOMA-850123-HDFRRN02", True),
        ("PEGJ900515MJCRNS07", True),
        ("BOXW310820HNERXN09", True),
        # Sex X (no binario), issued by RENAPO since 2023; born 2001 (A in position 17).
        ("GOMA850123XDFRRN06", True),
        ("LOAM010203XMCPRRA1", True),
        ("GOMA850123XDFRRN02", False),  # check digit computed with H, not X
        ("GOMA850123HDFRRN06", False),  # check digit computed with X, not H
        ("GOMA850123HDFRRN03", False),
        ("GOMA850123YDFRRN02", False),
        ("GOMA851323HDFRRN02", False),  # month 13
        ("GOMA850123HXXRRN02", False),  # no such state
        ("GOMA850123HDFRRN0", False),
        ("GOMA850123HDFRRN021", False),
        ("GOMA850123", False),
        ("", False),
    ],
)
def test_validar_curp(curp, valida):
    assert validar_curp(curp) is valida


@pytest.mark.parametrize(
    ("rfc", "valido"),
    [
        ("GOMA850123AB3", True),
        ("GOMA850123AB9", True),  # wrong check digit, still accepted: format only
        ("goma-850123-ab3", True),
        ("MUÑA850123AB3", True),
        ("ABC850123AB0", True),  # persona moral
        ("A&C850123AB0", True),
        ("GOMA850123", False),  # without homoclave
        ("GOMA851323AB3", False),  # month 13
        ("GOMA850230AB3", False),  # 30 February
        ("GOM4850123AB3", False),
        ("GOMA850123AB", False),
        ("GOMA850123HDFRRN02", False),
        ("", False),
    ],
)
def test_validar_rfc(rfc, valido):
    assert validar_rfc(rfc) is valido


@pytest.mark.parametrize(
    ("texto", "tipo"),
    [
        ("GOMA850123HDFRRN02", "curp"),
        ("goma 850123 xdfrrn06", "curp"),
        ("GOMA850123AB3", "rfc"),
        ("ABC850123AB0", "rfc"),
        ("GOMA850123HDFRRN03", None),
        ("GOMA850123", None),
        ("hola", None),
        ("", None),
    ],
)
def test_tipo_documento(texto, tipo):
    assert tipo_documento(texto) == tipo


@pytest.mark.parametrize(
    ("doc", "mascara"),
    [
        ("GOMA850123HDFRRN02", "GOMA************02"),
        ("goma-850123-ab3", "GOMA*******B3"),
        ("ABC850123AB0", "ABC8******B0"),
        ("ABCDEFG", "ABCD*FG"),
        ("ABCDEF", "******"),
        ("", ""),
    ],
)
def test_enmascarar(doc, mascara):
    assert enmascarar(doc) == mascara
