"""The changefeed's ASGI app: `create_app(config, db)` builds one; nothing at import time.

Every route but `/healthz` needs `Authorization: Bearer <token>` of a configured consumer.
Database work runs in a thread (`asyncio.to_thread`) so the bot's event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Config, ConsumerConfig
from bot.http.dashboard.app import Dashboard
from bot.services import feed, health
from bot.services.api.tickets import TicketApi
from bot.services.database import Database

if TYPE_CHECKING:
    from bot.http.mcp_endpoint import McpEndpoint

log = logging.getLogger(__name__)

JSON = "application/json"
# Polls arriving within this many seconds share one database read of the head.
DEFAULT_HEAD_TTL = 0.5


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(data, status_code=status, media_type=JSON, headers=headers)


def _error(status: int, error: str, message: str) -> Response:
    return _json(status, {"error": error, "message": message})


class RefusalLog:
    """Requests refused for their token, logged at most once a minute with how many came since
    (a client retrying with a wrong token must not flood the log)."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self.clock = clock
        self.count = 0
        self.last: float | None = None

    def refused(self, path: str, client: Any) -> None:
        self.count += 1
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return
        host = client[0] if client else "unknown"
        log.warning(
            "refused %d request(s) without a valid token (the last: %s from %s)",
            self.count,
            path,
            host,
        )
        self.count, self.last = 0, now


REFUSALS = RefusalLog()


def _unauthorized() -> Response:
    return _json(
        401,
        {"error": "unauthorized", "message": "send Authorization: Bearer <token>"},
        {"WWW-Authenticate": 'Bearer realm="sopbot"'},
    )


@dataclass
class _CachedHead:
    expires: float
    body: bytes
    etag: bytes


class HeadCache:
    """The head per consumer, read at most once per `ttl` seconds however many poll."""

    def __init__(self, read: Callable[[ConsumerConfig], feed.Head], ttl: float):
        self._read = read
        self._ttl = ttl
        self._cached: dict[str, _CachedHead] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, consumer: ConsumerConfig) -> _CachedHead:
        cached = self._cached.get(consumer.name)
        if cached is not None and cached.expires > time.monotonic():
            return cached
        lock = self._locks.setdefault(consumer.name, asyncio.Lock())
        async with lock:  # one read in flight per consumer; the others wait for its answer
            cached = self._cached.get(consumer.name)
            if cached is not None and cached.expires > time.monotonic():
                return cached
            head = await asyncio.to_thread(self._read, consumer)
            body = json.dumps(head.as_json(), separators=(",", ":")).encode()
            # Strong: the same bytes always carry the same tag.
            etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
            cached = _CachedHead(time.monotonic() + self._ttl, body, etag)
            self._cached[consumer.name] = cached
            return cached


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    if if_none_match.strip() == b"*":
        return True
    # If-None-Match uses the weak comparison: W/"x" matches "x".
    return any(tag.strip().removeprefix(b"W/") == etag for tag in if_none_match.split(b","))


