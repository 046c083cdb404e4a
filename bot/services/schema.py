"""The database schema: bring it to a revision, or say which revision it is at."""

from __future__ import annotations

from bot.db import migrate
from bot.services.database import Database


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Migrate to `revision`; the revision the database is at afterwards."""
    migrate.upgrade(db.engine, revision)
    return migrate.current_revision(db.engine)


def current_revision(db: Database) -> str | None:
    """The schema revision of the database; None when it was never migrated."""
    return migrate.current_revision(db.engine)
