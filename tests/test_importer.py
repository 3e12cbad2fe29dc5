"""The agenda in (SPEC §4) and out, and the demo agenda, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from ivr import cancelacion, db, demo, repo, repo_agenda, repo_outbox
from ivr.cancelacion import Destinos
from ivr.demo import con_digito
from ivr.domain.documento import validar_curp
from ivr.domain.keypad import a_teclas
from ivr.importer import COLUMNAS, import_citas_command, importar_csv
from ivr.models import MEXICO, Cancelacion, Cita, Derechohabiente, Unidad

ENCABEZADO = ",".join(COLUMNAS)
RAIZ = Path(__file__).resolve().parent.parent


GOMEZ = con_digito("GOMA850123HDFRRN0")
HERNANDEZ = con_digito("HEGJ700315HMCRRN0")
NUNEZ = con_digito("NUSM881122XDFXXR0")
MALA = GOMEZ[:17] + ("0" if GOMEZ[17] != "0" else "1")

FILAS = [
    f"{GOMEZ},GOMA850123AB1,Ana,Gómez,Ruiz,5512345678,UC3QK2,UAPES No. 4,02,2026-12-02,"
    "15:00,15:15,agendada",
    f"{GOMEZ},GOMA850123AB1,Ana,Gómez,Ruiz,5512345678,UC7HW4,UAPES No. 4,02,2026-12-09,"
    "09:30,09:45,agendada",
    f"{HERNANDEZ},,Juan,Hernández,,,HR4T9M,UAPES No. 7,05,2026-12-04,11:45,12:15,atendida",
    f"{NUNEZ},,Mar,Núñez,,,NZ5W2Q,UAPES No. 4,01,2026-11-25,09:00,09:15,cancelada",
]


def csv_de(*filas: str, encabezado: str = ENCABEZADO) -> str:
    return "\n".join([encabezado, *filas]) + "\n"


def importar(session, texto):
    return importar_csv(session, io.StringIO(texto))


def cuantas(session, modelo) -> int:
    return session.scalar(select(func.count()).select_from(modelo))


def test_carga_la_agenda(session):
    resultado = importar(session, csv_de(*FILAS))
    assert resultado.errores == []
    assert (resultado.creados, resultado.actualizados, resultado.derechohabientes_nuevos) == \
        (4, 0, 3)
    session.commit()
    gomez = session.scalars(select(Derechohabiente).where(Derechohabiente.curp == GOMEZ)).one()
    assert (gomez.rfc, gomez.nombre, gomez.primer_apellido, gomez.segundo_apellido,
            gomez.telefono) == ("GOMA850123AB1", "Ana", "Gómez", "Ruiz", "5512345678")
    assert (gomez.curp_teclas, gomez.rfc_teclas, gomez.apellido_teclas) == \
        (a_teclas(GOMEZ), "4662850123221", "46639")
    hernandez = session.scalars(select(Derechohabiente)
                                .where(Derechohabiente.curp == HERNANDEZ)).one()
    assert (hernandez.rfc, hernandez.rfc_teclas, hernandez.segundo_apellido,
            hernandez.telefono) == (None, None, None, None)
    assert sorted(session.scalars(select(Unidad.nombre))) == ["UAPES No. 4", "UAPES No. 7"]
    cita = session.scalars(select(Cita).where(Cita.clave == "HR4T9M")).one()
    assert (cita.derechohabiente_id, cita.ventanilla, cita.fecha, cita.hora_inicio,
            cita.hora_fin, cita.estado, cita.tramite) == \
        (hernandez.id, "05", date(2026, 12, 4), time(11, 45), time(12, 15), "atendida",
         "préstamo personal")


@pytest.mark.parametrize("como", ["bom", "crlf", "bytes", "ruta"])
def test_formas_de_entregar_el_archivo(session, tmp_path, como):
    texto = csv_de(*FILAS)
    if como == "bom":
        fuente = io.StringIO("\ufeff" + texto)
    elif como == "crlf":
        fuente = io.BytesIO(texto.replace("\n", "\r\n").encode())
    elif como == "bytes":
        fuente = io.BytesIO(("\ufeff" + texto).encode())
    else:
        ruta = tmp_path / "agenda.csv"
        ruta.write_bytes(("\ufeff" + texto).encode())
        fuente = str(ruta)
    resultado = importar_csv(session, fuente)
    assert (resultado.errores, resultado.creados) == ([], 4)


def test_reimportar_no_cambia_nada(session):
    importar(session, csv_de(*FILAS))
    session.commit()
    antes = [(c.id, c.clave, c.estado, c.derechohabiente_id) for c in
             session.scalars(select(Cita).order_by(Cita.id))]
    resultado = importar(session, csv_de(*FILAS))
    assert (resultado.errores, resultado.creados, resultado.actualizados, resultado.sin_cambios,
            resultado.derechohabientes_nuevos) == ([], 0, 0, 4, 0)
    session.commit()
    despues = [(c.id, c.clave, c.estado, c.derechohabiente_id) for c in
               session.scalars(select(Cita).order_by(Cita.id))]
    assert despues == antes
    assert (cuantas(session, Derechohabiente), cuantas(session, Unidad)) == (3, 2)


def test_reimportar_actualiza_lo_que_cambio(session):
    importar(session, csv_de(*FILAS))
    session.commit()
    cambiadas = [FILAS[0].replace("15:00,15:15", "16:00,16:15"),
                 FILAS[1].replace("Gómez", "Gómez-Ruiz"), *FILAS[2:]]
    cambiadas = [cambiadas[0].replace("Gómez", "Gómez-Ruiz"), *cambiadas[1:]]
    resultado = importar(session, csv_de(*cambiadas))
    assert (resultado.errores, resultado.actualizados, resultado.sin_cambios) == ([], 1, 3)
    session.commit()
    cita = session.scalars(select(Cita).where(Cita.clave == "UC3QK2")).one()
    assert cita.hora_inicio == time(16, 0)
    gomez = session.get(Derechohabiente, cita.derechohabiente_id)
    assert (gomez.primer_apellido, gomez.apellido_teclas) == ("Gómez-Ruiz", "466397849")


def test_no_revive_una_cita_cancelada_por_telefono(session):
    importar(session, csv_de(*FILAS))
    session.commit()
    cita = session.scalars(select(Cita).where(Cita.clave == "UC3QK2")).one()
    ahora = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    resultado = repo.cancelar_cita(session, cita.id, solicitante_tipo="titular",
                                   solicitante_nombre=None, motivo_codigo=1,
                                   motivo_texto="Ya no necesito el préstamo", canal="ivr",
                                   call_sid="CA1", ahora=ahora)
    session.commit()
    reimportado = importar(session, csv_de(*FILAS))
    assert (reimportado.errores, reimportado.actualizados) == ([], 0)
    session.commit()
    session.refresh(cita)
    assert cita.estado == "cancelada"
    assert session.scalars(select(Cancelacion.folio)).one() == resultado.folio


def test_una_cita_cancelada_en_el_origen_se_puede_reagendar(session):
    importar(session, csv_de(*FILAS))
    session.commit()
    resultado = importar(session, csv_de(*FILAS[:3], FILAS[3].replace("cancelada", "agendada")))
    assert (resultado.errores, resultado.actualizados) == ([], 1)
    assert session.scalars(select(Cita.estado).where(Cita.clave == "NZ5W2Q")).one() == "agendada"


def _fila(**cambios) -> str:
    valores = dict(zip(COLUMNAS, FILAS[2].split(","), strict=True))
    valores.update(cambios)
    return ",".join(valores[c] for c in COLUMNAS)


@pytest.mark.parametrize("cambios, motivo", [
    ({"curp": MALA}, "CURP inválida"),
    ({"curp": "GOMA850123HDF"}, "CURP inválida"),
    ({"curp": ""}, "falta curp"),
    ({"rfc": "GOMA85012"}, "RFC con formato inválido"),
    ({"nombre": ""}, "falta nombre"),
    ({"primer_apellido": ""}, "falta primer_apellido"),
    ({"primer_apellido": "Gómez2*"}, "primer_apellido con caracteres"),
    ({"clave": "uc3qk2"}, "clave inválida"),
    ({"clave": "UC3QK"}, "clave inválida"),
    ({"clave": "UC3-K2"}, "clave inválida"),
    ({"unidad": ""}, "falta unidad"),
    ({"ventanilla": ""}, "falta ventanilla"),
    ({"ventanilla": "9" * 41}, "ventanilla demasiado largo"),
    ({"fecha": "2026-02-30"}, "fecha inválida"),
    ({"fecha": "30/02/2026"}, "fecha inválida"),
    ({"fecha": "02/12/26"}, "fecha inválida"),
    ({"fecha": "12-02-2026"}, "fecha inválida"),
    ({"fecha": "2026/12/02"}, "fecha inválida"),
    ({"fecha": ""}, "falta fecha"),
    ({"hora_inicio": "9:0"}, "hora_inicio inválida"),
    ({"hora_inicio": "24:00"}, "hora_inicio inválida"),
    ({"hora_inicio": "11:45:60"}, "hora_inicio inválida"),
    ({"hora_inicio": "11.45"}, "hora_inicio inválida"),
    ({"hora_inicio": "111:45"}, "hora_inicio inválida"),
    ({"hora_fin": "11:45"}, "hora_fin debe ser posterior"),
    ({"hora_fin": "10:00"}, "hora_fin debe ser posterior"),
    ({"estado": "Agendado"}, "estado inválido"),
    ({"estado": ""}, "falta estado"),
])
def test_fila_invalida(session, cambios, motivo):
    resultado = importar(session, csv_de(FILAS[0], _fila(**cambios)))
    assert [linea for linea, _ in resultado.errores] == [3]
    assert resultado.errores[0][1].startswith(motivo)
    assert cuantas(session, Cita) == cuantas(session, Derechohabiente) == 0


def test_sexo_x_y_minusculas_en_la_curp(session):
    resultado = importar(session, csv_de(_fila(curp=NUNEZ.lower(), clave="NZ5W2Q")))
    assert resultado.errores == []
    assert session.scalars(select(Derechohabiente.curp)).one() == NUNEZ
    assert validar_curp(NUNEZ)


def test_todos_los_errores_con_su_linea_fisica(session):
    texto = csv_de(
        FILAS[0],                                              # 2
        "",                                                    # 3 (blank: ignored)
        _fila(nombre='"Juan\nCarlos"', clave="AAAAA1"),        # 4-5 (a quoted line break)
        _fila(clave="UC3QK2", estado="perdida"),               # 6
        _fila(nombre="Juanito", clave="BBBBB2"),               # 7
        "a,b,c",                                               # 8
    )
    resultado = importar(session, texto)
    assert resultado.errores == [
        (6, "estado inválido (perdida): debe ser agendada, cancelada, atendida"),
        (6, "la clave UC3QK2 ya aparece en la línea 2"),
        (6, f"la CURP {HERNANDEZ} aparece en la línea 4 con otro nombre o RFC"),
        (7, f"la CURP {HERNANDEZ} aparece en la línea 4 con otro nombre o RFC"),
        (8, "tiene 3 columnas, se esperaban 13"),
    ]
    assert cuantas(session, Cita) == 0


def test_clave_repetida(session):
    resultado = importar(session, csv_de(FILAS[0], FILAS[1].replace("UC7HW4", "UC3QK2")))
    assert resultado.errores == [(3, "la clave UC3QK2 ya aparece en la línea 2")]


@pytest.mark.parametrize("texto, error", [
    ("", (1, "el archivo está vacío")),
    ("\n\n", (1, "el archivo está vacío")),
    (ENCABEZADO + "\n", (1, "el archivo no tiene ninguna cita")),
    (ENCABEZADO.replace(",", ";") + "\n;;;\n", (1, "el archivo no tiene ninguna cita")),
])
def test_archivo_sin_citas(session, texto, error):
    assert importar(session, texto).errores == [error]


ESPERADAS = ("se esperan las columnas curp, rfc, nombre, primer_apellido, segundo_apellido, "
             "telefono, clave, unidad, ventanilla, fecha, hora_inicio, hora_fin, estado")


@pytest.mark.parametrize("encabezado, error", [
    (ENCABEZADO.replace("curp", "curps"),
     f"encabezado: faltan curp; no se esperaban curps (separador visto: «,»; {ESPERADAS})"),
    (ENCABEZADO + ",extra",
     f"encabezado: no se esperaban extra (separador visto: «,»; {ESPERADAS})"),
    (ENCABEZADO.replace(",telefono", "").replace(",rfc", ""),
     f"encabezado: faltan rfc, telefono (separador visto: «,»; {ESPERADAS})"),
    (ENCABEZADO.replace(",", ";").replace("Fecha", "Día").replace("fecha", "Día"),
     f"encabezado: faltan fecha; no se esperaban Día (separador visto: «;»; {ESPERADAS})"),
    (ENCABEZADO.replace("telefono", "curp"),
     f"encabezado: faltan telefono; no se esperaban curp (separador visto: «,»; {ESPERADAS})"),
    (ENCABEZADO.replace(",rfc,", ",,"),
     f"encabezado: faltan rfc; no se esperaban (vacía) (separador visto: «,»; {ESPERADAS})"),
    ("a;b;c", "encabezado: faltan curp, rfc, nombre, primer_apellido, segundo_apellido, "
     "telefono, clave, unidad, ventanilla, fecha, hora_inicio, hora_fin, estado; no se "
     f"esperaban a, b, c (separador visto: «;»; {ESPERADAS})"),
])
def test_encabezado_con_columnas_que_faltan_o_sobran(session, encabezado, error):
    assert importar(session, csv_de(FILAS[0], encabezado=encabezado)).errores == [(1, error)]


@pytest.mark.parametrize("encabezado", [
    "CURP,RFC,Nombre,Primer apellido,Segundo apellido,Teléfono,Clave,Unidad,Ventanilla,Fecha,"
    "Hora inicio,Hora fin,Estado",
    " curp , rfc ,NOMBRE,PRIMER_APELLIDO,Segundo_Apellido,TELÉFONO,clave,unidad,ventanilla,"
    "fecha,hora-inicio,hora fin,estado",
    "Curp,Rfc,Nombre,Primer Apellido,Segundo Apellido,Telefono,Clave,Unidad,Ventanilla,Fecha,"
    "HoraInicio,Hora_Fin,Estado,,,",
])
def test_encabezados_sin_importar_mayusculas_acentos_ni_espacios(session, encabezado):
    resultado = importar(session, csv_de(*FILAS, encabezado=encabezado))
    assert (resultado.errores, resultado.creados) == ([], 4)


def test_columnas_en_otro_orden(session):
    orden = list(reversed(COLUMNAS))
    filas = [",".join(reversed(f.split(","))) for f in FILAS]
    resultado = importar(session, csv_de(*filas, encabezado=",".join(orden)))
    assert (resultado.errores, resultado.creados) == ([], 4)
    cita = session.scalars(select(Cita).where(Cita.clave == "HR4T9M")).one()
    assert (cita.ventanilla, cita.fecha, cita.hora_inicio, cita.estado) == \
        ("05", date(2026, 12, 4), time(11, 45), "atendida")


# How Excel in es-MX saves the agenda ("CSV (delimitado por comas)"): Windows-1252, CRLF,
# dd/mm/aaaa, H:MM or HH:MM:SS, states as typed, headers as a person writes them.
EXCEL = [
    "CURP;RFC;Nombre;Primer apellido;Segundo apellido;Teléfono;Clave;Unidad;Ventanilla;Fecha;"
    "Hora inicio;Hora fin;Estado",
    f"{GOMEZ};GOMA850123AB1;Ana;Gómez;Ruiz;5512345678;UC3QK2;UAPES No. 4;02;02/12/2026;"
    "15:00;15:15:00;Agendada",
    f"{GOMEZ};GOMA850123AB1;Ana;Gómez;Ruiz;5512345678;UC7HW4;UAPES No. 4;02;9/12/2026;"
    "9:30;9:45;AGENDADA",
    f'{HERNANDEZ};;Juan;Hernández;;;HR4T9M;"UAPES No. 7; Toluca";05;04/12/2026;11:45;12:15;'
    "atendida",
    f"{NUNEZ};;Mar;Núñez;;;NZ5W2Q;UAPES No. 4;01;2026-11-25;09:00:00;09:15:00;Cancelada",
]


def _foto_agenda(session) -> list:
    return [(c.clave, d.curp, d.nombre, d.primer_apellido, d.segundo_apellido, d.telefono,
             u.nombre, c.ventanilla, c.fecha, c.hora_inicio, c.hora_fin, c.estado)
            for c, d, u in session.execute(
                select(Cita, Derechohabiente, Unidad)
                .join(Derechohabiente, Cita.derechohabiente_id == Derechohabiente.id)
                .join(Unidad, Cita.unidad_id == Unidad.id).order_by(Cita.clave))]


@pytest.mark.parametrize("codificacion", ["cp1252", "utf-8", "utf-8-sig"])
def test_csv_de_excel_en_es_mx(session, codificacion):
    contenido = "\r\n".join(EXCEL).encode(codificacion) + b"\r\n"
    resultado = importar_csv(session, io.BytesIO(contenido))
    assert (resultado.errores, resultado.creados, resultado.derechohabientes_nuevos) == \
        ([], 4, 3)
    assert (resultado.codificacion, resultado.separador) == \
        ("Windows-1252" if codificacion == "cp1252" else "UTF-8", ";")
    assert _foto_agenda(session) == [
        ("HR4T9M", HERNANDEZ, "Juan", "Hernández", None, None, "UAPES No. 7; Toluca", "05",
         date(2026, 12, 4), time(11, 45), time(12, 15), "atendida"),
        ("NZ5W2Q", NUNEZ, "Mar", "Núñez", None, None, "UAPES No. 4", "01",
         date(2026, 11, 25), time(9, 0), time(9, 15), "cancelada"),
        ("UC3QK2", GOMEZ, "Ana", "Gómez", "Ruiz", "5512345678", "UAPES No. 4", "02",
         date(2026, 12, 2), time(15, 0), time(15, 15), "agendada"),
        ("UC7HW4", GOMEZ, "Ana", "Gómez", "Ruiz", "5512345678", "UAPES No. 4", "02",
         date(2026, 12, 9), time(9, 30), time(9, 45), "agendada"),
    ]
    session.commit()
    otra_vez = importar_csv(session, io.BytesIO(contenido))
    assert (otra_vez.errores, otra_vez.creados, otra_vez.actualizados, otra_vez.sin_cambios) \
        == ([], 0, 0, 4)


def test_la_codificacion_se_decide_para_todo_el_archivo(session):
    # Only the last line has a non-ASCII byte: the lines before it are read the same way.
    lineas = [ENCABEZADO, *(_fila(clave=f"AAA{i:03d}", curp=HERNANDEZ) for i in range(50)),
              _fila(clave="ZZZ999", curp=HERNANDEZ).replace("UAPES No. 7", "UAPES Señal")]
    resultado = importar_csv(session, io.BytesIO("\n".join(lineas).encode("cp1252")))
    assert (resultado.errores, resultado.codificacion, resultado.creados) == \
        ([], "Windows-1252", 51)
    assert sorted(session.scalars(select(Unidad.nombre))) == ["UAPES No. 7", "UAPES Señal"]
    # And UTF-8 is never read as Windows-1252 ("Núñez", not "NÃºÃ±ez").
    assert session.scalars(select(Derechohabiente.primer_apellido)).one() == "Hernández"


@pytest.mark.parametrize("contenido, error", [
    (csv_de(FILAS[0], FILAS[2]).encode("utf-8").replace(b"Juan", b"Ju\x81n"),
     (3, "el archivo no está en UTF-8 ni en Windows-1252 (byte 0x81)")),
    (b"\xef\xbb\xbf" + csv_de(FILAS[0], FILAS[2]).encode("cp1252"),
     (2, "el archivo empieza como UTF-8 (BOM) pero no lo es")),
    (csv_de(FILAS[0]).encode("utf-16"),
     (1, "el archivo está en UTF-16 («Texto Unicode» de Excel): guárdelo como «CSV UTF-8 "
         "(delimitado por comas)»")),
])
def test_archivo_ilegible(session, contenido, error):
    assert importar_csv(session, io.BytesIO(contenido)).errores == [error]


def test_columnas_vacias_de_sobra_al_final(session):
    # Excel writes the empty cells of a column once formatted: ",," after the last one.
    texto = csv_de(FILAS[0] + ",,", FILAS[1] + ",", encabezado=ENCABEZADO + ",,")
    assert importar(session, texto).errores == []
    texto = csv_de(FILAS[0] + ",,x")
    assert importar(session, texto).errores == [(2, "tiene 15 columnas, se esperaban 13")]


@pytest.mark.parametrize("caracter", ["\x00", "\x1b", "\x7f", "\x80"])
def test_caracter_de_control_en_un_campo(session, caracter):
    texto = csv_de(FILAS[0], _fila(nombre=f"Ju{caracter}an"), _fila(clave="UC0000",
                                                                    unidad=f"U{caracter}"))
    resultado = importar(session, texto)
    codigo = f"U+{ord(caracter):04X}"
    assert resultado.errores == [
        (3, f"nombre contiene un carácter de control ({codigo}): quítelo"),
        (4, f"unidad contiene un carácter de control ({codigo}): quítelo"),
    ]
    assert cuantas(session, Cita) == 0


def test_una_clave_de_otra_persona_no_se_mueve(session):
    importar(session, csv_de(*FILAS))
    session.commit()
    antes = _foto_agenda(session)
    otra = _fila(clave="UC3QK2")  # Hernández's row, with Gómez's clave
    nueva = _fila(clave="NEW001")
    resultado = importar(session, csv_de(nueva, otra))
    assert resultado.errores == [
        (3, "la clave UC3QK2 ya es de una cita de otra persona (otra CURP) en la agenda: "
            "corrija la clave o la CURP")]
    session.rollback()
    assert _foto_agenda(session) == antes


def test_un_telefono_vacio_no_borra_el_registrado(session):
    importar(session, csv_de(*FILAS))
    session.commit()
    sin_telefono = [f.replace(",5512345678,", ",,") for f in FILAS]
    resultado = importar(session, csv_de(*sin_telefono))
    assert (resultado.errores, resultado.sin_cambios) == ([], 4)
    session.commit()
    assert session.scalars(select(Derechohabiente.telefono)
                           .where(Derechohabiente.curp == GOMEZ)).one() == "5512345678"
    otro = [f.replace(",5512345678,", ",5587654321,") for f in FILAS]
    importar(session, csv_de(*otro))
    session.commit()
    assert session.scalars(select(Derechohabiente.telefono)
                           .where(Derechohabiente.curp == GOMEZ)).one() == "5587654321"


def _curp_numero(i: int) -> str:
    return con_digito("HEGJ700315HMCRRN" + "0123456789ABCDEFGHIJ"[i])


def test_en_muchos_lotes(session, monkeypatch):
    # Batches of 3 keys: every read and write crosses batch boundaries, on both backends.
    monkeypatch.setattr(repo_agenda, "LOTE_IN", 3)
    monkeypatch.setattr(repo_agenda, "LOTE_ARREGLO", 3)
    filas = [_fila(clave=f"LOT{i:03d}", curp=_curp_numero(i),
                   primer_apellido=["Hernández", "Núñez"][i % 2], unidad=f"UAPES No. {i % 4}")
             for i in range(20)]
    resultado = importar(session, csv_de(*filas))
    assert (resultado.errores, resultado.creados, resultado.derechohabientes_nuevos) == \
        ([], 20, 20)
    session.commit()
    assert (cuantas(session, Cita), cuantas(session, Derechohabiente),
            cuantas(session, Unidad)) == (20, 20, 4)
    personas = session.scalars(select(Derechohabiente).order_by(Derechohabiente.curp)).all()
    assert [(p.curp_teclas, p.apellido_teclas) for p in personas] == \
        [(a_teclas(p.curp), a_teclas(p.primer_apellido)) for p in personas]
    citas = {c.clave: c for c in session.scalars(select(Cita))}
    por_curp = {p.curp: p.id for p in personas}
    assert {c: citas[c].derechohabiente_id for c in citas} == \
        {f"LOT{i:03d}": por_curp[_curp_numero(i)] for i in range(20)}
    assert {c.tramite for c in citas.values()} == {"préstamo personal"}
    cambiadas = [f.replace("11:45,12:15", "12:00,12:30") if i % 3 == 0 else f
                 for i, f in enumerate(filas)]
    resultado = importar(session, csv_de(*cambiadas))
    assert (resultado.errores, resultado.creados, resultado.actualizados,
            resultado.sin_cambios) == ([], 0, 7, 13)
    session.commit()
    assert sorted(c.clave for c in session.scalars(select(Cita).where(
        Cita.hora_inicio == time(12, 0)))) == [f"LOT{i:03d}" for i in range(0, 20, 3)]


def test_una_actualizacion_nunca_revive_una_cita_cancelada(session):
    # The guard is in the UPDATE itself: a cita cancelled by phone after the import read it.
    importar(session, csv_de(*FILAS))
    session.commit()
    cita = session.scalars(select(Cita).where(Cita.clave == "UC3QK2")).one()
    repo.cancelar_cita(session, cita.id, solicitante_tipo="titular", solicitante_nombre=None,
                       motivo_codigo=1, motivo_texto="Ya no necesito el préstamo", canal="ivr",
                       call_sid="CA1", ahora=datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    session.commit()
    repo_agenda.actualizar_citas(session, [{
        "id": cita.id, "unidad_id": cita.unidad_id, "ventanilla": "09", "fecha": cita.fecha,
        "hora_inicio": cita.hora_inicio, "hora_fin": cita.hora_fin, "estado": "agendada"}])
    session.commit()
    session.refresh(cita)
    assert (cita.ventanilla, cita.estado) == ("09", "cancelada")


# -- the commands --------------------------------------------------------------------------


@pytest.fixture
def app(engine, db_url):
    app = Flask("prueba")
    app.config["DATABASE_URL"] = db_url
    db.init_app(app)
    yield app
    db.engine_de(app).dispose()


def test_comando_import_citas(app, engine, tmp_path):
    ruta = tmp_path / "agenda.csv"
    ruta.write_text(csv_de(*FILAS), encoding="utf-8")
    resultado = app.test_cli_runner().invoke(import_citas_command, [str(ruta)])
    assert resultado.exit_code == 0, resultado.output
    assert resultado.stdout.splitlines() == [
        "Archivo: UTF-8, separador «,».",
        "Citas: 4 nuevas, 0 actualizadas, 0 sin cambios; 3 derechohabientes nuevos."]
    with app.app_context():
        assert cuantas(db.sesion(), Cita) == 4


def test_comando_import_citas_con_un_csv_de_excel(app, engine, tmp_path):
    ruta = tmp_path / "agenda.csv"
    ruta.write_bytes("\r\n".join(EXCEL).encode("cp1252"))
    resultado = app.test_cli_runner().invoke(import_citas_command, [str(ruta)])
    assert resultado.exit_code == 0, resultado.output
    assert resultado.stdout.splitlines() == [
        "Archivo: Windows-1252, separador «;».",
        "Citas: 4 nuevas, 0 actualizadas, 0 sin cambios; 3 derechohabientes nuevos."]


def test_comando_import_citas_con_un_nul_no_muestra_datos_personales(app, engine, tmp_path):
    ruta = tmp_path / "agenda.csv"
    ruta.write_bytes(csv_de(FILAS[0], FILAS[1].replace("Ana", "A\x00na")).encode())
    resultado = app.test_cli_runner().invoke(import_citas_command, [str(ruta)])
    assert resultado.exit_code == 1
    assert resultado.stdout == ""
    assert resultado.stderr.splitlines() == [
        "línea 3: nombre contiene un carácter de control (U+0000): quítelo",
        "No se cargó nada: 1 error(es).",
    ]
    with app.app_context():
        assert cuantas(db.sesion(), Cita) == 0


def test_comando_import_citas_con_errores(app, engine, tmp_path):
    ruta = tmp_path / "agenda.csv"
    ruta.write_text(csv_de(FILAS[0], _fila(curp=MALA), _fila(clave="X")), encoding="utf-8")
    resultado = app.test_cli_runner().invoke(import_citas_command, [str(ruta)])
    assert resultado.exit_code == 1
    assert resultado.stdout == ""
    assert resultado.stderr.splitlines() == [
        f"línea 3: CURP inválida ({MALA}): formato o dígito verificador",
        "línea 4: clave inválida (X): deben ser 6 letras mayúsculas o dígitos",
        "No se cargó nada: 2 error(es).",
    ]
    with app.app_context():
        assert cuantas(db.sesion(), Cita) == 0


# -- the way out: export-cancelaciones -----------------------------------------------------

AGENDA = [*FILAS[:2], _fila(clave="AG0001", estado="agendada", fecha="2026-12-20"),
          _fila(clave="AG0002", estado="agendada", fecha="2026-12-21", hora_inicio="09:00",
                hora_fin="09:15")]


def _cancelar(session, clave: str, ahora_utc: datetime, **datos) -> str:
    cita = session.scalars(select(Cita).where(Cita.clave == clave)).one()
    datos = {"solicitante_tipo": "titular", "solicitante_nombre": None, "motivo_codigo": 1,
             "motivo_texto": "Ya no necesito el préstamo", "canal": "ivr",
             "call_sid": f"CA{clave}", "destinos": Destinos(sistema_citas=True)} | datos
    return cancelacion.cancelar(session, cita.id, ahora=ahora_utc, **datos).folio


def _entregar(session, folio: str) -> None:
    (evento,) = repo_outbox.eventos_de_cancelacion(session, session.scalars(
        select(Cancelacion.id).where(Cancelacion.folio == folio)).one())
    repo_outbox.marcar_entregado(session, evento, datetime(2026, 12, 2, 7, 0, tzinfo=UTC))


@pytest.fixture
def canceladas(session):
    """Four cancellations around the Mexico City midnights that start and end 2026-12-01;
    the Sistema de Citas got one of the three events written, the fourth wrote none."""
    assert importar(session, csv_de(*AGENDA)).errores == []
    folios = {
        # 2026-11-30 23:59:59 in Mexico City: the day before.
        "UC3QK2": _cancelar(session, "UC3QK2", datetime(2026, 12, 1, 5, 59, 59, tzinfo=UTC)),
        # 2026-12-01 00:00:00 in Mexico City: the first instant of the day.
        "UC7HW4": _cancelar(session, "UC7HW4", datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
                            solicitante_tipo="tercero", solicitante_nombre="María Ruiz, hija",
                            motivo_codigo=5, motivo_texto='Se me "cruzó" otra cita'),
        # 2026-12-01 23:59:59 in Mexico City: the last instant of the day.
        "AG0001": _cancelar(session, "AG0001", datetime(2026, 12, 2, 5, 59, 59, tzinfo=UTC),
                            canal="agente", call_sid=None, agente="lucia", motivo_codigo=2,
                            motivo_texto="No puedo asistir en la fecha u horario"),
        # 2026-12-02 00:00:00 in Mexico City: the next day.
        "AG0002": _cancelar(session, "AG0002", datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
                            destinos=Destinos()),
    }
    _entregar(session, folios["UC7HW4"])
    session.commit()
    return folios


def _exportar(app, *argumentos):
    from ivr.exportacion import export_cancelaciones_command

    return app.test_cli_runner().invoke(export_cancelaciones_command, list(argumentos))


def test_export_csv_de_un_dia_de_la_ciudad_de_mexico(app, canceladas):
    resultado = _exportar(app, "--desde", "2026-12-01", "--hasta", "2026-12-01")
    assert resultado.exit_code == 0, resultado.output
    assert resultado.stdout_bytes.startswith(b"\xef\xbb\xbf")
    assert resultado.stdout_bytes.decode("utf-8-sig").split("\r\n") == [
        "clave,curp,folio,fecha,hora_inicio,unidad,ventanilla,motivo_codigo,motivo_texto,"
        "solicitante_tipo,solicitante_nombre,canal,agente,cancelada_en,entregada_al_sistema",
        f"UC7HW4,{GOMEZ},{canceladas['UC7HW4']},2026-12-09,09:30,UAPES No. 4,02,5,"
        '"Se me ""cruzó"" otra cita",tercero,"María Ruiz, hija",ivr,,'
        "2026-12-01T00:00:00-06:00,sí",
        f"AG0001,{HERNANDEZ},{canceladas['AG0001']},2026-12-20,11:45,UAPES No. 7,05,2,"
        "No puedo asistir en la fecha u horario,titular,,agente,lucia,"
        "2026-12-01T23:59:59-06:00,no",
        "",
    ]


def test_export_json_de_dos_dias(app, canceladas):
    resultado = _exportar(app, "--desde", "2026-12-01", "--hasta", "2026-12-02",
                          "--formato", "json")
    assert resultado.exit_code == 0, resultado.output
    registros = json.loads(resultado.stdout_bytes.decode("utf-8"))
    assert [r["clave"] for r in registros] == ["UC7HW4", "AG0001", "AG0002"]
    assert registros[0] == {
        "clave": "UC7HW4", "curp": GOMEZ, "folio": canceladas["UC7HW4"],
        "fecha": "2026-12-09", "hora_inicio": "09:30", "unidad": "UAPES No. 4",
        "ventanilla": "02", "motivo_codigo": 5, "motivo_texto": 'Se me "cruzó" otra cita',
        "solicitante_tipo": "tercero", "solicitante_nombre": "María Ruiz, hija", "canal": "ivr",
        "agente": None, "cancelada_en": "2026-12-01T00:00:00-06:00",
        "entregada_al_sistema": True,
    }
    assert [(r["canal"], r["agente"], r["cancelada_en"], r["entregada_al_sistema"])
            for r in registros[1:]] == [
        ("agente", "lucia", "2026-12-01T23:59:59-06:00", False),
        ("ivr", None, "2026-12-02T00:00:00-06:00", False)]


def test_export_sin_cancelaciones(app, canceladas):
    resultado = _exportar(app, "--desde", "2026-11-01", "--hasta", "2026-11-29")
    assert resultado.exit_code == 0, resultado.output
    assert resultado.stdout_bytes == b"\xef\xbb\xbf" + ",".join(
        ["clave", "curp", "folio", "fecha", "hora_inicio", "unidad", "ventanilla",
         "motivo_codigo", "motivo_texto", "solicitante_tipo", "solicitante_nombre", "canal",
         "agente", "cancelada_en", "entregada_al_sistema"]).encode() + b"\r\n"
    resultado = _exportar(app, "--desde", "2026-11-01", "--hasta", "2026-11-29", "--formato",
                          "JSON")
    assert (resultado.exit_code, resultado.stdout) == (0, "[]\n")


@pytest.mark.parametrize("argumentos, error", [
    ([], "falta --desde AAAA-MM-DD"),
    (["--desde", "2026-12-01"], "falta --hasta AAAA-MM-DD"),
    (["--desde", "01/12/2026", "--hasta", "2026-12-01"],
     "--desde debe ser una fecha AAAA-MM-DD, no «01/12/2026»"),
    (["--desde", "2026-12-01", "--hasta", "2026-02-30"],
     "--hasta debe ser una fecha AAAA-MM-DD, no «2026-02-30»"),
    (["--desde", "2026-12-02", "--hasta", "2026-12-01"],
     "--hasta (2026-12-01) es anterior a --desde (2026-12-02)"),
    (["--desde", "2026-12-01", "--hasta", "2026-12-01", "--formato", "xlsx"],
     "--formato debe ser csv o json, no «xlsx»"),
])
def test_export_con_opciones_invalidas(app, engine, argumentos, error):
    resultado = _exportar(app, *argumentos)
    assert resultado.exit_code == 2
    assert resultado.stdout == ""
    assert resultado.stderr.splitlines()[-1] == f"Error: {error}"


# -- demo ----------------------------------------------------------------------------------

HOY = date(2026, 11, 24)


def _foto(session) -> list:
    citas = [(c.id, c.clave, c.fecha, c.hora_inicio, c.estado) for c in
             session.scalars(select(Cita).order_by(Cita.id))]
    cancelaciones = [(c.cita_id, c.folio, c.canal) for c in session.scalars(select(Cancelacion))]
    return [citas, cancelaciones, cuantas(session, Derechohabiente)]


def test_demo(session):
    personas = demo.cargar_demo(session, HOY)
    session.commit()
    assert len(personas) >= 5
    assert all(validar_curp(p["curp"]) for p in personas)
    assert {p["curp"][10] for p in personas} == {"H", "M", "X"}
    por_apellido = {p["primer_apellido"]: p for p in personas}
    assert all(p["descripcion"] for p in personas)

    def cancelables(apellido: str, ahora: datetime) -> list[Cita]:
        (persona,) = repo.buscar_por_documento(session, por_apellido[apellido]["curp"])
        return repo.citas_cancelables(session, persona.id, ahora)

    # Even at the last minute of today, tomorrow's 9:00 is still ahead and under 36 hours.
    tarde = datetime.combine(HOY, time(23, 59), tzinfo=MEXICO)
    assert len(cancelables("Ramírez", tarde)) == 2
    (manana,) = cancelables("Torres", tarde)
    assert manana.inicio - tarde < timedelta(hours=36)
    (temprano,) = cancelables("Torres", datetime.combine(HOY, time(0, 0), tzinfo=MEXICO))
    assert temprano.inicio - datetime.combine(HOY, time(0, 0), tzinfo=MEXICO) < \
        timedelta(hours=36)
    assert cancelables("Luna", tarde) == []
    assert cancelables("Méndez", tarde) == []
    (mendez,) = repo.buscar_por_documento(session, por_apellido["Méndez"]["curp"])
    assert repo.ultima_cancelacion(session, mendez.id).canal == "agente"
    rfc = [p for p in personas if p["rfc"]]
    assert len(rfc) == 1
    (por_rfc,) = repo.buscar_por_teclas(session, a_teclas(rfc[0]["rfc"]))
    assert por_rfc.primer_apellido == rfc[0]["primer_apellido"]


def test_demo_dos_veces_no_mueve_nada(session):
    demo.cargar_demo(session, HOY)
    session.commit()
    antes = _foto(session)
    demo.cargar_demo(session, HOY)
    session.commit()
    assert _foto(session) == antes


def test_comando_demo_data(app, engine):
    resultado = app.test_cli_runner().invoke(demo.demo_data_command)
    assert resultado.exit_code == 0, resultado.output
    for p in demo.PERSONAS:
        assert p.curp in resultado.stdout
        assert f"teclas: {a_teclas(p.curp)}#" in resultado.stdout
        assert f"teclas: {a_teclas(p.primer_apellido)}#" in resultado.stdout
    assert f"teclas: {a_teclas(demo.CRUZ.rfc)}#" in resultado.stdout


def test_demo_citas_fall_on_working_days():
    from ivr.demo import _citas, dia_habil

    # Friday 2026-11-13: three working days later skips the weekend and Monday 16 (Revolución).
    assert dia_habil(date(2026, 11, 13), 3) == date(2026, 11, 19)
    assert dia_habil(date(2026, 11, 17), -1) == date(2026, 11, 13)
    for hoy in (date(2026, 11, 13), date(2026, 12, 24), date(2027, 1, 2)):
        for persona, clave, fecha, *_ in _citas(hoy):
            if persona.primer_apellido != "Torres":
                assert fecha.weekday() < 5, (clave, fecha)


def test_un_rfc_con_ampersand_se_carga_sin_forma_de_teclado(session):
    # "&" has no phone key: that person is found by CURP (or by voice), never by RFC keys.
    resultado = importar_csv(session, io.StringIO(csv_de(_fila(rfc="HE&J700315QX4"))))
    assert resultado.errores == []
    persona = session.scalars(select(Derechohabiente)).one()
    assert (persona.rfc, persona.rfc_teclas) == ("HE&J700315QX4", None)
    assert persona.curp_teclas and persona.apellido_teclas


def test_el_benchmark_de_importacion_corre():
    # Its figures are not checked (a benchmark, not a timed test): only that it still runs.
    r = subprocess.run([sys.executable, str(RAIZ / "benchmarks" / "importacion.py"),
                        "--filas", "60"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lineas = r.stdout.splitlines()
    assert lineas[0] == "base: SQLite temporal; 60 filas, Windows-1252 ;"
    assert lineas[1].startswith("primera carga: ")
    assert lineas[1].endswith("(60 nuevas, 0 actualizadas, 0 sin cambios)")
    assert lineas[2].endswith("(0 nuevas, 0 actualizadas, 60 sin cambios)")
