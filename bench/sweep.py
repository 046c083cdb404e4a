"""The overdue sweep at scale: 1,000,000 tickets, 50,000 active, 5,000 overdue across 200 chats.

One sweep (its digests owed to the outbox, in its one transaction), timed on SQLite and (with
SOPBOT_BENCH_POSTGRES_URL) on PostgreSQL; the number of digests it owes; and the plan of its one
query over the tickets table, which must use the partial index `ix_tickets_chase_at`. The note
splits the time by phase (as the sweep reports it) and gives the time spent executing its heavy
statements.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, text

from bench.common import Result, postgres_server, scratch_postgres
from bot.config import ChatConfig, Config, DatabaseConfig
from bot.db import migrate
from bot.services.database import Database
from bot.services.outbox import Outbox
from bot.services.sweep import sweep

AREA = "sweep"
TARGET_SECONDS = 1.0
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INDEX = "ix_tickets_chase_at"

_COLUMNS = (
    "id, procedure_id, procedure_version, title, description, status, reporter_id, "
    "reporter_name, chat_id, chat_type, home_chat_id, assignee_id, assignee_name, created_at, "
    "updated_at, opened_at, due_at, chase_at, reopen_count, questions_asked, invalid_answers, "
    "remind_count, escalation_level"
)
# Everything but the times, which each backend writes its own way.
_VALUES = """
    i, 'bug', 'v1', 'Ticket ' || i, '',
    CASE WHEN i <= :active
         THEN CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' ELSE 'reopened' END
         ELSE CASE i % 2 WHEN 0 THEN 'closed' ELSE 'resolved' END END,
    2, 'Ann', 2, 'private', -(1000 + i % :chats),
    CASE WHEN i % 4 = 0 THEN NULL ELSE 100 + i % 7 END,
    CASE WHEN i % 4 = 0 THEN NULL ELSE 'Person ' || (i % 7) END,
    created, created, created, due, CASE WHEN i <= :active THEN due END, 0, 0, 0, 0, 0
"""
_SQLITE_LOAD = f"""
INSERT INTO tickets ({_COLUMNS})
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :total)
SELECT {_VALUES} FROM (
    SELECT i,
        datetime(:base, '-' || (10 + i % 1000) || ' hours') || '.000000' AS created,
        CASE WHEN i <= :overdue THEN datetime(:base, '-' || (1 + i % 100) || ' minutes')
             ELSE datetime(:base, '+' || (1 + i % 1000) || ' hours') END || '.000000' AS due
    FROM n)
"""
_PG_LOAD = f"""
INSERT INTO tickets ({_COLUMNS})
SELECT {_VALUES} FROM (
    SELECT i,
        CAST(:base AS timestamptz) - (10 + i % 1000) * interval '1 hour' AS created,
        CASE WHEN i <= :overdue
             THEN CAST(:base AS timestamptz) - (1 + i % 100) * interval '1 minute'
             ELSE CAST(:base AS timestamptz) + (1 + i % 1000) * interval '1 hour' END AS due
    FROM generate_series(1, :total) AS i) AS s
