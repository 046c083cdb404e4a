"""The write API under `/api/v1`: thin routes over `bot.services.api`, one table of endpoints
that both serves them and describes them (`/api/v1/openapi.json`).

Every answer that is not a success is RFC 9457 `application/problem+json`: 401 without a valid
client token, 403 for a missing scope or another team's chat, 404, 409 when the ticket refuses,
422 when the request cannot be acted on. Database work runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.config import ClientConfig, Config
from bot.http.openapi import document
from bot.render import render
from bot.services.api.context import authenticate
from bot.services.api.problems import Problem
from bot.services.api.tickets import Answer, TicketApi, Write

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"
Handler = Callable[[Request, ClientConfig], Answer]


def problem_response(problem: Problem) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="sopbot"'} if problem.status == 401 else None
    body = json.dumps(problem.as_json(), ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=problem.status, media_type=PROBLEM, headers=headers)


def _answer_response(answer: Answer) -> Response:
    body = json.dumps(answer.body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Cache-Control": "no-store"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=answer.status, media_type="application/json", headers=headers)


@dataclass(frozen=True)
class Endpoint:
    """One route: its method and path, what it does, and what it takes (for the OpenAPI)."""

    method: str
    path: str
    name: str
    summary: str
    scope: str
    body: dict[str, Any] | None = None  # JSON schema of the request body
    query: tuple[tuple[str, str], ...] = ()  # (name, JSON type)
    idempotent_key: bool = False


_FIELDS = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}

ENDPOINTS = (
    Endpoint(
        "POST",
        "/tickets",
        "open_ticket",
        "Open a ticket through the gate; it opens only with confirm once complete.",
        "write",
        body={
            "type": "object",
            "required": ["text"],
            "properties": {
                "text": {"type": "string"},
                "procedure": {"type": "string"},
                "fields": _FIELDS,
                "chat_id": {"type": "integer"},
                "confirm": {"type": "boolean"},
            },
        },
        idempotent_key=True,
    ),
    Endpoint(
        "GET",
        "/tickets",
        "list_tickets",
        "Tickets in the client's chats (active ones unless status is given).",
        "read",
        query=(("status", "string"), ("mine", "boolean")),
    ),
    Endpoint("GET", "/tickets/{number}", "show_ticket", "One ticket and its questions.", "read"),
    Endpoint(
        "POST",
        "/tickets/{number}/answers",
        "answer",
        "Answer the questions the ticket waits on.",
        "write",
        body={
            "type": "object",
            "required": ["fields"],
            "properties": {"fields": _FIELDS, "confirm": {"type": "boolean"}},
        },
        idempotent_key=True,
    ),
    Endpoint(
        "POST",
        "/tickets/{number}/confirm",
        "confirm",
        "Open a complete draft.",
        "write",
        idempotent_key=True,
    ),
    Endpoint(
        "POST",
        "/tickets/{number}/steps/{step_id}",
        "do_step",
        "Mark a checklist step done.",
        "write",
        idempotent_key=True,
    ),
    Endpoint(
        "POST",
        "/tickets/{number}/comments",
        "comment",
        "Add a comment.",
        "write",
        body={"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        idempotent_key=True,
    ),
    Endpoint(
        "POST",
        "/tickets/{number}/resolve",
        "resolve",
        "Resolve: required steps done, then the resolution fields through the gate.",
        "write",
        body={"type": "object", "properties": {"fields": _FIELDS}},
        idempotent_key=True,
    ),
    Endpoint(
        "GET",
        "/kb/search",
        "search_kb",
        "Search the knowledge base.",
        "read",
        query=(("q", "string"), ("limit", "integer")),
    ),
    Endpoint("GET", "/openapi.json", "openapi", "This description.", "read"),
)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name)
    return value


def _bad(name: str) -> Problem:
    return Problem(
        400,
        "bad_request",
        field=name,
        data={"name": name, "expected": render("api/expected.txt", name=name)},
    )


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise Problem(400, "bad_json") from None
    if not isinstance(data, dict):
        raise Problem(400, "bad_json")
    return data


def _fields(body: dict[str, Any], required: bool = False) -> dict[str, Any]:
    fields = body.get("fields")
    if fields is None and not required:
        return {}
    if not isinstance(fields, dict):
        raise _bad("fields")
    return fields


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _bad(name)
    return value


def routes(config: Config, api: TicketApi, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The `/api/v1` routes over `api`, for the clients in `config.http.clients`."""

    def write(request: Request, client: ClientConfig, body: dict[str, Any]) -> Write:
        return Write(
            client,
            clock(),
            request.headers.get("idempotency-key"),
            {"path": request.url.path, "body": body},
        )

    async def open_ticket(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        body = await _json_object(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("text")
        procedure = body.get("procedure")
        if procedure is not None and not isinstance(procedure, str):
            raise _bad("procedure")
        chat_id = body.get("chat_id")
        if chat_id is not None:
            chat_id = _int(chat_id, "chat_id")
        return lambda: api.open(
            write(request, client, body),
            text=text,
            procedure=procedure,
            fields=_fields(body),
            chat_id=chat_id,
            confirm=_bool(body, "confirm"),
        )

    async def list_tickets(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        params = request.query_params
        mine = params.get("mine", "false").lower()
        if mine not in ("true", "false", "1", "0"):
            raise _bad("mine")
        status = params.get("status") or None
        return lambda: api.list(client, status=status, mine=mine in ("true", "1"))

    async def show_ticket(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        number = request.path_params["number"]
        return lambda: api.show(client, number, clock())

    async def answer(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        body = await _json_object(request)
        fields, confirm = _fields(body, required=True), _bool(body, "confirm")
        w = write(request, client, body)
        return lambda: api.answer(w, request.path_params["number"], fields, confirm=confirm)

    async def confirm(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        w = write(request, client, await _json_object(request))
        return lambda: api.confirm(w, request.path_params["number"])

    async def do_step(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        w = write(request, client, await _json_object(request))
        p = request.path_params
        return lambda: api.step(w, p["number"], p["step_id"])

    async def comment(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        body = await _json_object(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise _bad("text")
        w = write(request, client, body)
        return lambda: api.comment(w, request.path_params["number"], text)

    async def resolve(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        body = await _json_object(request)
        w = write(request, client, body)
        return lambda: api.resolve(w, request.path_params["number"], _fields(body))

    async def search_kb(request: Request, client: ClientConfig) -> Callable[[], Answer]:
        q = request.query_params.get("q", "")
        if not q.strip():
            raise _bad("q")
        try:
            limit = int(request.query_params.get("limit", "10"))
            if not 1 <= limit <= 50:
                raise ValueError
        except ValueError:
            raise _bad("limit") from None
        return lambda: api.search(client, q, limit)

    handlers = {
        "open_ticket": open_ticket,
        "list_tickets": list_tickets,
        "show_ticket": show_ticket,
        "answer": answer,
        "confirm": confirm,
        "do_step": do_step,
        "comment": comment,
        "resolve": resolve,
        "search_kb": search_kb,
    }
    description = document(ENDPOINTS, PREFIX)

    def served(
        endpoint: Endpoint,
    ) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            token = request.headers.get("authorization", "")
            scheme, _, value = token.partition(" ")
            client = authenticate(config, value.strip()) if scheme.lower() == "bearer" else None
            if client is None or not value.strip():
                return problem_response(Problem(401, "unauthorized"))
            try:
                if not client.may(endpoint.scope):
                    raise Problem(
                        403,
                        "missing_scope",
                        data={"scope": endpoint.scope, "scopes": sorted(client.scopes)},
                    )
                if endpoint.name == "openapi":
                    return Response(json.dumps(description).encode(), media_type="application/json")
                call = await handlers[endpoint.name](request, client)
                answer = await asyncio.to_thread(call)
            except Problem as problem:
                return problem_response(problem)
            return _answer_response(answer)

        return serve

    return [
        Route(
            PREFIX + e.path.replace("{number}", "{number:int}"),
            served(e),
            methods=[e.method],
            name=e.name,
        )
        for e in ENDPOINTS
    ]


def utc_now() -> datetime:
    return datetime.now(UTC)
