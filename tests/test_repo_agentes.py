"""The agents' page queries on SQLite and PostgreSQL: the list's order, "en línea", its joins."""

from datetime import UTC, date, datetime, time, timedelta

from ivr import repo, repo_agentes
from ivr.models import Cita, Derechohabiente, Llamada, Unidad

AHORA = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def transferencia(session, call_sid, minutos, **campos):
    return repo.registrar_transferencia(
        session, call_sid=call_sid, razon="pidio_agente", nodo="citas", identificado=False,
        creada_en=AHORA - timedelta(minutes=minutos), **campos)


def lista(session, solo_pendientes=True):
    return [(f.transferencia.call_sid, f.en_linea) for f in repo_agentes.transferencias_para_lista(
        session, 50, solo_pendientes=solo_pendientes, ahora=AHORA)]


def test_en_linea_primero_aunque_este_atendida(session):
    transferencia(session, "CA_nueva", 1)
    transferencia(session, "CA_vieja_en_linea", 60, atendida=True, agente_estado="in-progress",
                  agente_estado_en=AHORA - timedelta(minutes=50))
    transferencia(session, "CA_sonando", 30, agente_estado="ringing",
                  agente_estado_en=AHORA - timedelta(minutes=1))
    transferencia(session, "CA_sonaba", 20, agente_estado="ringing",
                  agente_estado_en=AHORA - timedelta(minutes=6))
    transferencia(session, "CA_atendida", 2, atendida=True, agente_estado="completed",
                  agente_estado_en=AHORA - timedelta(minutes=1))
    session.commit()
    assert lista(session) == [("CA_sonando", True), ("CA_vieja_en_linea", True),
                              ("CA_nueva", False), ("CA_sonaba", False)]
    assert lista(session, solo_pendientes=False) == [
        ("CA_sonando", True), ("CA_vieja_en_linea", True), ("CA_nueva", False),
        ("CA_atendida", False), ("CA_sonaba", False)]


def test_cada_fila_trae_numero_persona_y_cita(session):
    unidad = Unidad(nombre="UAPES No. 4")
    ana = Derechohabiente(curp="GOMA850123HDFRRN09", rfc=None, nombre="Ana",
                          primer_apellido="Gómez", segundo_apellido=None, telefono=None)
    juan = Derechohabiente(curp="HEGJ700315HMCRRN05", rfc=None, nombre="Juan",
                           primer_apellido="Hernández", segundo_apellido=None, telefono=None)
    session.add_all([unidad, ana, juan])
    session.flush()
    cita = Cita(clave="UC3QK2", derechohabiente_id=ana.id, unidad_id=unidad.id, ventanilla="1",
                fecha=date(2026, 12, 2), hora_inicio=time(15), hora_fin=time(15, 15))
    session.add_all([cita, Llamada(call_sid="CA_ana", desde="+525511112222", iniciada_en=AHORA)])
    session.flush()
    transferencia(session, "CA_ana", 2, derechohabiente_id=ana.id, cita_id=cita.id)
    transferencia(session, "CA_encontrado", 1, encontrado_id=juan.id, encontrado_por="beto")
    transferencia(session, "CA_nadie", 0)
    session.commit()
    filas = repo_agentes.transferencias_para_lista(session, 50, solo_pendientes=True,
                                                   ahora=AHORA)
    assert [(f.transferencia.call_sid, f.desde, f.derechohabiente and f.derechohabiente.nombre,
             f.cita and f.cita.clave) for f in filas] == [
        ("CA_nadie", None, None, None),
        ("CA_encontrado", None, "Juan", None),
        ("CA_ana", "+525511112222", "Ana", "UC3QK2"),
    ]
