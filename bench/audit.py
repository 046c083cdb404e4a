"""Audit and metrics at scale: verify speed, export memory, /stats over a year of tickets.

A million events (quick: 100,000) are written in bulk with a chain computed beforehand by
`bot.domain.audit_chain` itself, so `verify` is checked against the definition, not against
its own fast path. SQLite by default; PostgreSQL too when SOPBOT_BENCH_POSTGRES_URL is set.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from bench.common import Result, median_of, postgres_server, scratch_postgres, timed
from bot.db import migrate
from bot.db.models import AuditEvent, Counter
from bot.db.models import tickets as tickets_table
from bot.domain.audit_chain import GENESIS, canonical_event, chain_hash
from bot.services import stats, verify
from bot.services.database import Database

AREA = "audit"
ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 3, 1, tzinfo=UTC)
ACTIONS = (
    ("question.asked", lambda i: {"field": f"field_{i % 7}"}),
    ("answer.accepted", lambda i: {"field": f"field_{i % 7}", "value": f"v{i}", "old": None}),
    ("status.changed", lambda i: {"from": "open", "to": "in_progress"}),
    ("comment.added", lambda i: {"text": f"Zażółć gęślą jaźń #{i} — a comment of some length"}),
)


def fill_audit(db: Database, count: int, batch: int = 20_000) -> None:
    """`count` chained events, inserted in bulk; the audit counter is set to match."""
    prev = GENESIS
    table = AuditEvent.__table__
    with db.engine.begin() as conn:
        rows = []
        for seq in range(1, count + 1):
            action, make = ACTIONS[seq % len(ACTIONS)]
            at = START + timedelta(seconds=seq * 30)
            fields = dict(
                at=at,
                actor_id=1000 + seq % 25,
                actor_name=f"Person {seq % 25}",
                ticket_id=seq // 20 + 1,
                action=action,
                details=make(seq),
                procedure_id="vpn-access",
                procedure_version="3f2a9c1d0b" * 4,
            )
            digest = chain_hash(prev, canonical_event(seq=seq, **fields))
            rows.append({"id": seq, **fields, "prev_hash": prev, "hash": digest})
            prev = digest
            if len(rows) == batch:
                conn.execute(insert(table), rows)
                rows = []
        if rows:
            conn.execute(insert(table), rows)
        conn.execute(update(Counter).where(Counter.name == "audit").values(value=count))


def fill_tickets(db: Database, per_day: int, days: int = 730) -> int:
    """Two years of tickets (the report compares a year with the year before)."""
    rnd = random.Random(8)
    rows = []
    number = 0
    for day in range(days):
        for _ in range(per_day):
            number += 1
            opened = START + timedelta(days=day, seconds=rnd.randrange(86_400))
            resolved = opened + timedelta(minutes=rnd.randrange(10, 5 * 24 * 60))
            status = rnd.choice(("resolved", "closed", "closed", "in_progress"))
            rows.append(
                dict(
                    id=number,
                    procedure_id=f"proc-{number % 12}",
                    procedure_version=f"v{number % 3}" * 8,
                    title="t",
                    description="",
                    status=status,
                    close_reason="done" if status == "closed" else None,
                    reporter_id=1,
                    reporter_name="r",
                    chat_id=-1,
                    chat_type="group",
                    created_at=opened,
                    updated_at=opened,
                    opened_at=opened,
                    due_at=opened + timedelta(days=2),
                    resolved_at=None if status == "in_progress" else resolved,
                    closed_at=resolved if status == "closed" else None,
                    reopen_count=int(rnd.random() < 0.1),
                    questions_asked=rnd.randrange(5),
                    invalid_answers=rnd.randrange(2),
                )
            )
    with db.engine.begin() as conn:
        for i in range(0, len(rows), 10_000):
            conn.execute(insert(tickets_table), rows[i : i + 10_000])
    return number


def export_peak_rss_mb(url: str) -> float:
    """Peak RSS of a child process that exports everything as JSONL to /dev/null.

    The child reports its own peak, VmHWM of its own memory map: the runner's other children
    must not count, nor the runner itself (Linux carries a forked parent's peak across exec
    into the child's ru_maxrss, so after the sweep benchmark that read ~290 MB)."""
    code = (
        "import sys; from zoneinfo import ZoneInfo; from bot.services import export; "
        "from bot.services.database import Database; db = Database.from_url(sys.argv[1]); "
        "out = open('/dev/null', 'w');\n"
        "with db.reading() as s: n = export.export(s, out, 'jsonl', export.Filter(), "
        "ZoneInfo('UTC'))\n"
        "print(n, next(int(line.split()[1]) for line in open('/proc/self/status') "
        "if line.startswith('VmHWM:')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, url], cwd=ROOT, capture_output=True, text=True, check=True
    )
    exported, peak_kib = (int(x) for x in proc.stdout.split())
    assert exported > 0, proc.stderr
    return peak_kib / 1024  # KiB on Linux


def _backend(name: str, url: str, quick: bool) -> list[Result]:
    count = 100_000 if quick else 1_000_000
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    results = []
    try:
        started = time.perf_counter()
        fill_audit(db, count)
        fill_seconds = time.perf_counter() - started

        with db.reading() as s:
            started, cpu = time.perf_counter(), time.process_time()
            outcome = verify.verify_chain(s)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert outcome.ok and outcome.checked == count, outcome
        rate = count / seconds
        results.append(
            Result(
                AREA,
                f"verify {count:,} events ({name})",
                round(rate),
                "events/s",
                ">= 100,000 events/s",
                rate >= 100_000,
                f"{seconds:.1f} s wall, {count / cpu:,.0f} events/s of this process's CPU; "
                f"bulk fill took {fill_seconds:.0f} s",
            )
        )

        rss = export_peak_rss_mb(url)
        results.append(
            Result(
                AREA,
                f"export {count:,} events as JSONL, peak RSS ({name})",
                round(rss, 1),
                "MB",
                "< 150 MB",
                rss < 150,
            )
        )

        per_day = 20 if quick else 100
        tickets = fill_tickets(db, per_day)
        now = START + timedelta(days=730)
        since, until = now - timedelta(days=365), now

        def one() -> float:
            with db.reading() as s:
                return timed(lambda: stats.compare_previous(s, since, until, now=now))

        one()  # warm the caches, as a running bot would have them
        seconds = median_of(5, one)
        results.append(
            Result(
                AREA,
                f"/stats over a year, compared with the year before ({name})",
                round(seconds * 1000, 1),
                "ms",
                "< 1000 ms",
                seconds < 1.0,
                f"{tickets:,} tickets in two years, 12 procedures x 3 versions",
            )
        )
    finally:
        db.dispose()
    return results


def run(quick: bool = False) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", quick)
    pg = postgres_server()
    if pg:
        with scratch_postgres(pg) as url:
            results += _backend("PostgreSQL", url, quick)
    return results


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
