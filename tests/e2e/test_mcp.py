"""The MCP tools driven by the SDK's own client: `sopbot mcp` over stdio as a subprocess, and
`/mcp` on the HTTP server with the API's tokens."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
import yaml
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bot.config import ClientConfig, HttpConfig
from tests.helpers.engine import TEAM_CHAT, Harness, make_config, write_procedures
from tests.helpers.served import serving

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "agent-" + "a" * 30
READER = "reader-" + "b" * 30


def write_config(tmp: Path, database_url: str) -> Path:
    path = tmp / "config.yaml"
    data = {
        "database": {"url": database_url},
        "procedures_dir": str(write_procedures(tmp / "procedures")),
        "knowledge_dir": str(tmp / "knowledge"),
        "chats": [{"id": TEAM_CHAT, "name": "Team"}],
        "http": {
            "clients": [
                {"name": "claude", "token": TOKEN, "scopes": ["write"]},
                {"name": "viewer", "token": READER, "scopes": ["read"]},
            ]
        },
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def stdio(config: Path, token: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot", "mcp", "--config", str(config)],
        env={"SOPBOT_API_TOKEN": token},
        cwd=str(ROOT),
    )


@pytest.mark.backends
def test_an_agent_over_stdio_opens_a_ticket_by_answering_the_gates_questions(
    tmp_path, database_url
):
    config = write_config(tmp_path, database_url)

    async def session() -> dict:
        async with Client(stdio(config, TOKEN)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            opened = await client.call_tool(
                "open_ticket", {"text": "The app crashes on login", "procedure": "bug"}
            )
            number = opened.structured_content["number"]
            answered = await client.call_tool(
                "answer_ticket",
                {"number": number, "fields": {"summary": "login crash"}, "confirm": True},
            )
            refused = await client.call_tool(
                "open_ticket", {"text": "x", "procedure": "nonexistent"}
            )
            listed = await client.call_tool("list_tickets", {})
            caught_up = await client.call_tool("catch_up", {})
            return {
                "tools": tools,
                "opened": opened,
                "answered": answered,
                "refused": refused,
                "listed": listed,
                "caught_up": caught_up,
            }

    r = asyncio.run(session())

    assert {"open_ticket", "answer_ticket", "confirm_ticket", "show_ticket", "list_tickets"} <= r[
        "tools"
    ]
    assert {"do_step", "comment_ticket", "resolve_ticket", "search_knowledge", "catch_up"} <= r[
        "tools"
    ]
    opened = r["opened"].structured_content
    assert opened["status"] == "waiting_for_info"
    assert [q["field"] for q in opened["questions"]] == ["summary"]
    assert opened["questions"][0]["question"] == "What is broken?"
    assert r["answered"].structured_content["status"] == "open"
    assert r["refused"].is_error
    assert r["refused"].structured_content["code"] == "unknown_procedure"
    assert r["refused"].structured_content["detail"]
    assert [t["number"] for t in r["listed"].structured_content["items"]] == [opened["number"]]
    kinds = [i["kind"] for i in r["caught_up"].structured_content["items"]]
    assert kinds[0] == "ticket.opened" and "status.changed" in kinds
    assert r["caught_up"].structured_content["items"][0]["actor"]["name"] == "agent:claude"


def test_sopbot_mcp_refuses_to_start_without_a_clients_token(tmp_path):
    import subprocess

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "mcp", "--config", str(config)],
        env={"SOPBOT_API_TOKEN": "not-a-client-token-at-all", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert "SOPBOT_API_TOKEN" in run.stderr and run.stdout == ""


@pytest.mark.backends
def test_the_http_mcp_endpoint_takes_the_same_tokens_and_scopes(tmp_path, database_url, now):
    config = replace(
        make_config(tmp_path, database_url),
        http=HttpConfig(
            enabled=True,
            port=0,
            clients=(
                ClientConfig("claude", TOKEN, frozenset({"write"})),
                ClientConfig("viewer", READER, frozenset({"read"})),
            ),
        ),
    )
    team = Harness(config, now)

    async def call(url: str, token: str, tool: str, arguments: dict):
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool(tool, arguments)

    try:
        with serving(config, team.services) as base:
            url = base + "/mcp"
            opened = asyncio.run(
                call(url, TOKEN, "open_ticket", {"text": "crash", "procedure": "bug"})
            )
            viewer = asyncio.run(
                call(url, READER, "open_ticket", {"text": "crash", "procedure": "bug"})
            )
            shown = asyncio.run(call(url, READER, "show_ticket", {"number": 1}))
            anonymous = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    finally:
        team.close()

    assert opened.structured_content["questions"][0]["field"] == "summary"
    assert viewer.is_error and viewer.structured_content["code"] == "missing_scope"
    assert shown.structured_content["number"] == 1
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
