"""The named checks and actions the flow refers to, bound to a database session and a clock."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ivr import cancelacion, repo, repo_devoluciones, transferencia
from ivr.dialog import Accion, Entrada, Resultado
from ivr.domain import deletreo, fechas, habla, locucion
from ivr.estado import Estado
from ivr.flows import Flujo
from ivr.models import Cita

log = logging.getLogger(__name__)

MEXICO = ZoneInfo("America/Mexico_City")
MAX_CITAS_LISTADAS = 9  # one key each on a one-key gather
ORDINALES = ["primera", "segunda", "tercera", "cuarta", "quinta", "sexta", "séptima", "octava",
             "novena"]


@dataclass
class Contexto:
    """What actions need from outside: a session (opened only when used), the time, where a
    cancellation is told and whether agents can be reached now (these two worked out only
    when an action asks: most steps never do)."""

    sesion: Callable[[], Session]
    ahora: datetime
    destinos_de: Callable[[], cancelacion.Destinos] = cancelacion.Destinos
    agentes_de: Callable[[], transferencia.Agentes | None] = lambda: None

    @functools.cached_property
    def destinos(self) -> cancelacion.Destinos:
        """Who is told of a cancellation."""
        return self.destinos_de()

    @functools.cached_property
    def agentes(self) -> transferencia.Agentes | None:
        """Whether and where a transfer can go now."""
        return self.agentes_de()


_REGISTRO: dict[str, tuple[Callable, frozenset[str]]] = {}


def accion(nombre: str, salidas: set[str] = frozenset()):
    """Register a function under the name the flow uses, with the outcomes it can return."""

    def registrar(fn):
        _REGISTRO[nombre] = (fn, frozenset(salidas))
        return fn

    return registrar


def salidas_registradas() -> dict[str, frozenset[str]]:
    """Every registered action name with its possible outcomes (for flow validation)."""
    return {nombre: salidas for nombre, (_, salidas) in _REGISTRO.items()}


class _Enlazadas(Mapping):
    """The registry's actions bound to one request's context, each bound when the dialog
    asks for it (a step runs one action, or none)."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: Contexto):
        self.ctx = ctx

    def __getitem__(self, nombre: str) -> Accion:
        return functools.partial(_REGISTRO[nombre][0], self.ctx)

    def __iter__(self):
        return iter(_REGISTRO)

    def __len__(self) -> int:
        return len(_REGISTRO)


def para(ctx: Contexto) -> Mapping[str, Accion]:
    """The registry with every action bound to this request's context."""
    return _Enlazadas(ctx)


def _inicio(cita: Cita | repo.CitaLeida) -> datetime:
    return datetime.combine(cita.fecha, cita.hora_inicio, tzinfo=MEXICO)


def _solo_teclas(digitos: str) -> str | None:
    # ASCII digits only: str.isdigit() also accepts "²" and other scripts' digits.
    return digitos if digitos.isascii() and digitos.isdigit() else None


@accion("identificar_documento", {"encontrado", "no_encontrado", "incompleto", "invalido"})
def identificar_documento(ctx: Contexto, estado: Estado, entrada: Entrada,
                          flujo: Flujo) -> Resultado:
    """CURP or RFC, keyed in (keypad form, 18 or 13 keys) or spoken (must validate)."""
    if entrada.digitos:
        teclas = _solo_teclas(entrada.digitos)
        if teclas is None:
            return Resultado("invalido")
        if len(teclas) not in (18, 13):
            # 17 keys is a CURP short of one: say how many were heard and how many it takes.
            return Resultado("incompleto", params={"teclas": len(teclas)})
        candidatos = repo.ids_por_teclas(ctx.sesion(), teclas)
        forma = "teclado"
    else:
        # b/v, "y" for I, a correction: several readings may be valid. One is kept only if it
        # is the only valid reading that is registered (the surname is checked next).
        sesion = ctx.sesion()
        encontrados: dict[str, list] = {}

        def registrado(documento: str) -> bool:
            encontrados[documento] = repo.buscar_por_documento(sesion, documento)
            return bool(encontrados[documento])

        documento = habla.entender_documento(entrada.habla or "", registrado)
        if documento is None and (not encontrados or any(encontrados.values())):
            return Resultado("invalido")  # no valid reading, or several registered ones
        # Valid readings that nobody has: none.
        candidatos = [c.id for c in encontrados.get(documento, [])]
        forma = "voz"
    if not candidatos:
        return Resultado("no_encontrado", estado={"documento_por": forma})
    return Resultado("encontrado", estado={"candidatos": candidatos,
                                           "documento_por": forma})


