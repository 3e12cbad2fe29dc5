"""SQLAlchemy models: derechohabientes, unidades, citas, cancelaciones, calls, transfers, agents."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from ivr.domain.keypad import a_teclas

MEXICO = ZoneInfo("America/Mexico_City")
ESTADOS_CITA = ("agendada", "cancelada", "atendida")
SOLICITANTES = ("titular", "tercero")
CANALES = ("ivr", "agente")
DESTINOS_OUTBOX = ("sistema_citas", "sms")
ESTADOS_OUTBOX = ("pendiente", "entregado", "muerto")
TRAMITE_PRESTAMO = "préstamo personal"


def ahora_utc() -> datetime:
    """The current instant, UTC-aware (default for timestamps)."""
    return datetime.now(UTC)


def _en(columna: str, valores: tuple[str, ...]) -> str:
    return f"{columna} IN ({', '.join(repr(v) for v in valores)})"


# Each searchable field of a derechohabiente, and the column holding its keypad form.
TECLAS = {"curp": "curp_teclas", "rfc": "rfc_teclas", "primer_apellido": "apellido_teclas"}


def teclas_de(campo: str, valor: str | None) -> str | None:
    """The keypad form stored beside *campo* (a key of TECLAS) for *valor*."""
    if not valor:
        return valor
    if campo == "rfc" and "&" in valor:
        # RFCs may hold "&" (SAT keeps it from the name), which no phone key types: such
        # a caller is found by CURP instead, or by voice.
        return None
    return a_teclas(valor)


class Base(DeclarativeBase):
    """Declarative base; constraint names are fixed so migrations are the same on every DB."""

    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Derechohabiente(Base):
    """An insured worker or pensioner; the keypad forms are kept in step with the values."""

    __tablename__ = "derechohabiente"

    id: Mapped[int] = mapped_column(primary_key=True)
    curp: Mapped[str] = mapped_column(String(18), unique=True)
    rfc: Mapped[str | None] = mapped_column(String(13))
    nombre: Mapped[str] = mapped_column(String(120))
    primer_apellido: Mapped[str] = mapped_column(String(120))
    segundo_apellido: Mapped[str | None] = mapped_column(String(120))
    telefono: Mapped[str | None] = mapped_column(String(30))
    curp_teclas: Mapped[str] = mapped_column(String(18), index=True)
    rfc_teclas: Mapped[str | None] = mapped_column(String(13), index=True)
    apellido_teclas: Mapped[str] = mapped_column(String(120), index=True)

    @validates(*TECLAS)
    def _poner_teclas(self, clave: str, valor: str | None) -> str | None:
        # Setting a value sets its keypad form, so a lookup by keys can never go stale.
        setattr(self, TECLAS[clave], teclas_de(clave, valor))
        return valor

    def __repr__(self) -> str:  # no personal data in reprs: they end up in logs
        return f"<Derechohabiente {self.id}>"


class Unidad(Base):
    """An administrative unit where citas take place (e.g. "UAPES No. 4")."""

    __tablename__ = "unidad"

    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)


class Cita(Base):
    """An appointment; fecha and horas are naive Mexico City local time."""

    __tablename__ = "cita"
    __table_args__ = (
        CheckConstraint(_en("estado", ESTADOS_CITA), name="estado"),
        CheckConstraint("hora_fin > hora_inicio", name="horas"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clave: Mapped[str] = mapped_column(String(6), unique=True)
    derechohabiente_id: Mapped[int] = mapped_column(ForeignKey("derechohabiente.id"), index=True)
    unidad_id: Mapped[int] = mapped_column(ForeignKey("unidad.id"))
    ventanilla: Mapped[str] = mapped_column(String(40))
    fecha: Mapped[date] = mapped_column(Date)
    hora_inicio: Mapped[time] = mapped_column(Time)
    hora_fin: Mapped[time] = mapped_column(Time)
    tramite: Mapped[str] = mapped_column(String(100), default=TRAMITE_PRESTAMO)
    estado: Mapped[str] = mapped_column(String(20), default="agendada")

    @property
    def inicio(self) -> datetime:
        """When the cita starts, aware, in Mexico City."""
        return datetime.combine(self.fecha, self.hora_inicio, tzinfo=MEXICO)

    @property
    def fin(self) -> datetime:
        """When the cita ends, aware, in Mexico City."""
        return datetime.combine(self.fecha, self.hora_fin, tzinfo=MEXICO)

    def __repr__(self) -> str:
        return f"<Cita {self.id} {self.clave} {self.estado}>"


class Cancelacion(Base):
    """The cancellation of a cita (one at most), with the folio read to the caller."""

    __tablename__ = "cancelacion"
    __table_args__ = (
        CheckConstraint(_en("solicitante_tipo", SOLICITANTES), name="solicitante_tipo"),
        CheckConstraint(_en("canal", CANALES), name="canal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cita_id: Mapped[int] = mapped_column(ForeignKey("cita.id"), unique=True)
    folio: Mapped[str] = mapped_column(String(8), unique=True)
    solicitante_tipo: Mapped[str] = mapped_column(String(10))
    solicitante_nombre: Mapped[str | None] = mapped_column(String(200))
    motivo_codigo: Mapped[int] = mapped_column(Integer)
    motivo_texto: Mapped[str] = mapped_column(Text)
    canal: Mapped[str] = mapped_column(String(10))
    call_sid: Mapped[str | None] = mapped_column(String(64))
    creada_en: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=ahora_utc)
    agente: Mapped[str | None] = mapped_column(String(64))  # the agent's user, when one cancelled


class Llamada(Base):
    """A call to the line: how it ended and the path it took (never the full CURP)."""

    __tablename__ = "llamada"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    desde: Mapped[str | None] = mapped_column(String(64))
    iniciada_en: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=ahora_utc)
    terminada_en: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    desenlace: Mapped[str | None] = mapped_column(String(64))
    ultimo_nodo: Mapped[str | None] = mapped_column(String(64))
    razon: Mapped[str | None] = mapped_column(String(64))
    derechohabiente_id: Mapped[int | None] = mapped_column(ForeignKey("derechohabiente.id"))
    ruta: Mapped[list] = mapped_column(JSON, default=list)
    # Every answer at a Gather: [node, "teclas" | "voz" | "silencio", failed (a retry follows)].
    entradas: Mapped[list | None] = mapped_column(JSON)
    duracion_segundos: Mapped[int | None] = mapped_column(Integer)  # Twilio's CallDuration


class Transferencia(Base):
    """A transfer to the agents, with why it happened and what the line knew."""

    __tablename__ = "transferencia"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    razon: Mapped[str] = mapped_column(String(64))
    nodo: Mapped[str | None] = mapped_column(String(64))
    identificado: Mapped[bool] = mapped_column(Boolean, default=False)
    derechohabiente_id: Mapped[int | None] = mapped_column(ForeignKey("derechohabiente.id"))
    cita_id: Mapped[int | None] = mapped_column(ForeignKey("cita.id"))
    creada_en: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=ahora_utc,
                                                index=True)
    dial_status: Mapped[str | None] = mapped_column(String(32))
    atendida: Mapped[bool] = mapped_column(Boolean, default=False)
    atendida_por: Mapped[str | None] = mapped_column(String(64))
    contexto: Mapped[dict | None] = mapped_column(JSON)
    # Who an agent found by CURP or RFC when the line didn't identify the caller (kept here,
    # never taken from the browser: a cancel on this transfer is about this person only).
    encontrado_id: Mapped[int | None] = mapped_column(ForeignKey("derechohabiente.id"))
    encontrado_por: Mapped[str | None] = mapped_column(String(64))
    # The agent's leg of the <Dial>, from its statusCallback: initiated, ringing, in-progress,
    # completed... "En línea" on the agents' page is ringing or in-progress.
    agente_estado: Mapped[str | None] = mapped_column(String(32))
    agente_estado_en: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


RESULTADOS_DEVOLUCION = ("contactado", "no_contesto", "numero_equivocado", "otro")


class Devolucion(Base):
    """A caller's request to be called back by an agent in agent hours (devolución de llamada).

    It comes from a transfer that could not reach an agent (out of hours, or a failed dial):
    its context (reason, who, which cita, the path) is that transfer's."""

    __tablename__ = "devolucion"
    __table_args__ = (
        CheckConstraint(_en("estado", ("pendiente", "llamado")), name="estado"),
        CheckConstraint(f"resultado IS NULL OR {_en('resultado', RESULTADOS_DEVOLUCION)}",
                        name="resultado"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)  # one request per call
    transferencia_id: Mapped[int] = mapped_column(ForeignKey("transferencia.id"))
    telefono: Mapped[str] = mapped_column(String(64))  # the number to call: the caller's own
    creada_en: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=ahora_utc,
                                                index=True)
    estado: Mapped[str] = mapped_column(String(10), default="pendiente")
    resultado: Mapped[str | None] = mapped_column(String(20))
    nota: Mapped[str | None] = mapped_column(String(200))
    llamado_en: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    llamado_por: Mapped[str | None] = mapped_column(String(64))
    transferencia: Mapped[Transferencia] = relationship()

    def __repr__(self) -> str:  # the phone number is personal data: never in a repr
        return f"<Devolucion {self.id} {self.estado}>"


