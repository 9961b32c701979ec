"""Alembic migrations run programmatically, and the embedded default's database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gamehub import embedded_pg
from gamehub.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """`alembic upgrade head` on the given database; call it outside a running event loop."""
    command.upgrade(alembic_config(database_url), revision)


def ensure_database(settings: Settings) -> Settings:
    """The settings with a database to use: with none configured, the embedded default's own
    PostgreSQL under the data folder, started (created on first start) and migrated."""
    if not settings.uses_embedded_database:
        return settings
    url = embedded_pg.start(settings.embedded_database_dir, database="gamehub")
    upgrade(url)
    return settings.with_overrides(database_url=url)