@accion("verificar_apellido", {"una_cita", "varias_citas", "sin_cita", "no_coincide", "ambiguo",
                               "invalido"})
def verificar_apellido(ctx: Contexto, estado: Estado, entrada: Entrada, flujo: Flujo) -> Resultado:
    """First surname, keyed or spoken, compared only with the people the CURP/RFC matched."""
    # Who they are and what they could cancel, in one query whatever the surname turns out.
    candidatos = repo.candidatos_con_citas(ctx.sesion(), estado.candidatos, ctx.ahora)
    if entrada.digitos:
        teclas = _solo_teclas(entrada.digitos)
        if teclas is None:
            return Resultado("invalido")
        coinciden = [c for c in candidatos if c.apellido_teclas == teclas]
    else:
        dicho = entrada.habla or ""
        coinciden = [c for c in candidatos if habla.coincide_apellido(dicho, c.primer_apellido)]
    if not coinciden:
        return Resultado("no_coincide")
    if len(coinciden) > 1:
        return Resultado("ambiguo")
    persona = coinciden[0]
    citas = persona.citas[:MAX_CITAS_LISTADAS]
    cambios = {"derechohabiente_id": persona.id, "citas": [c.id for c in citas]}
    if not citas:
        return Resultado("sin_cita", estado=cambios)
    if len(citas) == 1:
        return Resultado("una_cita", estado={**cambios, "cita_id": citas[0].id})
    return Resultado("varias_citas", estado=cambios)


@accion("listar_citas", {"una_cita", "sin_cita"})
def listar_citas(ctx: Contexto, estado: Estado, entrada: Entrada | None, flujo: Flujo) -> Resultado:
    """The caller's cancellable citas in date order, one key each (read fresh from the agenda)."""
    citas = repo.citas_cancelables(ctx.sesion(), estado.derechohabiente_id, ctx.ahora)
    citas = citas[:MAX_CITAS_LISTADAS]
    if not citas:
        return Resultado("sin_cita", estado={"citas": []})
    if len(citas) == 1:
        return Resultado("una_cita", estado={"citas": [citas[0].id], "cita_id": citas[0].id})
    opciones = [
        {"fecha": fechas.dia_y_fecha(c.fecha), "hora": fechas.a_la_hora(c.hora_inicio),
         "tecla": str(i)}
        for i, c in enumerate(citas, start=1)
    ]
    return Resultado(params={"n": len(citas), "citas": opciones},
                     estado={"citas": [c.id for c in citas]})


@accion("elegir_cita", {"elegida", "invalido"})
def elegir_cita(ctx: Contexto, estado: Estado, entrada: Entrada, flujo: Flujo) -> Resultado:
    """Which of the listed citas: its key, or "la primera", "la dos"…"""
    ids = estado.citas
    if entrada.digitos:
        tecla = entrada.digitos
    else:
        opciones = {str(i): [ORDINALES[i - 1], f"la {ORDINALES[i - 1]}"]
                    for i in range(1, len(ids) + 1)}
        tecla = habla.entender_opcion(entrada.habla or "", opciones)
    if not tecla or not _solo_teclas(tecla) or not 1 <= int(tecla) <= len(ids):
        return Resultado("invalido")
    return Resultado("elegida", estado={"cita_id": ids[int(tecla) - 1]})


