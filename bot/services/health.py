"""Whether the database answers, for the HTTP API's health check."""

from __future__ import annotations

from sqlalchemy import text

from bot.services.database import Database


def database_answers(db: Database) -> bool:
    """True when a trivial query comes back; any failure to reach the database is False."""
    try:
        with db.reading() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
