"""The write API and webhooks: `POST /api/v1/tickets` latency (p99) and requests per second on
SQLite, and signed webhook deliveries per second to a receiver on loopback.

The API server runs in this process (uvicorn in a thread, as beside the bot); the requests come
from a second process over keep-alive connections, each with its own Idempotency-Key. Each
request runs the gate: a draft ticket, its fields validated, its audit events, its question.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result
from bot.app import Services
from bot.config import ClientConfig, Config, DatabaseConfig, HttpConfig, WebhookTargetConfig
from bot.db import migrate
from bot.db.engine import make_engine
from bot.http.server import build_server
from bot.http.webhook_sender import WebhookSender

TOKEN = "bench-" + "a" * 40
SECRET = "bench-secret-" + "s" * 20
CONNECTIONS = 4
PROCEDURE = """\
title: Bug report
triggers:
  command: bug
fields:
  - name: summary
    question: What is broken?
    type: text
  - name: severity
    question: How bad is it?
    type: choice
    choices: [low, high]
sla:
  due: 2d
"""

# The load generator, run by a second interpreter: N keep-alive connections posting tickets
# until `count` are made; prints every latency in ms as JSON.
_CLIENT = r"""
import asyncio, json, sys, time
port, token, count, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
run = sys.argv[5]  # each run its own keys: a repeated key would only replay
body = json.dumps({"procedure": "bug", "text": "The printer is broken",
                   "fields": {"summary": "printer jams", "severity": "high"}}).encode()
latencies, made = [], [0]
async def one():
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while made[0] < count:
        made[0] += 1
        request = (
            f"POST /api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: {run}-{made[0]}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        latencies.append((time.perf_counter() - start) * 1000)
        assert head.startswith(b"HTTP/1.1 201"), head
    writer.close()
async def main():
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(conns)))
    print(json.dumps({"elapsed": time.perf_counter() - start, "latencies": latencies}))
asyncio.run(main())
"""


def _config(tmp: Path, **extra: object) -> Config:
    procedures = tmp / "procedures"
    procedures.mkdir(exist_ok=True)
    (procedures / "bug.yaml").write_text(PROCEDURE, encoding="utf-8")
    url = f"sqlite:///{tmp / 'api.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    config = Config(
        database=DatabaseConfig(url=url, auto_migrate=False),
        procedures_dir=procedures,
        knowledge_dir=tmp / "knowledge",
        http=HttpConfig(
            enabled=True,
            port=0,
            clients=(ClientConfig("bench", TOKEN, frozenset({"write"}), (-100,)),),
        ),
    )
    return replace(config, **extra)  # type: ignore[arg-type]


def _post_tickets(port: int, count: int, connections: int, run: str) -> tuple[float, list[float]]:
    out = subprocess.run(
        [sys.executable, "-c", _CLIENT, str(port), TOKEN, str(count), str(connections), run],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    data = json.loads(out.stdout)
    return data["elapsed"], data["latencies"]


def _api(tmp: Path, count: int) -> list[Result]:
    config = _config(tmp)
    services = Services(config, checkpoints=True)
    server = build_server(config, services, head_ttl=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        _post_tickets(port, 50, 1, "warm")  # templates, procedure cache, connections
        _, one_by_one = _post_tickets(port, count, 1, "one")
        elapsed, together = _post_tickets(port, count, CONNECTIONS, "together")
    finally:
        server.should_exit = True
        thread.join(10)
        services.close()
    ordered = sorted(one_by_one)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    rate = len(together) / elapsed
    load = os.getloadavg()[0]
    return [
        Result(
            "api",
            "POST /api/v1/tickets p99, one connection (SQLite, gate + audit + key)",
            round(p99, 1),
            "ms",
            "< 20 ms",
            p99 < 20,
            note=f"p50 {sorted(one_by_one)[len(one_by_one) // 2]:.1f} ms; {count} requests",
        ),
        Result(
            "api",
            f"POST /api/v1/tickets, {CONNECTIONS} connections (SQLite)",
            round(rate),
            "req/s",
            ">= 200",
            rate >= 200,
            note=f"load average {load:.1f} on {os.cpu_count()} cores",
        ),
    ]


def _webhooks(tmp: Path, count: int) -> list[Result]:
    from tests.helpers.receiver import receiving

    with receiving(SECRET) as receiver:
        target = WebhookTargetConfig("bench", receiver.url, SECRET)
        config = _config(tmp, webhooks=(target,))
        services = Services(config)
        now = datetime.now(UTC)
        hooks = services.webhooks
        hooks.queue(now)  # the webhook starts at the head
        from bot.services.api.tickets import Write

        client = config.http.clients[0]
        for i in range(count):
            services.api.open(
                Write(client, now, f"w-{i}", {}),
                text="The printer is broken",
                procedure="bug",
                fields={"summary": "jams"},
            )
        sender = WebhookSender(hooks)

        async def drain() -> float:
            start = time.perf_counter()
            try:
                while await sender.run_once() or hooks.waiting():
                    pass
            finally:
                await sender.http.aclose()
            return time.perf_counter() - start

        elapsed = asyncio.run(drain())
        services.close()
    delivered = len(receiver.accepted)
    return [
        Result(
            "api",
            "webhook deliveries to a loopback receiver (signed, queued, SQLite)",
            round(delivered / elapsed),
            "deliveries/s",
            note=f"{delivered} items of {count} tickets; one lane per ticket",
        )
    ]


def run(quick: bool = False) -> list[Result]:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        return _api(Path(a), 300 if quick else 2000) + _webhooks(Path(b), 50 if quick else 400)
