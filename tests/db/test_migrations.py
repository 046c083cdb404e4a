"""Migrations on both backends: from empty to head, no drift, and a full round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from bot.db import migrate
from bot.db.engine import make_engine
from tests.helpers import databases


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = request.getfixturevalue("postgres_template")
    url = databases.new_postgres_database(base, migrated=False)
    yield url
    databases.drop_postgres_database(url)


def test_upgrade_from_empty_creates_every_table(empty_url):
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {
        "tickets",
        "ticket_fields",
        "pending_questions",
        "audit_events",
        "reminders",
        "kb_articles",
        "ticket_steps",
        "counters",
    } <= tables
    assert migrate.current_revision(engine) is not None
    engine.dispose()


def test_models_and_migrations_agree(empty_url):
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.check(engine)  # raises when autogenerate would find a difference
    engine.dispose()


def test_downgrade_to_base_and_upgrade_again(empty_url):
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    head = migrate.current_revision(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert "tickets" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == head
    with engine.connect() as conn:
        counters = dict(conn.execute(text("SELECT name, value FROM counters")).all())
    assert counters == {"ticket": 0, "audit": 0}
    engine.dispose()
