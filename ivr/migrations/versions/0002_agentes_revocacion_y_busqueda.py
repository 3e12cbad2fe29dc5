"""Agents: a session seal that logout renews; who an agent found for a transfer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add agente.sello_sesion and transferencia.encontrado_id/encontrado_por."""
    with op.batch_alter_table("agente") as tabla:
        tabla.add_column(sa.Column("sello_sesion", sa.String(length=32), nullable=True))
    with op.batch_alter_table("transferencia") as tabla:
        tabla.add_column(sa.Column("encontrado_id", sa.Integer(), nullable=True))
        tabla.add_column(sa.Column("encontrado_por", sa.String(length=64), nullable=True))
        tabla.create_foreign_key(op.f("fk_transferencia_encontrado_id_derechohabiente"),
                                 "derechohabiente", ["encontrado_id"], ["id"])


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("transferencia") as tabla:
        tabla.drop_constraint(op.f("fk_transferencia_encontrado_id_derechohabiente"),
                              type_="foreignkey")
        tabla.drop_column("encontrado_por")
        tabla.drop_column("encontrado_id")
    with op.batch_alter_table("agente") as tabla:
        tabla.drop_column("sello_sesion")