@accion("leer_cita", {"sin_cita"})
def leer_cita(ctx: Contexto, estado: Estado, entrada: Entrada | None, flujo: Flujo) -> Resultado:
    """The read-back of the chosen cita, with the 36-hour reminder when it is close."""
    cita = repo.cita_leida(ctx.sesion(), estado.cita_id)
    if cita is None or cita.estado != "agendada" or _inicio(cita) <= ctx.ahora:
        return Resultado("sin_cita")
    faltan = _inicio(cita) - ctx.ahora
    return Resultado(estado={"cita_fecha": cita.fecha.isoformat()}, params={
        "tramite": cita.tramite,
        "fecha": fechas.dia_y_fecha(cita.fecha),
        "horario": fechas.horario(cita.hora_inicio, cita.hora_fin),
        "hora": fechas.a_la_hora(cita.hora_inicio),
        "unidad": locucion.unidad(cita.unidad) if cita.unidad else "",
        "ventanilla": locucion.numero(cita.ventanilla),
        "clave": deletreo.deletrear(cita.clave),
        "menos_de_36h": faltan < timedelta(hours=flujo.horas_anticipacion),
    })


@accion("capturar_nombre", {"capturado", "invalido"})
def capturar_nombre(ctx: Contexto, estado: Estado, entrada: Entrada, flujo: Flujo) -> Resultado:
    """The third party's full name, stored as said."""
    nombre = habla.entender_nombre(entrada.habla or "") if entrada.habla else None
    if not nombre:
        return Resultado("invalido")
    return Resultado("capturado", estado={"solicitante_nombre": nombre})


@accion("listar_motivos")
def listar_motivos(ctx: Contexto, estado: Estado, entrada: Entrada | None,
                   flujo: Flujo) -> Resultado:
    """The motivos of the flow data, one key each."""
    return Resultado(params={"motivos": [{"texto": m["texto"], "tecla": str(m["codigo"])}
                                         for m in flujo.motivos]})


@accion("elegir_motivo", {"elegido", "invalido"})
def elegir_motivo(ctx: Contexto, estado: Estado, entrada: Entrada, flujo: Flujo) -> Resultado:
    """A motivo by its key, or by meaning from free speech (anything else is "Otro motivo")."""
    if entrada.digitos:
        motivo = next((m for m in flujo.motivos if str(m["codigo"]) == entrada.digitos), None)
        if motivo is None:
            return Resultado("invalido")
        codigo, texto = motivo["codigo"], motivo["texto"]
    else:
        codigo, texto = habla.entender_motivo(entrada.habla or "", list(flujo.motivos))
    return Resultado("elegido", estado={"motivo": {"codigo": codigo, "texto": texto}})


@accion("resumir_cancelacion")
def resumir_cancelacion(ctx: Contexto, estado: Estado, entrada: Entrada | None,
                        flujo: Flujo) -> Resultado:
    """What is about to be cancelled, and why, for the confirmation: the date the read-back
    said (a cita is always read back before; the cancellation itself checks the agenda again),
    else read from the agenda."""
    fecha = (date.fromisoformat(estado.cita_fecha) if estado.cita_fecha
             else repo.fecha_de_cita(ctx.sesion(), estado.cita_id))
    return Resultado(params={"fecha": fechas.dia_y_fecha(fecha),
                             "motivo": estado.motivo["texto"]})


@accion("cancelar", {"cancelada", "ya_cancelada", "no_cancelable"})
def cancelar(ctx: Contexto, estado: Estado, entrada: Entrada, flujo: Flujo) -> Resultado:
    """Cancel the cita atomically; a repeated confirmation gets the same folio."""
    resultado = cancelacion.cancelar(
        ctx.sesion(),
        estado.cita_id,
        solicitante_tipo=estado.solicitante_tipo or "titular",
        solicitante_nombre=estado.solicitante_nombre,
        motivo_codigo=estado.motivo["codigo"],
        motivo_texto=estado.motivo["texto"],
        canal="ivr",
        call_sid=estado.call_sid,
        ahora=ctx.ahora,
        destinos=ctx.destinos,
    )
    params = {"folio": deletreo.deletrear(resultado.folio)} if resultado.folio else {}
    return Resultado(resultado.resultado, params=params,
                     estado={"folio": resultado.folio,
                             "sms_termina_en": resultado.sms_termina_en})


@accion("leer_folio")
def leer_folio(ctx: Contexto, estado: Estado, entrada: Entrada | None, flujo: Flujo) -> Resultado:
    """The folio of the cancellation just made, spelled, to say and to repeat with *; and the
    end of the registered phone its SMS goes to, when one does."""
    return Resultado(params={"folio": deletreo.deletrear(estado.folio or ""),
                             "sms_termina_en": estado.sms_termina_en})


