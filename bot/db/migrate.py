"""Run Alembic from sopbot's own config, so there is one source for the database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config(url: str, engine: Engine | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (head by default)."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check(engine: Engine) -> None:
    """Raise if the models and the migrated schema differ (alembic check)."""
    _run(engine, command.check)


def _run(engine: Engine, fn, *args) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False), engine)
    # SQLite writers BEGIN IMMEDIATE; DDL needs the same, which is the engine's default.
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, *args)
