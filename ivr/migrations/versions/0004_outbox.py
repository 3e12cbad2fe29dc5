"""Outbox of events to deliver, and which agent cancelled a cita.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add cancelacion.agente and the outbox table."""
    op.add_column("cancelacion", sa.Column("agente", sa.String(length=64), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evento_id", sa.String(length=36), nullable=False),
        sa.Column("evento", sa.String(length=40), nullable=False),
        sa.Column("destino", sa.String(length=20), nullable=False),
        sa.Column("cita_id", sa.Integer(), nullable=False),
        sa.Column("cancelacion_id", sa.Integer(), nullable=True),
        sa.Column("cuerpo", sa.Text(), nullable=False),
        sa.Column("estado", sa.String(length=10), nullable=False),
        sa.Column("intentos", sa.Integer(), nullable=False),
        sa.Column("creado_en", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proximo_intento_en", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vence_en", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entregado_en", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ultimo_error", sa.String(length=300), nullable=True),
        sa.CheckConstraint("destino IN ('sistema_citas', 'sms')", name=op.f("ck_outbox_destino")),
        sa.CheckConstraint("estado IN ('pendiente', 'entregado', 'muerto')",
                           name=op.f("ck_outbox_estado")),
        sa.ForeignKeyConstraint(["cancelacion_id"], ["cancelacion.id"],
                                name=op.f("fk_outbox_cancelacion_id_cancelacion")),
        sa.ForeignKeyConstraint(["cita_id"], ["cita.id"], name=op.f("fk_outbox_cita_id_cita")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("evento_id", name=op.f("uq_outbox_evento_id")),
    )
    op.create_index(op.f("ix_outbox_cancelacion_id"), "outbox", ["cancelacion_id"])
    op.create_index(op.f("ix_outbox_cita_id"), "outbox", ["cita_id"])
    op.create_index("ix_outbox_estado_proximo_intento_en", "outbox",
                    ["estado", "proximo_intento_en"])


def downgrade() -> None:
    """Drop the outbox and cancelacion.agente."""
    op.drop_table("outbox")
    with op.batch_alter_table("cancelacion") as tabla:
        tabla.drop_column("agente")
