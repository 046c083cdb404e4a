"""The changefeed over real HTTP: uvicorn on a loopback port, httpx as the consumer."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from bot.cli.feed_cmd import tail
from bot.config import Config, ConsumerConfig, HttpConfig
from bot.db import migrate
from bot.db.models import Ticket
from bot.domain.actors import Actor
from bot.http.server import HttpServerError, build_server, serve
from bot.services import audit
from bot.services.database import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANN = Actor(2, "Ann", "ann")
TEAM_A, TEAM_B = -1001, -1002
ALL_TOKEN, TEAM_A_TOKEN = "all-" + "x" * 40, "team-a-" + "y" * 40


@dataclass
class Services:
    db: Database


def http_config(port: int = 0) -> Config:
    return Config(
        http=HttpConfig(
            enabled=True,
            listen="127.0.0.1",
            port=port,
            consumers=(
                ConsumerConfig("dashboard", ALL_TOKEN),
                ConsumerConfig("team-a", TEAM_A_TOKEN, chats=(TEAM_A,)),
            ),
        )
    )


@pytest.fixture
def database(tmp_path) -> Iterator[Database]:
    db = Database.from_url(f"sqlite:///{tmp_path / 'sopbot.db'}")
    migrate.upgrade(db.engine)
    with db.transaction() as s:
        for number, chat in ((1, TEAM_A), (2, TEAM_B)):
            s.add(
                Ticket(
                    id=number,
                    procedure_id="p",
                    procedure_version="v1",
                    title=f"ticket {number}",
                    status="open",
                    reporter_id=2,
                    reporter_name="Ann",
                    chat_id=chat,
                    chat_type="supergroup",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        s.flush()
        for number in (1, 2):
            audit.record(
                s, now=NOW, actor=ANN, action="ticket.created", ticket_id=number, details={}
            )
    yield db
    db.dispose()


@pytest.fixture
def base_url(database) -> Iterator[str]:
    """The API served for real by uvicorn on 127.0.0.1, on a port the system picks."""
    server = build_server(http_config(), Services(database), head_ttl=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def client(base_url: str, token: str | None = ALL_TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=5)


def test_head_is_tiny_and_an_unchanged_etag_gets_304_without_body(base_url, database):
    with client(base_url) as c:
        first = c.get("/changes/head.json")
        again = c.get("/changes/head.json", headers={"If-None-Match": first.headers["etag"]})
        with database.transaction() as s:
            audit.record(s, now=NOW, actor=ANN, action="comment.added", ticket_id=1)
        moved = c.get("/changes/head.json", headers={"If-None-Match": first.headers["etag"]})

    assert first.status_code == 200 and len(first.content) < 400
    assert first.json()["count"] == 2
    assert first.headers["etag"].startswith('"') and first.headers["cache-control"] == "no-cache"
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert moved.status_code == 200 and moved.json()["count"] == 3


def test_no_data_without_a_valid_token(base_url):
    for token in (None, "wrong"):
        with client(base_url, token) as c:
            for path in ("/changes/head.json", "/changes", "/tickets/1"):
                r = c.get(path)
                assert r.status_code == 401
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert "cursor" not in r.text
    with client(base_url, None) as c:
        assert c.get("/healthz").json() == {"ok": True, "database": "ok"}


def test_a_limited_consumer_sees_only_its_chats(base_url):
    with client(base_url, TEAM_A_TOKEN) as c:
        page = c.get("/changes", params={"limit": 10}).json()
        mine, theirs = c.get("/tickets/1"), c.get("/tickets/2")
    with client(base_url) as c:
        everything = c.get("/changes").json()

    assert [i["ticket"] for i in page["items"]] == [1]
    assert mine.status_code == 200 and mine.json()["status"] == "open"
    assert theirs.status_code == 404
    assert [i["ticket"] for i in everything["items"]] == [1, 2]
    assert everything["items"][0]["kind"] == "ticket.opened"


def test_an_unknown_cursor_gets_410_telling_the_consumer_how_to_restart(base_url):
    with client(base_url) as c:
        gone = c.get("/changes", params={"cursor": "ab" * 32})
        bad = c.get("/changes", params={"limit": 5000})

    assert gone.status_code == 410
    assert "since=" in gone.json()["message"] and "beginning" in gone.json()["message"]
    assert bad.status_code == 400


def test_serve_returns_when_asked_to_stop_and_reports_a_taken_port(database):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def main(port: int) -> None:
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.3, stop.set)
            await asyncio.wait_for(serve(http_config(port), Services(database), stop), 10)

        with pytest.raises(HttpServerError):
            asyncio.run(main(port))
    asyncio.run(main(0))


def test_feed_tail_prints_each_change_once_and_stops_on_an_unknown_cursor(base_url):
    out, err = io.StringIO(), io.StringIO()
    assert tail(base_url, ALL_TOKEN, once=True, out=out, err=err) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [item["ticket"] for item in lines] == [1, 2]
    cursor = lines[-1]["hash"]

    out = io.StringIO()
    assert tail(base_url, ALL_TOKEN, cursor=cursor, once=True, out=out, err=err) == 0
    assert out.getvalue() == ""
    assert tail(base_url, ALL_TOKEN, cursor="ab" * 32, once=True, out=out, err=err) == 3
    assert "since=" in err.getvalue()
    assert tail(base_url, "wrong", once=True, out=out, err=err) == 2
