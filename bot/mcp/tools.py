"""The MCP tools: one per use case of `bot.services.api`, each answering the ticket as
structured content, with the gate's next questions in it. A problem (a refused value, a missing
scope, a ticket that says no) is an error result carrying the same problem+json body as the
HTTP API, never a generic failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent

from bot import __version__
from bot.config import ClientConfig, Config
from bot.services.api.context import authenticate
from bot.services.api.problems import Problem
from bot.services.api.tickets import Answer, TicketApi, Value, Write

Fields = dict[str, Value]

INSTRUCTIONS = (
    "sopbot runs tickets by written procedures. open_ticket never guesses: a result with status"
    " waiting_for_info lists `questions` (field, question, type, choices, example, error);"
    " answer them with answer_ticket, then confirm. A value the gate refuses comes back as that"
    " field's question with `error` and `reason`; valid values are kept."
)


def _result(call: Callable[[], Answer]) -> CallToolResult:
    try:
        body = call().body
    except Problem as problem:
        body = problem.as_json()
        text = json.dumps(body, ensure_ascii=False)
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
        )
    text = json.dumps(body, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=body)


def build_mcp(
    api: TicketApi,
    config: Config,
    clock: Callable[[], datetime],
    *,
    client: ClientConfig | None = None,
) -> MCPServer[Any]:
    """The MCP server over `api`: as `client` (stdio), or as whoever's bearer token the HTTP
    request carries."""
    server: MCPServer[Any] = MCPServer(
        "sopbot", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    def who(ctx: Context) -> ClientConfig:
        if client is not None:
            return client
        headers = ctx.headers or {}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        found = authenticate(config, token.strip()) if scheme.lower() == "bearer" else None
        if found is None or not token.strip():
            raise Problem(401, "unauthorized")
        return found

    def write(ctx: Context, key: str | None, request: dict[str, Any]) -> Write:
        return Write(who(ctx), clock(), key, request)

    @server.tool()
    def open_ticket(
        text: str,
        ctx: Context,
        procedure: str | None = None,
        fields: Fields | None = None,
        chat_id: int | None = None,
        confirm: bool = False,
        idempotency_key: str | None = None,
    ) -> CallToolResult:
        """Open a ticket. `text` describes the problem; `procedure` is a procedure id (else the
        text picks one, or the error lists the choices); `fields` are values you know. The
        ticket opens only with `confirm` once nothing is missing; otherwise the result lists
        the questions still open. Reuse `idempotency_key` when retrying."""
        request = {"tool": "open_ticket", "text": text, "procedure": procedure, "fields": fields}
        request |= {"chat_id": chat_id, "confirm": confirm}
        return _result(
            lambda: api.open(
                write(ctx, idempotency_key, request),
                text=text,
                procedure=procedure,
                fields=fields or {},
                chat_id=chat_id,
                confirm=confirm,
            )
        )

    @server.tool()
    def answer_ticket(
        number: int,
        fields: Fields,
        ctx: Context,
        confirm: bool = False,
        idempotency_key: str | None = None,
    ) -> CallToolResult:
        """Answer the open questions of ticket `number` with `fields` (name: value). With
        `confirm`, a complete draft opens at once."""
        request = {"tool": "answer_ticket", "number": number, "fields": fields, "confirm": confirm}
        return _result(
            lambda: api.answer(
                write(ctx, idempotency_key, request), number, fields, confirm=confirm
            )
        )

    @server.tool()
    def confirm_ticket(
        number: int, ctx: Context, idempotency_key: str | None = None
    ) -> CallToolResult:
        """Open draft `number` once the gate finds it complete."""
        request = {"tool": "confirm_ticket", "number": number}
        return _result(lambda: api.confirm(write(ctx, idempotency_key, request), number))

    @server.tool()
    def show_ticket(number: int, ctx: Context) -> CallToolResult:
        """Ticket `number`: status, fields, steps done, and the questions it waits on."""
        return _result(lambda: api.show(who(ctx), number, clock()))

    @server.tool()
    def list_tickets(ctx: Context, status: str | None = None, mine: bool = False) -> CallToolResult:
        """Tickets in your chats: active ones, or those with `status`; `mine`: yours only."""
        return _result(lambda: api.list(who(ctx), status=status, mine=mine))

    @server.tool()
    def do_step(
        number: int, step_id: str, ctx: Context, idempotency_key: str | None = None
    ) -> CallToolResult:
        """Mark checklist step `step_id` of ticket `number` done."""
        request = {"tool": "do_step", "number": number, "step_id": step_id}
        return _result(lambda: api.step(write(ctx, idempotency_key, request), number, step_id))

    @server.tool()
    def comment_ticket(
        number: int, text: str, ctx: Context, idempotency_key: str | None = None
    ) -> CallToolResult:
        """Add comment `text` to ticket `number`."""
        request = {"tool": "comment_ticket", "number": number, "text": text}
        return _result(lambda: api.comment(write(ctx, idempotency_key, request), number, text))

    @server.tool()
    def resolve_ticket(
        number: int,
        ctx: Context,
        fields: Fields | None = None,
        idempotency_key: str | None = None,
    ) -> CallToolResult:
        """Resolve ticket `number`: its required steps must be done; `fields` answer the
        procedure's resolution questions (the result lists any still open)."""
        request = {"tool": "resolve_ticket", "number": number, "fields": fields}
        return _result(
            lambda: api.resolve(write(ctx, idempotency_key, request), number, fields or {})
        )

    @server.tool()
    def search_knowledge(query: str, ctx: Context, limit: int = 10) -> CallToolResult:
        """Search the knowledge base (articles written when tickets were resolved)."""
        return _result(lambda: api.search(who(ctx), query, limit))

    @server.tool()
    def catch_up(ctx: Context, cursor: str | None = None) -> CallToolResult:
        """What changed in your chats since `cursor` (none: from the start); pass the
        result's `next_cursor` next time."""
        return _result(lambda: api.changes(who(ctx), cursor))

    return server
