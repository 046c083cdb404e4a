"""Posting webhook deliveries: claim from the durable queue, POST each lane's deliveries in
order, and record what happened. Runs in the HTTP server's event loop (`serve`) and, for one
sample, in `sopbot webhooks test`.

A delivery counts as delivered on any 2xx answer. Anything else (a 500, a refused connection, a
timeout) puts it back with a back-off and holds back the rest of its lane (the same ticket), so
a receiver sees each ticket's items in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from bot import __version__
from bot.services.webhooks import SIGNATURE, Delivery, Webhooks

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
IDLE = 1.0  # seconds between looks at the queue when it is empty


def utc_now() -> datetime:
    return datetime.now(UTC)


async def post(http: httpx.AsyncClient, delivery: Delivery) -> str | None:
    """POST one delivery; None when the receiver took it, else what went wrong."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"sopbot/{__version__}",
        SIGNATURE: delivery.signature,
        "X-Sopbot-Webhook": delivery.target.name,
        "X-Sopbot-Delivery": str(delivery.id),
    }
    try:
        answer = await http.post(delivery.target.url, content=delivery.body, headers=headers)
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {e}"
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"


class WebhookSender:
    """Delivers what the queue owes, until stopped."""

    def __init__(
        self,
        webhooks: Webhooks,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.webhooks = webhooks
        self.http = http or httpx.AsyncClient(timeout=TIMEOUT)
        self.clock = clock

    async def run_once(self) -> int:
        """Queue new items, claim, deliver; how many were delivered."""
        await asyncio.to_thread(self.webhooks.queue, self.clock())
        batch = await asyncio.to_thread(self.webhooks.claim, self.clock())
        lanes: dict[str, list[Delivery]] = {}
        for delivery in batch:
            lanes.setdefault(delivery.lane, []).append(delivery)
        results = await asyncio.gather(*(self._lane(lane) for lane in lanes.values()))
        done = [i for ids in results for i in ids]
        await asyncio.to_thread(self.webhooks.delivered, done, self.clock())
        return len(done)

    async def _lane(self, lane: list[Delivery]) -> list[int]:
        done: list[int] = []
        for i, delivery in enumerate(lane):
            error = await post(self.http, delivery)
            if error is None:
                done.append(delivery.id)
                continue
            log.info(
                "webhook %s: delivery %d not taken (%s)", delivery.target.name, delivery.id, error
            )
            await asyncio.to_thread(self.webhooks.later, delivery, error, self.clock())
            await asyncio.to_thread(self.webhooks.release, [d.id for d in lane[i + 1 :]])
            break
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a failing database is logged and tried again."""
        try:
            while not stop.is_set():
                try:
                    busy = await self.run_once()
                except Exception:
                    log.exception("webhook deliveries failed; trying again shortly")
                    busy = 0
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), IDLE)
        finally:
            await self.http.aclose()