@accion("buscar_ultima_cancelacion")
def buscar_ultima_cancelacion(ctx: Contexto, estado: Estado, entrada: Entrada | None,
                              flujo: Flujo) -> Resultado:
    """The folio of the caller's last cancelled cita, to say it when there is nothing to cancel."""
    if not estado.derechohabiente_id:
        return Resultado()
    ultima = repo.ultima_cancelacion(ctx.sesion(), estado.derechohabiente_id)
    return Resultado(params={"folio": deletreo.deletrear(ultima.folio) if ultima else ""})


# -- the transfer to the agents, and the callback offered when it can't reach one -------------

COMPLETADAS = {"completed", "answered", "bridged"}  # a conversation with an agent happened


@accion("pasar_a_agente", {"cerrado", "sin_destino", "agotado"})
def pasar_a_agente(ctx: Contexto, estado: Estado, entrada: Entrada | None,
                   flujo: Flujo) -> Resultado:
    """Record the transfer; say whether it can dial now (agent hours, a destination, and no
    more than the flow's dials per call: a failed retry never loops)."""
    if estado.marcaciones >= flujo.max_marcaciones:
        return Resultado("agotado")
    agentes = ctx.agentes
    salida = ("cerrado" if not agentes.abierto
              else "sin_destino" if not agentes.disponibles else None)
    dial_status = {"cerrado": "fuera_de_horario", "sin_destino": "sin_destino"}.get(salida)
    transferencia.registrar(ctx.sesion(), estado, dial_status, ctx.ahora)
    params = {"horario": agentes.horario}
    if salida is None and agentes.workflow_sid:
        params["tarea"] = transferencia.tarea(ctx.sesion(), estado)
    return Resultado(salida, params=params)


@accion("resultado_marcacion", {"contesto", "colgo", "fallo", "fallo_final"})
def resultado_marcacion(ctx: Contexto, estado: Estado, entrada: Entrada,
                        flujo: Flujo) -> Resultado:
    """How the dial or the queue ended: an agent talked with the caller, the caller hung up in
    the queue, or nobody answered (with or without a retry left)."""
    marcacion = entrada.marcacion or ""
    if estado.transferencia_id is not None and marcacion:
        try:
            repo.actualizar_dial_status(ctx.sesion(), estado.transferencia_id, marcacion)
        except SQLAlchemyError as e:  # the caller still hears what comes next
            ctx.sesion().rollback()
            log.error("resultado de transferencia sin registrar call=%s: %s", estado.call_sid,
                      type(e).__name__)
    if marcacion in COMPLETADAS:
        return Resultado("contesto")
    if marcacion == "hangup":
        return Resultado("colgo")
    return Resultado("fallo" if estado.marcaciones < flujo.max_marcaciones else "fallo_final")


def _numero_nacional(desde: str | None) -> str | None:
    """The caller's number as dialled in Mexico (its last 10 digits), when it is one."""
    digitos = "".join(c for c in desde or "" if c.isascii() and c.isdigit())
    return digitos[-10:] if len(digitos) >= 10 else None


@accion("leer_numero", {"sin_numero"})
def leer_numero(ctx: Contexto, estado: Estado, entrada: Entrada | None,
                flujo: Flujo) -> Resultado:
    """The caller's own number, digit by digit, to confirm it for the callback."""
    numero = _numero_nacional(estado.desde)
    if numero is None:  # a hidden or foreign caller id: nobody could call it back
        return Resultado("sin_numero")
    return Resultado(params={"numero": deletreo.deletrear(numero)})


@accion("pedir_devolucion", {"registrada"})
def pedir_devolucion(ctx: Contexto, estado: Estado, entrada: Entrada,
                     flujo: Flujo) -> Resultado:
    """Record the request to be called back at the caller's number, with the transfer's
    context."""
    sesion = ctx.sesion()
    transferencia.escribir_pendiente(sesion, estado)
    repo_devoluciones.pedir_devolucion(sesion, call_sid=estado.call_sid,
                                       transferencia_id=estado.transferencia_id,
                                       telefono=estado.desde, ahora=ctx.ahora)
    return Resultado("registrada")
