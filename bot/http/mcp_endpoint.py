"""`/mcp`: the MCP tools over streamable HTTP, for the API's clients and their tokens.

A request without a valid client token is refused with a 401 problem before the SDK sees it;
the tools read the same token again to know who acts. Stateless, JSON answers: each call is one
request, so nothing is kept between calls but what the database holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from bot.config import Config
from bot.http.api import problem_response, utc_now
from bot.mcp.tools import build_mcp
from bot.services.api.context import authenticate
from bot.services.api.problems import Problem
from bot.services.api.tickets import TicketApi

PATH = "/mcp"


class McpEndpoint:
    """An ASGI endpoint in front of the SDK's streamable HTTP session manager."""

    def __init__(self, config: Config, api: TicketApi):
        self.config = config
        server = build_mcp(api, config, utc_now)
        # Builds the session manager: stateless (nothing per session to lose), JSON answers,
        # and no Host check of its own: every request must carry a client's token anyway.
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value
        scheme, _, secret = token.decode("latin-1").partition(" ")
        client = authenticate(self.config, secret.strip()) if scheme.lower() == "bearer" else None
        if client is None or not secret.strip():
            await problem_response(Problem(401, "unauthorized"))(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)