class Agente(Base):
    """An account for the agents' page (password stored hashed)."""

    __tablename__ = "agente"

    id: Mapped[int] = mapped_column(primary_key=True)
    usuario: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    creado_en: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=ahora_utc)
    # Part of every session cookie's seal: a new one (at logout, or a password reset) makes
    # every cookie issued before it worthless.
    sello_sesion: Mapped[str | None] = mapped_column(String(32))
    # A supervisor also sees the report (/agent/informe); `ivr create-agent --supervisor`.
    supervisor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EventoOutbox(Base):
    """A message to deliver outside (the Sistema de Citas, an SMS), written in the same
    transaction as what it tells; the worker delivers it at least once, in order per cita."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_en("destino", DESTINOS_OUTBOX), name="destino"),
        CheckConstraint(_en("estado", ESTADOS_OUTBOX), name="estado"),
        # The worker's question: what is pending and due, oldest first.
        Index("ix_outbox_estado_proximo_intento_en", "estado", "proximo_intento_en"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evento_id: Mapped[str] = mapped_column(String(36), unique=True)  # uuid: Idempotency-Key
    evento: Mapped[str] = mapped_column(String(40))
    destino: Mapped[str] = mapped_column(String(20))
    cita_id: Mapped[int] = mapped_column(ForeignKey("cita.id"), index=True)
    cancelacion_id: Mapped[int | None] = mapped_column(ForeignKey("cancelacion.id"), index=True)
    cuerpo: Mapped[str] = mapped_column(Text)  # exactly what is sent (JSON)
    estado: Mapped[str] = mapped_column(String(10), default="pendiente")
    intentos: Mapped[int] = mapped_column(Integer, default=0)
    creado_en: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=ahora_utc)
    proximo_intento_en: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    vence_en: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entregado_en: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ultimo_error: Mapped[str | None] = mapped_column(String(300))

    def __repr__(self) -> str:  # the body holds a CURP or a phone number: never in a repr
        return f"<EventoOutbox {self.id} {self.evento} {self.destino} {self.estado}>"
