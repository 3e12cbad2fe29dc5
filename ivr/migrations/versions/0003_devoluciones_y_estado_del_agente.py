"""Devoluciones de llamada, and the state of the agent's leg of a transfer ("en línea").

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the callback requests and the agent leg's state."""
    op.add_column("transferencia", sa.Column("agente_estado", sa.String(length=32),
                                             nullable=True))
    op.add_column("transferencia", sa.Column("agente_estado_en", sa.DateTime(timezone=True),
                                             nullable=True))
    op.create_table(
        "devolucion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("transferencia_id", sa.Integer(), nullable=False),
        sa.Column("telefono", sa.String(length=64), nullable=False),
        sa.Column("creada_en", sa.DateTime(timezone=True), nullable=False),
        sa.Column("estado", sa.String(length=10), nullable=False),
        sa.Column("resultado", sa.String(length=20), nullable=True),
        sa.Column("nota", sa.String(length=200), nullable=True),
        sa.Column("llamado_en", sa.DateTime(timezone=True), nullable=True),
        sa.Column("llamado_por", sa.String(length=64), nullable=True),
        sa.CheckConstraint("estado IN ('pendiente', 'llamado')",
                           name=op.f("ck_devolucion_estado")),
        sa.CheckConstraint("resultado IS NULL OR resultado IN ('contactado', 'no_contesto', "
                           "'numero_equivocado', 'otro')", name=op.f("ck_devolucion_resultado")),
        sa.ForeignKeyConstraint(["transferencia_id"], ["transferencia.id"],
                                name=op.f("fk_devolucion_transferencia_id_transferencia")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devolucion")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_devolucion_call_sid")),
    )
    op.create_index(op.f("ix_devolucion_creada_en"), "devolucion", ["creada_en"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("devolucion")
    with op.batch_alter_table("transferencia") as batch:
        batch.drop_column("agente_estado_en")
        batch.drop_column("agente_estado")