class HeadFastPath:
    """`GET /changes/head.json` answered straight in ASGI, everything else by Starlette.

    The head is what every consumer polls; skipping the router and the request and response
    objects roughly doubles the polls one core answers.
    """

    PATH = "/changes/head.json"

    def __init__(
        self,
        app: Starlette,
        heads: HeadCache,
        authenticate: Callable[[bytes], ConsumerConfig | None],
    ):
        self.app = app
        self.heads = heads
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)  # Starlette answers 404/405 as usual
            return
        authorization = if_none_match = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"if-none-match":
                if_none_match = value
        consumer = self.authenticate(authorization)
        if consumer is None:
            REFUSALS.refused(scope["path"], scope.get("client"))
            await _unauthorized()(scope, receive, send)
            return
        cached = await self.heads.get(consumer)
        headers = [(b"etag", cached.etag), (b"cache-control", b"no-cache")]
        if if_none_match and _matches(if_none_match, cached.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [
            (b"content-type", JSON.encode()),
            (b"content-length", str(len(cached.body)).encode()),
        ]
        body = b"" if scope["method"] == "HEAD" else cached.body
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _parse_since(value: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time; without a zone it is UTC."""
    value = value.strip()
    if len(value) == 10:
        d = date.fromisoformat(value)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def create_app(
    config: Config,
    db: Database,
    *,
    head_ttl: float = DEFAULT_HEAD_TTL,
    api: TicketApi | None = None,
    dashboard: Dashboard | None = None,
) -> ASGIApp:
    """The HTTP API over `db` for the consumers in `config.http`; with `api`, also the write
    API (`/api/v1`) and the MCP endpoint (`/mcp`) for the clients in `config.http.clients`; and
    the live view under /app/ when `http.dashboard` is true (`dashboard` is one built for it,
    e.g. with a test clock)."""
    tokens = [(c.token.encode(), c) for c in config.http.consumers if c.token]

    def authenticate_header(value: bytes) -> ConsumerConfig | None:
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return None
        given = token.strip()
        found = None
        for secret, consumer in tokens:  # compare with every token: no early exit to time
            if hmac.compare_digest(given, secret):
                found = consumer
        return found

    def authenticate(request: Request) -> ConsumerConfig | None:
        return authenticate_header(request.headers.get("authorization", "").encode("latin-1"))

    def read_head(consumer: ConsumerConfig) -> feed.Head:
        with db.reading() as session:
            return feed.head(session, consumer)

    heads = HeadCache(read_head, head_ttl)

    async def changes(request: Request) -> Response:
        """The published changes after `cursor` (or from `since`), oldest first."""
        consumer = authenticate(request)
        if consumer is None:
            REFUSALS.refused(request.url.path, request.client)
            return _unauthorized()
        params = request.query_params
        try:
            limit = int(params.get("limit", feed.DEFAULT_LIMIT))
            if not 1 <= limit <= feed.MAX_LIMIT:
                raise ValueError
        except ValueError:
            return _error(400, "bad_limit", f"limit is a whole number from 1 to {feed.MAX_LIMIT}")
        try:
            since = _parse_since(params["since"]) if params.get("since") else None
        except ValueError:
            return _error(400, "bad_since", "since is a date (2026-03-01) or an ISO 8601 time")
        cursor = params.get("cursor") or None

        def read() -> feed.Page:
            with db.reading() as session:
                return feed.changes(
                    session, consumer=consumer, cursor=cursor, since=since, limit=limit
                )

        try:
            page = await asyncio.to_thread(read)
        except feed.BadCursor as e:
            return _error(400, "bad_cursor", str(e))
        except feed.UnknownCursor:
            return _error(
                410,
                "unknown_cursor",
                "this cursor is not in the audit chain (it never was, or history was rewritten):"
                " start again from the beginning (no cursor) or from a date with"
                " ?since=YYYY-MM-DD, and check the chain with `sopbot audit verify`",
            )
        return _json(200, page.as_json(), {"Cache-Control": "no-cache"})

    async def ticket(request: Request) -> Response:
        """The current state of one ticket in the consumer's chats."""
        consumer = authenticate(request)
        if consumer is None:
            REFUSALS.refused(request.url.path, request.client)
            return _unauthorized()
        number = request.path_params["number"]

        def read() -> dict[str, Any] | None:
            with db.reading() as session:
                return feed.ticket_state(session, consumer, number)

        state = await asyncio.to_thread(read)
        if state is None:
            return _error(404, "not_found", f"no ticket #{number} for this consumer")
        return _json(200, state, {"Cache-Control": "no-cache"})

    async def healthz(request: Request) -> Response:
        """Liveness and the database: no token needed, no data given."""

        if not await asyncio.to_thread(health.database_answers, db):
            return _json(503, {"ok": False, "database": "unreachable"})
        return _json(200, {"ok": True, "database": "ok"})

    routes = [
        Route("/changes", changes),
        Route("/tickets/{number:int}", ticket),
        Route("/healthz", healthz),
    ]
    lifespan = None
    if api is not None:
        # Imported only when there are clients: the MCP SDK is heavy for a feed-only server.
        from bot.http import api as write_api
        from bot.http import mcp_endpoint

        routes += write_api.routes(config, api, write_api.utc_now)
        endpoint = mcp_endpoint.McpEndpoint(config, api)
        routes.append(Route(mcp_endpoint.PATH, endpoint))
        lifespan = _running(endpoint)
    if config.http.dashboard:
        routes.append((dashboard or Dashboard(config, db)).routes())
    return HeadFastPath(Starlette(routes=routes, lifespan=lifespan), heads, authenticate_header)


def _running(endpoint: McpEndpoint) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the MCP endpoint's session manager runs while the server does."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with endpoint.running():
            yield

    return lifespan
