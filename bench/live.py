"""The live view: 1,000 WebSocket clients on one server (as inside `sopbot run`).

- p99 from a ticket change being committed (a comment through the engine) to the *last* of
  the clients receiving it;
- the server's memory per idle client (resident set before and after they connect);
- all clients dropped at once, changes made while they are away, all reconnecting at once
  with their cursors: how many got exactly the changes they missed, in order.

The clients run in a second interpreter (a minimal WebSocket reader over asyncio streams), so
their work does not share the server's core and lock. Both processes read the same wall clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result, percentile
from bot.domain.actors import Actor
from bot.services import live, signin
from tests.helpers.engine import ANN, LEAD, TEAM_CHAT, Harness
from tests.helpers.live import LiveServer, free_port, live_config, migrated

CLIENTS = 1000
CHANGES = 40
AWAY = 20

# The clients: connect all, say "ready"; record when each change reached each client; on
# "drop", close all and say "dropped"; on "back", reconnect all with their cursors and check
# each receives exactly the changes listed on the next line.
_CLIENTS = r"""
import asyncio, base64, json, os, re, sys, time
url, cookie, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port, path = re.match(r"ws://([^:/]+):(\d+)(/.*)", url).groups()
SEQ = re.compile(rb'"item":\{"seq":(\d+)')
CURSOR = re.compile(rb'"cursor":"([0-9a-f]{64})"')
received = {}    # seq -> latest receive time over all clients
cursors = [None] * n
seqs = [[] for _ in range(n)]

# A minimal client (handshake, unmasked server frames): cheap, so the figures are the server's.
async def connect(i, cursor):
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path}?cursor={cursor} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Cookie: {cookie}\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return writer, asyncio.create_task(listen(i, reader))

async def listen(i, reader):
    while True:
        b0, b1 = await reader.readexactly(2)
        size = b1 & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await reader.readexactly(8), "big")
        data = await reader.readexactly(size)
        if b0 & 0x0F != 1:
            continue
        now = time.time()
        seq = int(SEQ.search(data).group(1))
        if now > received.get(seq, 0):
            received[seq] = now
        cursors[i] = CURSOR.search(data).group(1).decode()
        seqs[i].append(seq)

def line():
    return sys.stdin.readline().strip()

async def close_all(conns):
    for writer, task in conns:
        task.cancel()
        writer.close()

async def main():
    start_cursor = line()
    conns = []
    for first in range(0, n, 100):
        batch = range(first, min(n, first + 100))
        conns += await asyncio.gather(*(connect(i, start_cursor) for i in batch))
    print("ready", flush=True)
    await asyncio.to_thread(line)  # "drop"
    print(json.dumps({str(k): v for k, v in received.items()}), flush=True)
    await close_all(conns)
    last = list(cursors)
    for s in seqs:
        s.clear()
    print("dropped", flush=True)
    expected = json.loads(await asyncio.to_thread(line))  # the seqs missed
    began = time.time()
    conns = await asyncio.gather(*(connect(i, last[i]) for i in range(n)))
    deadline = time.time() + 60
    while time.time() < deadline and not all(len(s) >= len(expected) for s in seqs):
        await asyncio.sleep(0.01)
    took = time.time() - began
    exact = sum(1 for s in seqs if s == expected)
    print(json.dumps({"exact": exact, "took": took}), flush=True)
    await close_all(conns)

asyncio.run(main())
"""


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(*, quick: bool = False) -> list[Result]:
    clients = 100 if quick else CLIENTS
    changes = 10 if quick else CHANGES
    with tempfile.TemporaryDirectory() as tmp:
        return _measure(Path(tmp), clients, changes)


def _measure(tmp: Path, clients: int, changes: int) -> list[Result]:
    url = migrated(f"sqlite:///{tmp / 'sopbot.db'}")
    config = live_config(tmp, url, free_port())
    config = replace(config, http=replace(config.http, session_hours=2))
    team = Harness(config, datetime.now(UTC))
    team.say(ANN, "/new bug the printer is on fire", chat=TEAM_CHAT)
    lead = Actor(LEAD.user_id, LEAD.name)
    session = team.db.run(lambda s: signin.sign_in_miniapp(s, lead, datetime.now(UTC), hours=2))
    server = LiveServer(config, team.services).start()
    cursor = team.db.read(live.head)[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    before = _rss_kb()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CLIENTS,
            server.url.replace("http", "ws", 1) + "/app/ws",
            f"sopbot_session={session.token}",
            str(clients),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(cursor + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        per_client = (_rss_kb() - before) / clients

        committed: dict[int, float] = {}
        for i in range(changes):
            team.say(ANN, f"/comment 1 still smoking ({i})", chat=TEAM_CHAT)
            committed[_last_seq(team)] = time.time()
            time.sleep(0.1)
        time.sleep(0.5)
        child.stdin.write("drop\n")
        child.stdin.flush()
        received = {int(k): v for k, v in json.loads(child.stdout.readline()).items()}
        assert child.stdout.readline().strip() == "dropped"
        latencies = [
            (received[seq] - at) * 1000 for seq, at in committed.items() if seq in received
        ]
        lost = len(committed) - len(latencies)

        away = []
        for i in range(AWAY):
            team.say(ANN, f"/comment 1 while you were away ({i})", chat=TEAM_CHAT)
            away.append(_last_seq(team))
        child.stdin.write(json.dumps(away) + "\n")
        child.stdin.flush()
        back = json.loads(child.stdout.readline())
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()
        team.close()

    p99 = percentile(latencies, 99) if latencies else float("inf")
    p50 = percentile(latencies, 50) if latencies else float("inf")
    note = f"{clients} clients, {len(committed)} changes, p50 {p50:.1f} ms, SQLite"
    return [
        Result(
            "live",
            "commit to the last of the clients, p99",
            round(p99, 1),
            "ms",
            "< 100 ms",
            p99 < 100 and lost == 0,
            note + (f", {lost} not received" if lost else ""),
        ),
        Result("live", "server memory per idle client", round(per_client, 1), "KB", "", None),
        Result(
            "live",
            "clients reconnecting at once with their cursors, missing nothing",
            back["exact"],
            f"of {clients}",
            f"= {clients}",
            back["exact"] == clients,
            f"{AWAY} changes while away; all caught up in {back['took'] * 1000:.0f} ms",
        ),
    ]


def _last_seq(team: Harness) -> int:
    return team.db.read(live.head_seq)
