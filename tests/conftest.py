"""Fixtures shared by every layer: real databases (SQLite file; PostgreSQL when configured)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.db import migrate
from bot.db.engine import make_engine
from bot.services.database import Database
from tests.helpers import databases

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config):
    config.addinivalue_line("markers", "backends: runs on SQLite and PostgreSQL")


@pytest.fixture(scope="session")
def postgres_template():
    url = databases.postgres_url()
    if not url:
        if os.environ.get(databases.REQUIRE_PG_ENV):
            pytest.fail(f"{databases.PG_ENV} is not set but PostgreSQL is required")
        pytest.skip(f"PostgreSQL not configured (set {databases.PG_ENV})")
    databases.make_template(url)
    yield url
    databases.drop_template(url)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A migrated, empty database on each backend; the test runs once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sopbot.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
        return
    base = request.getfixturevalue("postgres_template")
    url = databases.new_postgres_database(base)
    yield url
    databases.drop_postgres_database(url)


@pytest.fixture
def db(database_url):
    """A `Database` (the unit of work) on a migrated database, per backend."""
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def now():
    """A fixed clock: domain code never reads the time itself."""
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pytest_terminal_summary(terminalreporter):
    """Say how many tests ran on each database backend, so a run shows both were exercised."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome != "skipped":
                continue
            for backend in BACKENDS:
                if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid:
                    counts.setdefault(backend, {}).setdefault(outcome, 0)
                    counts[backend][outcome] += 1
    if counts:
        terminalreporter.write_sep("-", "database backends")
        for backend in BACKENDS:
            tally = ", ".join(f"{n} {o}" for o, n in sorted(counts.get(backend, {}).items()))
            terminalreporter.write_line(f"{backend}: {tally or 'no tests'}")
