"""The live view's routes, mounted at /app/ by `bot.http.app.create_app` when
`http.dashboard` is true. Thin: read the session cookie, call a service in a thread, render a
template from bot/templates/dashboard/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.config import Config
from bot.http.dashboard.hub import DEFAULT_POLL, Client, Hub
from bot.procedures.store import ProcedureStore
from bot.render import render
from bot.services import dashboard_views as views
from bot.services import live, signin
from bot.services.database import Database

T = TypeVar("T")
COOKIE = "sopbot_session"
STATIC = Path(__file__).resolve().parent.parent / "static"
METRICS_DAYS = 30
# Everything the page loads comes from sopbot itself.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; frame-ancestors 'self' https://web.telegram.org"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status, headers=HEADERS)


class Dashboard:
    """The routes over one database; `now` is a parameter so tests can move the clock."""

    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        poll: float = DEFAULT_POLL,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.config = config
        self.db = db
        self.now = now
        self.procedures = ProcedureStore(config.procedures_dir)
        self.hub = Hub(db, poll=poll)

    async def _read(self, work: Callable[..., T]) -> T:
        """`work(session)` in a read-only transaction, in a thread: the loop never waits."""
        return await asyncio.to_thread(self.db.read, work)

    async def viewer(self, cookies: dict[str, str]) -> live.Viewer | None:
        token = cookies.get(COOKIE, "")
        if not token:
            return None
        now = self.now()

        def read(session) -> live.Viewer | None:
            who = signin.visitor(session, token, now)
            return live.viewer_of(session, who, self.config) if who else None

        return await self._read(read)

    def _secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or self.config.http.public_url.startswith("https:")

    # --- signing in -------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """`/app/login?token=...`: a one-time link from `/dashboard` becomes a session."""
        token = request.query_params.get("token", "")[:100]
        now = self.now()
        hours = self.config.http.session_hours
        done = await asyncio.to_thread(
            self.db.run, lambda s: signin.redeem_link(s, token, now, hours=hours)
        )
        if done is None:
            return _page("dashboard/link_refused.html", 403)
        return self._signed_in(request, done, RedirectResponse("/app/", 303))

    async def miniapp(self, request: Request) -> Response:
        """POST of a Telegram Mini App's `initData`: Telegram's signature signs the person in."""
        body = (await request.body())[:8192].decode("utf-8", "replace")
        now = self.now()
        who = signin.check_init_data(body, self.config.telegram.token, now)
        if who is None or not self.config.is_member(who.user_id or 0):
            return Response(status_code=403, headers=HEADERS)
        hours = self.config.http.session_hours
        done = await asyncio.to_thread(
            self.db.run, lambda s: signin.sign_in_miniapp(s, who, now, hours=hours)
        )
        return self._signed_in(request, done, Response(status_code=204))

    def _signed_in(self, request: Request, done: signin.SignedIn, response: Response) -> Response:
        response.set_cookie(
            COOKIE,
            done.token,
            max_age=int((done.expires_at - self.now()).total_seconds()),
            path="/app",
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
        )
        response.headers.update(HEADERS)
        return response

    # --- pages ------------------------------------------------------------------------------

    async def tickets(self, request: Request) -> Response:
        """Open tickets by SLA risk, filtered and searched."""
        viewer = await self.viewer(request.cookies)
        if viewer is None:
            return _page("dashboard/signed_out.html", 401)
        filters = views.Filters.of(dict(request.query_params))
        now = self.now()

        def read(session) -> dict[str, Any]:
            # The cursor first: whatever commits after it is pushed, never lost between the two.
            _, cursor = live.head(session)
            return {
                "cursor": cursor,
                "rows": views.open_tickets(session, viewer, now, filters),
                "choices": views.choices(session, viewer),
            }

        data = await self._read(read)
        return _page(
            "dashboard/tickets.html",
            viewer=viewer,
            filters=filters,
            now=now,
            tz=self.config.tz,
            query=request.url.query,
            **data,
        )

    async def row(self, request: Request) -> Response:
        """One list row (for a pushed change); 204 when the ticket no longer belongs there."""
        viewer = await self.viewer(request.cookies)
        if viewer is None:
            return Response(status_code=401, headers=HEADERS)
        number = request.path_params["number"]
        filters = views.Filters.of(dict(request.query_params))
        now = self.now()
        found = await self._read(lambda s: views.open_row(s, viewer, number, now, filters))
        if found is None:
            return Response(status_code=204, headers=HEADERS)
        return _page("dashboard/_row.html", r=found, now=now, tz=self.config.tz)

    async def _ticket(self, request: Request) -> tuple[live.Viewer | None, Any, str]:
        viewer = await self.viewer(request.cookies)
        if viewer is None:
            return None, None, ""
        number = request.path_params["number"]
        now, tz = self.now(), self.config.tz

        def read(session) -> tuple[Any, str]:
            _, cursor = live.head(session)
            return views.ticket_page(session, viewer, number, now, tz, self.procedures), cursor

        page, cursor = await self._read(read)
        return viewer, page, cursor

    async def ticket(self, request: Request) -> Response:
        """One ticket: fields, steps, files, and its timeline with procedure versions."""
        viewer, page, cursor = await self._ticket(request)
        if viewer is None:
            return _page("dashboard/signed_out.html", 401)
        if page is None:
            return _page("dashboard/not_found.html", 404, viewer=viewer)
        return _page(
            "dashboard/ticket.html",
            viewer=viewer,
            p=page,
            cursor=cursor,
            now=self.now(),
            tz=self.config.tz,
        )

    async def ticket_body(self, request: Request) -> Response:
        """The changing part of a ticket's page, fetched again after a pushed change."""
        viewer, page, _ = await self._ticket(request)
        if viewer is None or page is None:
            return Response(status_code=404 if viewer else 401, headers=HEADERS)
        return _page("dashboard/_ticket_body.html", p=page, now=self.now(), tz=self.config.tz)

    async def metrics(self, request: Request) -> Response:
        """The `/stats` figures per procedure version (leads only)."""
        viewer = await self.viewer(request.cookies)
        if viewer is None:
            return _page("dashboard/signed_out.html", 401)
        if not viewer.lead:
            return _page("dashboard/leads_only.html", 403, viewer=viewer)
        now, tz = self.now(), self.config.tz

        def read(session) -> tuple[str, views.MetricsPage]:
            _, cursor = live.head(session)
            return cursor, views.metrics(session, now, tz, METRICS_DAYS)

        cursor, page = await self._read(read)
        return _page("dashboard/metrics.html", viewer=viewer, m=page, cursor=cursor, now=now)

    async def audit(self, request: Request) -> Response:
        """The audit chain, recomputed (leads only)."""
        viewer = await self.viewer(request.cookies)
        if viewer is None:
            return _page("dashboard/signed_out.html", 401)
        if not viewer.lead:
            return _page("dashboard/leads_only.html", 403, viewer=viewer)

        def read(session) -> tuple[str, Any]:
            _, cursor = live.head(session)
            return cursor, views.chain_status(session)

        cursor, result = await self._read(read)
        return _page("dashboard/audit.html", viewer=viewer, result=result, cursor=cursor)

    # --- live -------------------------------------------------------------------------------

    async def ws(self, websocket: WebSocket) -> None:
        """Every change the viewer may see, as `{cursor, item}`; with `?cursor=C`, first the
        ones after C (or `{snapshot}` when C is unknown or too far behind: reload)."""
        origin = websocket.headers.get("origin")
        if origin and urlsplit(origin).netloc != websocket.headers.get("host"):
            await websocket.close(code=4403)  # another site's page must not ride the cookie
            return
        viewer = await self.viewer(websocket.cookies)
        if viewer is None:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        client, joined = await self.hub.join(viewer)
        try:
            await self._serve(websocket, client, joined)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the browser left mid-send; it reconnects with its cursor
        finally:
            self.hub.leave(client)

    async def _serve(self, websocket: WebSocket, client: Client, joined: int) -> None:
        cursor = websocket.query_params.get("cursor", "")
        after = await self._read(lambda s: live.seq_of(s, cursor)) if cursor else None
        if after is None or joined - after > live.REPLAY_LIMIT:
            head = await self._read(live.head)
            await websocket.send_text(json.dumps({"snapshot": {"cursor": head[1]}}))
            await websocket.close()
            return
        seen = after
        while seen < joined:  # what the browser missed, read from the database
            batch = await self._read(lambda s, a=seen: live.changes_after(s, a, until=joined))
            for change in batch.changes:
                client.viewer = client.viewer.learning(change)
                if client.viewer.sees(change):
                    await websocket.send_text(change.message)
            seen = batch.last_seq
        # The reader only watches for the browser leaving; then it wakes the writer below.
        reader = asyncio.create_task(self._until_closed(websocket, client))
        try:
            while (change := await client.queue.get()) is not None:
                if change.seq > seen:
                    await websocket.send_text(change.message)
            if not reader.done():  # too far behind: the browser reconnects with its cursor
                await websocket.close(code=4408)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await reader

    @staticmethod
    async def _until_closed(websocket: WebSocket, client: Client) -> None:
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        except WebSocketDisconnect:
            pass
        finally:
            client.cut_off()

    def routes(self) -> Mount:
        return Mount(
            "/app",
            routes=[
                Route("/", self.tickets),
                Route("/login", self.login),
                Route("/miniapp", self.miniapp, methods=["POST"]),
                Route("/rows/{number:int}", self.row),
                Route("/tickets/{number:int}", self.ticket),
                Route("/tickets/{number:int}/body", self.ticket_body),
                Route("/metrics", self.metrics),
                Route("/audit", self.audit),
                WebSocketRoute("/ws", self.ws),
                Mount("/static", StaticFiles(directory=STATIC), name="static"),
            ],
        )
