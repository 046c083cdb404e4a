"""The changefeed: `head.json` polls answered 304 per second, and the time of a 1,000-change page.

The server runs in this process (uvicorn in a thread, as beside the bot); the polls come from a
second process over loopback, as many keep-alive connections, for a bounded few seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from bench.common import Result, median_of, timed
from bot.config import Config, ConsumerConfig, HttpConfig
from bot.db import migrate
from bot.db.models import AuditEvent, Counter
from bot.domain.audit_chain import GENESIS, canonical_event, chain_hash
from bot.http.server import build_server
from bot.services import feed
from bot.services.database import Database

TOKEN = "bench-" + "z" * 40
CONSUMER = ConsumerConfig("bench", TOKEN)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Few keep-alive pollers: on two cores more connections only add client overhead.
CONNECTIONS = 4

# The load generator, run by a second interpreter: N connections, each sending the poll and
# reading the answer's headers (a 304 has no body), until the time is up.
_CLIENT = r"""
import asyncio, sys, time
port, token, etag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seconds, conns = float(sys.argv[4]), int(sys.argv[5])
request = (
    "GET /changes/head.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    f"Authorization: Bearer {token}\r\nIf-None-Match: {etag}\r\n\r\n"
).encode()
counts = {"304": 0, "other": 0}
async def one(deadline):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        counts["304" if head.startswith(b"HTTP/1.1 304") else "other"] += 1
    writer.close()
async def main():
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    await asyncio.gather(*(one(deadline) for _ in range(conns)))
    print(counts["304"], counts["other"], time.monotonic() - start)
asyncio.run(main())
"""


@dataclass
class _Services:
    db: Database


def _fill(db: Database, n: int) -> None:
    """`n` chained audit events, written in bulk (the chain is computed as `record` would)."""
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = T0 + timedelta(seconds=seq)
        details = {"field": "room", "old": seq - 1, "new": seq}
        fields = dict(
            at=at,
            actor_id=2,
            actor_name="Ann",
            ticket_id=seq % 50 + 1,
            action="field.changed",
            details=details,
            procedure_id="p",
            procedure_version="v1",
        )
        h = chain_hash(prev, canonical_event(seq=seq, **fields))
        rows.append({"id": seq, **fields, "prev_hash": prev, "hash": h})
        prev = h
    with db.transaction() as s:
        s.execute(insert(AuditEvent), rows)
        s.execute(update(Counter).where(Counter.name == "audit").values(value=n))


def _page_ms(db: Database, cursor: str) -> float:
    def one() -> float:
        def read() -> None:
            with db.reading() as s:
                page = feed.changes(s, consumer=CONSUMER, cursor=cursor, limit=1000)
                json.dumps(page.as_json(), separators=(",", ":"))
                assert len(page.items) == 1000

        return timed(read) * 1000

    return median_of(7, one)


def _polls_per_second(db: Database, seconds: float, conns: int) -> tuple[float, int]:
    config = Config(http=HttpConfig(enabled=True, port=0, consumers=(CONSUMER,)))
    server = build_server(config, _Services(db))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        import httpx

        etag = httpx.get(
            f"http://127.0.0.1:{port}/changes/head.json",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).headers["etag"]
        out = subprocess.run(
            [sys.executable, "-c", _CLIENT, str(port), TOKEN, etag, str(seconds), str(conns)],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout.split()
    finally:
        server.should_exit = True
        thread.join(10)
    ok, other, elapsed = int(out[0]), int(out[1]), float(out[2])
    return ok / elapsed, other


def run(quick: bool = False) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.from_url(f"sqlite:///{Path(tmp) / 'feed.db'}")
        migrate.upgrade(db.engine)
        events = 3000 if quick else 20000
        _fill(db, events)
        with db.reading() as s:
            cursor = feed.changes(s, consumer=CONSUMER, limit=1000).next_cursor
        page = _page_ms(db, cursor)
        rate, other = _polls_per_second(db, 1.5 if quick else 3.0, CONNECTIONS)
        load = os.getloadavg()[0]
        db.dispose()
    return [
        Result(
            "feed",
            f"head.json + If-None-Match (304), second process, {CONNECTIONS} connections",
            round(rate),
            "req/s",
            ">= 5000",
            rate >= 5000,
            note=f"h11 parser; load average {load:.1f} on {os.cpu_count()} cores"
            + (f"; {other} non-304 answers" if other else ""),
        ),
        Result(
            "feed",
            f"page of 1,000 changes (SQLite, {events:,} events, incl. JSON)",
            round(page, 1),
            "ms",
            "< 50 ms",
            page < 50,
        ),
    ]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
