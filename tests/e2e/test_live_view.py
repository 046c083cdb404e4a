"""The live view over real HTTP and WebSocket: uvicorn on a loopback port, httpx and the
`websockets` client as the browser. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import websockets

from tests.helpers.engine import ANN, BOB, LEAD, TEAM_CHAT, Harness
from tests.helpers.live import LiveServer, free_port, live_config, migrated, sign_in_link

OTHER_CHAT = -200


BROWSERS: list[httpx.Client] = []


@pytest.fixture
def team(tmp_path, database_url) -> Iterator[tuple[Harness, LiveServer]]:
    config = live_config(tmp_path, migrated(database_url), free_port())
    harness = Harness(config, datetime.now(UTC))
    server = LiveServer(config, harness.services).start()
    yield harness, server
    while BROWSERS:
        BROWSERS.pop().close()
    server.stop()
    harness.close()


def browser(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    BROWSERS.append(client)
    return client


def signed_in(harness: Harness, server: LiveServer, who) -> httpx.Client:
    client = browser(server)
    answer = client.get(sign_in_link(harness, who))
    assert answer.status_code == 303 and answer.headers["location"] == "/app/"
    return client


def cursor_of(page: str) -> str:
    return page.split('data-cursor="', 1)[1].split('"', 1)[0]


def feed_items(harness: Harness) -> list[dict]:
    """Every published change, as the change feed gives it."""
    from bot.config import ConsumerConfig
    from bot.services import feed

    with harness.db.reading() as s:
        page = feed.changes(s, consumer=ConsumerConfig("all", "x" * 16), limit=1000)
    return [c.as_json() for c in page.items]


async def receive(url: str, cookie: str, count: int, timeout: float = 5.0) -> list[dict]:
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        return [json.loads(await asyncio.wait_for(ws.recv(), timeout)) for _ in range(count)]


def ws_url(server: LiveServer, cursor: str) -> str:
    return server.url.replace("http", "ws", 1) + f"/app/ws?cursor={cursor}"


def cookie_of(client: httpx.Client) -> str:
    return f"sopbot_session={client.cookies['sopbot_session']}"


def test_a_link_signs_in_once_and_opens_the_open_tickets(team):
    harness, server = team
    harness.say(ANN, "/new bug the printer is on fire", chat=TEAM_CHAT)
    link = sign_in_link(harness, LEAD)
    visitor = browser(server)
    answer = visitor.get(link)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
    page = visitor.get("/app/")
    assert page.status_code == 200
    assert "the printer is on fire" in page.text
    assert "waiting for information" in page.text  # its SLA risk, in words
    assert visitor.get(link).status_code == 403  # a link works once
    assert browser(server).get("/app/").status_code == 401  # and nobody else is let in


def test_a_change_is_pushed_in_the_change_feeds_shape(team):
    harness, server = team
    lead = signed_in(harness, server, LEAD)
    cursor = cursor_of(lead.get("/app/").text)

    async def scenario() -> list[dict]:
        listening = asyncio.create_task(receive(ws_url(server, cursor), cookie_of(lead), 2))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(harness.say, ANN, "/new bug the printer is on fire", chat=TEAM_CHAT)
        await asyncio.to_thread(harness.say, ANN, "/comment 1 toner on fire", chat=TEAM_CHAT)
        return await listening

    messages = asyncio.run(scenario())
    assert [m["item"] for m in messages] == feed_items(harness)[-2:]
    assert [m["item"]["kind"] for m in messages] == ["ticket.opened", "comment.added"]
    assert all(m["cursor"] == m["item"]["hash"] for m in messages)


def test_a_reconnect_with_its_cursor_gets_exactly_what_it_missed_in_order(team):
    harness, server = team
    lead = signed_in(harness, server, LEAD)
    cursor = cursor_of(lead.get("/app/").text)
    harness.say(ANN, "/new bug the printer is on fire", chat=TEAM_CHAT)
    first = asyncio.run(receive(ws_url(server, cursor), cookie_of(lead), 1))
    # Away: three changes happen, one of them by another ticket.
    harness.say(ANN, "/comment 1 the toner caught fire", chat=TEAM_CHAT)
    harness.say(BOB, "/new bug the lift is stuck", chat=TEAM_CHAT)
    harness.say(LEAD, "/assign 1 @bob", chat=TEAM_CHAT)
    missed = [i for i in feed_items(harness) if i["seq"] > first[0]["item"]["seq"]]
    back = asyncio.run(receive(ws_url(server, first[0]["cursor"]), cookie_of(lead), len(missed)))
    assert [m["item"] for m in back] == missed
    assert [m["item"]["seq"] for m in back] == sorted(m["item"]["seq"] for m in back)


def test_an_unknown_cursor_gets_a_snapshot_to_start_afresh(team):
    harness, server = team
    lead = signed_in(harness, server, LEAD)
    (message,) = asyncio.run(receive(ws_url(server, "f" * 64), cookie_of(lead), 1))
    assert message["snapshot"]["cursor"] == cursor_of(lead.get("/app/").text)


def test_a_member_is_pushed_only_their_tickets_and_their_chats(team):
    harness, server = team
    harness.say(ANN, "/new bug the printer is on fire", chat=TEAM_CHAT)  # Ann's chat from now on
    ann = signed_in(harness, server, ANN)
    page = ann.get("/app/").text
    cursor = cursor_of(page)

    async def scenario() -> list[dict]:
        listening = asyncio.create_task(receive(ws_url(server, cursor), cookie_of(ann), 2))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(harness.say, BOB, "/new bug elsewhere broken", chat=OTHER_CHAT)
        await asyncio.to_thread(harness.say, BOB, "/new bug the team's lift", chat=TEAM_CHAT)
        await asyncio.to_thread(harness.say, ANN, "/new bug private one")
        return await listening

    messages = asyncio.run(scenario())
    titles = [m["item"]["change"].get("title") for m in messages]
    assert titles == ["the team's lift", "private one"]
    assert ann.get("/app/tickets/2").status_code == 404  # Bob's ticket in another chat
    assert ann.get("/app/metrics").status_code == 403


def test_a_change_committed_by_another_instance_reaches_the_browser(team, tmp_path):
    harness, server = team
    lead = signed_in(harness, server, LEAD)
    cursor = cursor_of(lead.get("/app/").text)
    other = Harness(harness.config, harness.now)  # its own engine: another sopbot process
    try:

        async def scenario() -> list[dict]:
            listening = asyncio.create_task(receive(ws_url(server, cursor), cookie_of(lead), 1))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(other.say, ANN, "/new bug from the other one", chat=TEAM_CHAT)
            return await listening

        (message,) = asyncio.run(scenario())
        assert message["item"]["change"]["title"] == "from the other one"
    finally:
        other.close()


def test_dashboard_logout_ends_the_session_and_sign_ins_are_audited(team):
    harness, server = team
    lead = signed_in(harness, server, LEAD)
    assert lead.get("/app/").status_code == 200
    reply = harness.say(LEAD, "/dashboard logout").replies[0].text
    assert "1 session ended" in reply
    assert lead.get("/app/").status_code == 401
    assert harness.actions()[-2:] == ["dashboard.signed_in", "dashboard.signed_out"]


def test_dashboard_in_a_group_sends_no_link(team):
    harness, _ = team
    reply = harness.say(LEAD, "/dashboard", chat=TEAM_CHAT).replies[0].text
    assert "private chat" in reply and "/app/login" not in reply


def test_the_websocket_refuses_a_browser_without_a_session(team):
    _, server = team

    async def attempt() -> None:
        async with websockets.connect(ws_url(server, "0" * 64)) as ws:
            await ws.recv()

    with pytest.raises(websockets.exceptions.InvalidStatus):
        asyncio.run(attempt())
