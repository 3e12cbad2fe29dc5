"""Supervisors, and what the supervisor report needs of each call: every input (node, keys or
speech or silence, failed or not) and Twilio's call duration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add agente.supervisor, llamada.entradas and llamada.duracion_segundos."""
    with op.batch_alter_table("agente") as tabla:
        tabla.add_column(sa.Column("supervisor", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.add_column("llamada", sa.Column("entradas", sa.JSON(), nullable=True))
    op.add_column("llamada", sa.Column("duracion_segundos", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    op.drop_column("llamada", "duracion_segundos")
    op.drop_column("llamada", "entradas")
    with op.batch_alter_table("agente") as tabla:
        tabla.drop_column("supervisor")
