"""Alembic migrations, configured in code (no alembic.ini, no reliance on the working directory).

New revision: ``alembic.command.revision(config(url), message="...", autogenerate=True)``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

CARPETA = Path(__file__).resolve().parent


def config(url: str) -> Config:
    """An Alembic config pointing at this package's scripts and at the database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(CARPETA))
    cfg.set_main_option("path_separator", "os")
    # Passed as an attribute, not an option: options are %-interpolated (passwords aren't).
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (default: all) to the database at this URL."""
    command.upgrade(config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Undo migrations down to `revision` ("base" for an empty database)."""
    command.downgrade(config(url), revision)