"""


@dataclass(frozen=True)
class Scale:
    total: int
    active: int
    overdue: int
    chats: int


FULL = Scale(1_000_000, 50_000, 5_000, 200)
QUICK = Scale(100_000, 5_000, 500, 20)


def run(quick: bool = False) -> list[Result]:
    scale = QUICK if quick else FULL
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _bench("sqlite", f"sqlite:///{Path(tmp) / 'sweep.db'}", scale)
    pg = postgres_server()
    if pg:
        with scratch_postgres(pg) as url:
            results += _bench("postgresql", url, scale)
    return results


def _bench(backend: str, url: str, scale: Scale) -> list[Result]:
    db = Database.from_url(url)
    try:
        migrate.upgrade(db.engine)
        load_seconds = _load(db, backend, scale)
        config = Config(
            database=DatabaseConfig(url=url, auto_migrate=False),
            chats=(ChatConfig(-1000, "Team"),),
        )
        watch = _Watch(db)
        start = time.perf_counter()
        report = sweep(db, config, None, NOW)
        seconds = time.perf_counter() - start
        plan = _plan(db, backend, watch.due_query)
        owed = Outbox(db, config).owed_count()
    finally:
        db.dispose()
    digests = len(report.digests)
    size = f"{scale.total:,} tickets, {scale.active:,} active, {scale.overdue:,} overdue"
    return [
        Result(
            AREA,
            f"one sweep, {backend} ({size})",
            round(seconds * 1000, 1),
            "ms",
            f"< {TARGET_SECONDS * 1000:.0f} ms",
            seconds < TARGET_SECONDS,
            note=(
                f"plan: {plan}; {report.reminded:,} reminded; {_phases(report.seconds)}; "
                f"executing statements: {watch.summary()}; loaded in {load_seconds:.1f} s"
            ),
        ),
        Result(
            AREA,
            f"digests owed, {backend} ({scale.overdue:,} overdue in {scale.chats} chats)",
            digests,
            "messages",
            f"= {scale.chats}",
            digests == scale.chats and owed == scale.chats,
            note="one digest per chat, not one message per ticket",
        ),
        Result(
            AREA,
            f"due query uses {INDEX}, {backend}",
            1.0 if INDEX in plan else 0.0,
            "yes/no",
            "yes",
            INDEX in plan,
            note=plan,
        ),
    ]


def _load(db: Database, backend: str, scale: Scale) -> float:
    """Bulk-load the tickets in one INSERT ... SELECT, then refresh the planner's statistics."""
    params = {
        "total": scale.total,
        "active": scale.active,
        "overdue": scale.overdue,
        "chats": scale.chats,
        "base": NOW.strftime("%Y-%m-%d %H:%M:%S") if backend == "sqlite" else NOW.isoformat(),
    }
    start = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text(_SQLITE_LOAD if backend == "sqlite" else _PG_LOAD), params)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # A long-lived database is vacuumed; right after a bulk load the first reader would
        # otherwise pay for setting every row's hint bits (and race autovacuum).
        conn.exec_driver_sql("ANALYZE" if backend == "sqlite" else "VACUUM ANALYZE tickets")
    return time.perf_counter() - start


def _phases(seconds: dict[str, float]) -> str:
    ms = {name: round(s * 1000) for name, s in seconds.items()}
    return (
        f"one transaction {ms.get('chase', 0)} ms (claim {ms.get('claim', 0)} ms, "
        f"owe {ms.get('owe', 0)} ms, the rest commit), daily plan {ms.get('daily', 0)} ms"
    )


class _Watch:
    """Remembers the sweep's query over all tickets (the one that must use the index) and adds
    up the time its statements take to execute, by kind (a SELECT's rows are fetched later)."""

    def __init__(self, db: Database):
        self.due_query: list[tuple[str, object]] = []
        self.ms: dict[str, float] = defaultdict(float)
        self._started = 0.0
        event.listen(db.engine, "before_cursor_execute", self._before)
        event.listen(db.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if not self.due_query:
            flat = " ".join(statement.split())
            if "FROM tickets WHERE tickets.chase_at IS NOT NULL" in flat:
                self.due_query.append((statement, parameters))
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.ms[_kind(statement)] += (time.perf_counter() - self._started) * 1000

    def summary(self) -> str:
        kinds = ("due query", "chase UPDATE", "record UPDATE", "audit INSERT", "other")
        return ", ".join(f"{kind} {self.ms.get(kind, 0):.0f} ms" for kind in kinds)


def _kind(statement: str) -> str:
    head = statement.lstrip()[:200]
    if head.startswith("UPDATE tickets"):
        # Deferred and finished tickets' new chase times.
        return "record UPDATE" if "last_reminded_at" in head else "chase UPDATE"
    if head.startswith("INSERT INTO audit_events"):
        return "audit INSERT"
    if head.startswith("SELECT") and "tickets.chase_at IS NOT NULL" in statement:
        return "due query"
    return "other"


def _plan(db: Database, backend: str, captured: list[tuple[str, object]]) -> str:
    if not captured:
        return "(the due query did not run)"
    statement, parameters = captured[0]
    explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(explain + statement, parameters)
        rows = cursor.fetchall()
    finally:
        raw.close()
    lines = [str(row[-1]) if backend == "sqlite" else str(row[0]) for row in rows]
    return " | ".join(line.strip() for line in lines)


if __name__ == "__main__":
    for r in run(quick=os.environ.get("QUICK") == "1"):
        print(r)
