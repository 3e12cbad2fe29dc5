"""Tablas iniciales: agenda, cancelaciones, llamadas, transferencias y agentes.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "agente",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usuario", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("creado_en", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agente")),
        sa.UniqueConstraint("usuario", name=op.f("uq_agente_usuario")),
    )
    op.create_table(
        "derechohabiente",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("curp", sa.String(length=18), nullable=False),
        sa.Column("rfc", sa.String(length=13), nullable=True),
        sa.Column("nombre", sa.String(length=120), nullable=False),
        sa.Column("primer_apellido", sa.String(length=120), nullable=False),
        sa.Column("segundo_apellido", sa.String(length=120), nullable=True),
        sa.Column("telefono", sa.String(length=30), nullable=True),
        sa.Column("curp_teclas", sa.String(length=18), nullable=False),
        sa.Column("rfc_teclas", sa.String(length=13), nullable=True),
        sa.Column("apellido_teclas", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_derechohabiente")),
        sa.UniqueConstraint("curp", name=op.f("uq_derechohabiente_curp")),
    )
    op.create_index(op.f("ix_derechohabiente_apellido_teclas"), "derechohabiente",
                    ["apellido_teclas"])
    op.create_index(op.f("ix_derechohabiente_curp_teclas"), "derechohabiente", ["curp_teclas"])
    op.create_index(op.f("ix_derechohabiente_rfc_teclas"), "derechohabiente", ["rfc_teclas"])
    op.create_table(
        "unidad",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nombre", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unidad")),
        sa.UniqueConstraint("nombre", name=op.f("uq_unidad_nombre")),
    )
    op.create_table(
        "cita",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clave", sa.String(length=6), nullable=False),
        sa.Column("derechohabiente_id", sa.Integer(), nullable=False),
        sa.Column("unidad_id", sa.Integer(), nullable=False),
        sa.Column("ventanilla", sa.String(length=40), nullable=False),
        sa.Column("fecha", sa.Date(), nullable=False),
        sa.Column("hora_inicio", sa.Time(), nullable=False),
        sa.Column("hora_fin", sa.Time(), nullable=False),
        sa.Column("tramite", sa.String(length=100), nullable=False),
        sa.Column("estado", sa.String(length=20), nullable=False),
        sa.CheckConstraint("estado IN ('agendada', 'cancelada', 'atendida')",
                           name=op.f("ck_cita_estado")),
        sa.CheckConstraint("hora_fin > hora_inicio", name=op.f("ck_cita_horas")),
        sa.ForeignKeyConstraint(["derechohabiente_id"], ["derechohabiente.id"],
                                name=op.f("fk_cita_derechohabiente_id_derechohabiente")),
        sa.ForeignKeyConstraint(["unidad_id"], ["unidad.id"],
                                name=op.f("fk_cita_unidad_id_unidad")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cita")),
        sa.UniqueConstraint("clave", name=op.f("uq_cita_clave")),
    )
    op.create_index(op.f("ix_cita_derechohabiente_id"), "cita", ["derechohabiente_id"])
    op.create_table(
        "llamada",
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("desde", sa.String(length=64), nullable=True),
        sa.Column("iniciada_en", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terminada_en", sa.DateTime(timezone=True), nullable=True),
        sa.Column("desenlace", sa.String(length=64), nullable=True),
        sa.Column("ultimo_nodo", sa.String(length=64), nullable=True),
        sa.Column("razon", sa.String(length=64), nullable=True),
        sa.Column("derechohabiente_id", sa.Integer(), nullable=True),
        sa.Column("ruta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["derechohabiente_id"], ["derechohabiente.id"],
                                name=op.f("fk_llamada_derechohabiente_id_derechohabiente")),
        sa.PrimaryKeyConstraint("call_sid", name=op.f("pk_llamada")),
    )
    op.create_table(
        "cancelacion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cita_id", sa.Integer(), nullable=False),
        sa.Column("folio", sa.String(length=8), nullable=False),
        sa.Column("solicitante_tipo", sa.String(length=10), nullable=False),
        sa.Column("solicitante_nombre", sa.String(length=200), nullable=True),
        sa.Column("motivo_codigo", sa.Integer(), nullable=False),
        sa.Column("motivo_texto", sa.Text(), nullable=False),
        sa.Column("canal", sa.String(length=10), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("creada_en", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("canal IN ('ivr', 'agente')", name=op.f("ck_cancelacion_canal")),
        sa.CheckConstraint("solicitante_tipo IN ('titular', 'tercero')",
                           name=op.f("ck_cancelacion_solicitante_tipo")),
        sa.ForeignKeyConstraint(["cita_id"], ["cita.id"], name=op.f("fk_cancelacion_cita_id_cita")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancelacion")),
        sa.UniqueConstraint("cita_id", name=op.f("uq_cancelacion_cita_id")),
        sa.UniqueConstraint("folio", name=op.f("uq_cancelacion_folio")),
    )
    op.create_table(
        "transferencia",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("razon", sa.String(length=64), nullable=False),
        sa.Column("nodo", sa.String(length=64), nullable=True),
        sa.Column("identificado", sa.Boolean(), nullable=False),
        sa.Column("derechohabiente_id", sa.Integer(), nullable=True),
        sa.Column("cita_id", sa.Integer(), nullable=True),
        sa.Column("creada_en", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dial_status", sa.String(length=32), nullable=True),
        sa.Column("atendida", sa.Boolean(), nullable=False),
        sa.Column("atendida_por", sa.String(length=64), nullable=True),
        sa.Column("contexto", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["cita_id"], ["cita.id"],
                                name=op.f("fk_transferencia_cita_id_cita")),
        sa.ForeignKeyConstraint(["derechohabiente_id"], ["derechohabiente.id"],
                                name=op.f("fk_transferencia_derechohabiente_id_derechohabiente")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transferencia")),
    )
    op.create_index(op.f("ix_transferencia_call_sid"), "transferencia", ["call_sid"])
    op.create_index(op.f("ix_transferencia_creada_en"), "transferencia", ["creada_en"])


def downgrade() -> None:
    """Drop every table (their indexes go with them)."""
    for tabla in ("transferencia", "cancelacion", "llamada", "cita", "unidad", "derechohabiente",
                  "agente"):
        op.drop_table(tabla)
