"""Callback requests and the agent leg's state, in the repository, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from ivr import repo, repo_devoluciones
from ivr.models import Devolucion

AHORA = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def transferencia(session, call_sid, razon="pidio_agente"):
    return repo.registrar_transferencia(
        session, call_sid=call_sid, razon=razon, nodo="cita", identificado=False,
        creada_en=AHORA, dial_status="fuera_de_horario",
        contexto={"desde": "+525511112222", "ruta": ["menu_principal"]})


def pedir(session, call_sid, minutos=0):
    t = transferencia(session, call_sid)
    return repo_devoluciones.pedir_devolucion(
        session, call_sid=call_sid, transferencia_id=t.id, telefono="+525511112222",
        ahora=AHORA + timedelta(minutes=minutos))


def test_a_request_carries_its_transfers_context_and_is_pending(session):
    devolucion_id = pedir(session, "CA1").id
    session.commit()
    session.expunge_all()
    d = repo_devoluciones.devolucion_por_id(session, devolucion_id)
    assert (d.estado, d.telefono, d.resultado) == ("pendiente", "+525511112222", None)
    assert (d.transferencia.razon, d.transferencia.contexto["ruta"]) == (
        "pidio_agente", ["menu_principal"])
    assert "5511112222" not in repr(d)


def test_a_repeated_request_of_the_same_call_is_the_same_one(session):
    primera = pedir(session, "CA1")
    otra = repo_devoluciones.pedir_devolucion(
        session, call_sid="CA1", transferencia_id=primera.transferencia_id,
        telefono="+525511112222", ahora=AHORA + timedelta(minutes=5))
    assert otra.id == primera.id
    assert len(repo_devoluciones.devoluciones(session)) == 1


def test_listed_pending_first_in_the_order_asked_then_called_latest_first(session):
    tarde = pedir(session, "CA_tarde", minutos=30)
    temprano = pedir(session, "CA_temprano", minutos=10)
    llamada1 = pedir(session, "CA_llamada1", minutos=0)
    llamada2 = pedir(session, "CA_llamada2", minutos=5)
    repo_devoluciones.marcar_llamado(session, llamada1.id, resultado="contactado",
                                     agente="ana", ahora=AHORA + timedelta(hours=1))
    repo_devoluciones.marcar_llamado(session, llamada2.id, resultado="no_contesto",
                                     agente="ana", ahora=AHORA + timedelta(hours=2))
    assert [d.id for d in repo_devoluciones.devoluciones(session)] == [temprano.id, tarde.id]
    assert [d.id for d in repo_devoluciones.devoluciones(session, solo_pendientes=False)] == [
        temprano.id, tarde.id, llamada2.id, llamada1.id]


def test_marked_called_with_outcome_agent_and_note(session):
    d = pedir(session, "CA1")
    marcada = repo_devoluciones.marcar_llamado(
        session, d.id, resultado="numero_equivocado", agente="ana",
        ahora=AHORA + timedelta(hours=1), nota="  contestó   otra persona ")
    assert (marcada.estado, marcada.resultado, marcada.llamado_por, marcada.nota) == (
        "llamado", "numero_equivocado", "ana", "contestó otra persona")
    assert marcada.llamado_en == AHORA + timedelta(hours=1)


def test_an_unknown_outcome_is_refused_and_an_unknown_id_is_none(session):
    d = pedir(session, "CA1")
    with pytest.raises(ValueError):
        repo_devoluciones.marcar_llamado(session, d.id, resultado="quizá", agente="ana",
                                         ahora=AHORA)
    assert repo_devoluciones.marcar_llamado(session, 999, resultado="otro", agente="ana",
                                            ahora=AHORA) is None


def test_the_database_refuses_an_unknown_state(session):
    d = pedir(session, "CA1")
    session.commit()
    d.estado = "olvidada"
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    assert session.get(Devolucion, d.id).estado == "pendiente"


def test_the_agent_leg_state_only_moves_forward(session):
    t = transferencia(session, "CA1")
    for estado in ["initiated", "ringing", "in-progress"]:
        repo.registrar_estado_agente(session, t.id, estado, AHORA)
    assert t.agente_estado == "in-progress"
    repo.registrar_estado_agente(session, t.id, "ringing", AHORA)  # late and out of order
    assert t.agente_estado == "in-progress"
    repo.registrar_estado_agente(session, t.id, "completed", AHORA + timedelta(minutes=3))
    assert (t.agente_estado, t.agente_estado_en) == ("completed", AHORA + timedelta(minutes=3))
    assert repo.registrar_estado_agente(session, t.id, "inventado", AHORA) is None
    assert repo.registrar_estado_agente(session, 999, "ringing", AHORA) is None
