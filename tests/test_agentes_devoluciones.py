"""The callbacks list on the agents' page ("llamar de vuelta"): order, context, marking one as
called, and cancelling on the caller's behalf from there."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ivr import db, repo_devoluciones
from ivr.agentes.devoluciones import RESULTADOS_DEVOLUCION
from ivr.models import RESULTADOS_DEVOLUCION as RESULTADOS_DEL_MODELO
from ivr.models import Devolucion
from tests import test_agentes as base
from tests.test_agentes import AHORA, cancelacion_de, pedir_cancelacion, texto

app, datos, client, agente, reloj = base.app, base.datos, base.client, base.agente, base.reloj
ENORME = "99999999999999999999"


@pytest.fixture
def pedidas(app, datos):
    """The identified caller asked 20 min ago, the anonymous one 5 min ago; an older one was
    already called back. Returns their ids in that order."""
    with app.app_context():
        sesion = db.sesion()

        def pedir(t_id, call_sid, telefono, minutos):
            return repo_devoluciones.pedir_devolucion(
                sesion, call_sid=call_sid, transferencia_id=t_id, telefono=telefono,
                ahora=AHORA - timedelta(minutes=minutos)).id

        ids = (pedir(datos.identificada, "CA" + "1" * 32, "+525511112222", 20),
               pedir(datos.anonima, "CA" + "2" * 32, "+525533334444", 5),
               pedir(datos.antigua, "CA" + "3" * 32, "+525555556666", 60 * 24))
        repo_devoluciones.marcar_llamado(sesion, ids[2], resultado="no_contesto", agente="luis",
                                         ahora=AHORA - timedelta(hours=20))
        db.confirmar()
    return ids


def filas(pagina: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="[a-z]+" data-id="(\d+)"', pagina)]


def test_los_resultados_son_los_del_modelo():
    assert set(RESULTADOS_DEVOLUCION) == set(RESULTADOS_DEL_MODELO)


def test_lista_en_el_orden_en_que_lo_pidieron(agente, client, datos, pedidas):
    identificada, anonima, llamada = pedidas
    pagina = texto(client.get("/agent/devoluciones"))
    assert filas(pagina) == [identificada, anonima]
    # The same context as a transfer: its number, the caller's last four digits, who, the cita.
    assert f"Transferencia {datos.identificada}</a><small>24/11 09:40 · hace 20 minutos" in pagina
    assert "tel. …2222" in pagina and "Ana Gómez Ruiz" in pagina
    assert "mié 2 dic, 15:00" in pagina and "El cliente pidió un agente" in pagina
    assert "tel. …4444" in pagina and "No identificado" in pagina
    assert "5511112222" not in pagina  # the whole number only on the transfer's page
    todas = texto(client.get("/agent/devoluciones?ver=todas"))
    assert filas(todas) == [identificada, anonima, llamada]
    assert "Llamado</span> por luis<small>No contestó</small>" in todas


def test_la_barra_dice_cuantos_esperan(agente, client, pedidas):
    pagina = texto(client.get("/agent/"))
    assert 'Llamar de vuelta <span class="cuenta">2</span></a>' in pagina
    assert client.get("/agent/transferencias.json").get_json()["devoluciones"] == 2  # polled


def test_marcar_llamado_con_su_resultado(agente, app, client, datos, pedidas):
    identificada = pedidas[0]
    url = f"/agent/transferencias/{datos.identificada}"
    pagina = texto(client.get(url))
    assert '<a href="tel:+525511112222" class="clave">+525511112222</a>' in pagina
    respuesta = agente.enviar(f"/agent/devoluciones/{identificada}/llamado",
                              {"resultado": "contactado", "nota": "  pide  cancelar "}, desde=url)
    assert (respuesta.status_code, respuesta.headers["Location"]) == (302, url + "#devolucion")
    with app.app_context():
        d = db.sesion().get(Devolucion, identificada)
        assert (d.estado, d.resultado, d.llamado_por, d.nota) == (
            "llamado", "contactado", "ana", "pide cancelar")
    pagina = texto(client.get(url))
    assert "Devolución marcada como llamada: se habló con quien llamó." in pagina
    assert "Llamado por ana: Se habló con quien llamó (pide cancelar)" in pagina
    assert filas(texto(client.get("/agent/devoluciones"))) == [pedidas[1]]


@pytest.mark.parametrize("resultado", ["", "contestó", "llamado"])
def test_marcar_llamado_pide_un_resultado_valido(agente, app, client, datos, pedidas,
                                                resultado):
    url = f"/agent/transferencias/{datos.anonima}"
    respuesta = agente.enviar(f"/agent/devoluciones/{pedidas[1]}/llamado",
                              {"resultado": resultado}, desde=url)
    assert respuesta.headers["Location"] == url + "#devolucion"
    assert "Elija cómo resultó la llamada." in texto(client.get(url))
    with app.app_context():
        assert db.sesion().get(Devolucion, pedidas[1]).estado == "pendiente"


@pytest.mark.parametrize("devolucion", ["9999", ENORME])
def test_devolucion_inexistente_es_404(agente, client, pedidas, devolucion):
    respuesta = agente.enviar(f"/agent/devoluciones/{devolucion}/llamado",
                              {"resultado": "contactado"})
    assert respuesta.status_code == 404


def test_marcar_llamado_pide_csrf(agente, client, pedidas):
    respuesta = client.post(f"/agent/devoluciones/{pedidas[0]}/llamado",
                            data={"resultado": "contactado"})
    assert respuesta.status_code == 400


def test_cancelar_a_nombre_de_quien_pidio_la_devolucion(agente, app, client, datos, pedidas):
    # From the list to the transfer's page, where the callback and the cancel form are.
    lista = texto(client.get("/agent/devoluciones"))
    enlace = f"/agent/transferencias/{datos.identificada}#devolucion"
    assert f'href="{enlace}"' in lista
    pagina = texto(client.get(enlace.split("#")[0]))
    assert 'id="devolucion"' in pagina and 'id="form-cancelar"' in pagina
    assert pedir_cancelacion(agente, datos.identificada, datos.futura).status_code == 302
    cancelacion, estado = cancelacion_de(app, datos.futura)
    assert (estado, cancelacion.canal) == ("cancelada", "agente")


def test_sin_devoluciones(agente, client):
    pagina = texto(client.get("/agent/devoluciones"))
    assert "No hay nadie por llamar." in pagina
    assert 'class="cuenta"' not in pagina
