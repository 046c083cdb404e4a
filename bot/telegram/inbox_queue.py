"""Updates stored before Telegram is told they arrived, and handled once.

python-telegram-bot hands every update to the application through its update queue: the
polling loop puts each update of a `getUpdates` answer into it *before* asking for the next
batch with the offset that confirms this one, and the webhook server puts the update into it
*before* answering 200. `InboxQueue.put` stores the update in the inbox first (retrying while
the database is unreachable), so whatever Telegram considers delivered is on disk. An update
seen before (the same update id, or the same message under a new one) is not queued again.

`InboxApplication` marks an update done once it was processed (the engine marks the ones it
handles in its own transaction, so a second try of those changes nothing). `recover` queues what
was stored but never finished: after a crash, at start, and now and then for anything stuck.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from telegram import Bot, Update
from telegram.ext import Application

from bot.services.inbox import RETRY_AFTER, Waiting

log = logging.getLogger(__name__)

TRY_LATER = "inbox_try_later"  # bot_data: update ids to leave in the inbox
RECOVER_EVERY = 30.0  # seconds between looks for stored updates nobody finished
STUCK_AFTER = timedelta(seconds=30)  # an update stored this long ago and not done is stuck
MAX_STORE_DELAY = 30.0  # seconds between tries to store while the database is unreachable


class InboxPort(Protocol):
    """What the adapter needs of the inbox (`bot.services.inbox.Inbox`)."""

    def store(self, updates: Sequence[dict[str, Any]], now: datetime) -> int: ...
    def claim(self, now: datetime) -> list[Waiting]: ...
    def done(self, update_ids: Sequence[int], now: datetime) -> None: ...
    def later(self, update_id: int, until: datetime, error: str) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


class InboxQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The application's update queue, storing each update in the inbox before queueing it."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        super().__init__()
        self.inbox: InboxPort | None = None  # set once the services exist
        self.clock = clock
        self._retries: set[asyncio.Task[None]] = set()

    async def put(self, item: object) -> None:
        stored = isinstance(item, Update) and self.inbox is not None
        if stored and not await self._store(item):  # type: ignore[arg-type]
            log.info("update %s was delivered before; not handled again", item.update_id)  # type: ignore[attr-defined]
            return
        await super().put(item)

    async def _store(self, update: Update) -> bool:
        """Store `update`; True when it was new. Never gives up: Telegram must not be told an
        update arrived before it is stored (polling waits here, the webhook answers late)."""
        assert self.inbox is not None
        delay = 0.5
        while True:
            try:
                new = await asyncio.to_thread(self.inbox.store, [update.to_dict()], self.clock())
                return new > 0
            except Exception as e:
                log.warning("could not store update %s (%s); trying again", update.update_id, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_STORE_DELAY)

    def retry_soon(self, application: Application) -> None:
        """Look for updates to try again once their wait is over."""

        async def later() -> None:
            await asyncio.sleep(RETRY_AFTER.total_seconds() + 0.1)
            await self.recover(application.bot, stuck_only=False)

        task = asyncio.get_running_loop().create_task(later())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def recover(self, bot: Bot, *, stuck_only: bool) -> int:
        """Queue again what was stored and not finished; returns how many."""
        assert self.inbox is not None
        now = self.clock()
        waiting = await asyncio.to_thread(self.inbox.claim, now)
        if stuck_only:
            waiting = [w for w in waiting if w.received_at <= now - STUCK_AFTER]
        for w in waiting:
            await super().put(Update.de_json(dict(w.payload), bot))
        if waiting:
            log.info("handling %d stored update(s) that were not finished", len(waiting))
        return len(waiting)


class InboxApplication(Application):  # type: ignore[type-arg]
    """The application, marking each update done in the inbox once it was processed, or
    leaving it there to be tried again (the database was busy)."""

    async def process_update(self, update: object) -> None:
        try:
            await super().process_update(update)
        finally:
            queue = self.update_queue
            if isinstance(update, Update) and isinstance(queue, InboxQueue) and queue.inbox:
                await self._settle(update.update_id, queue)

    async def _settle(self, update_id: int, queue: InboxQueue) -> None:
        assert queue.inbox is not None
        now = queue.clock()
        try:
            if update_id in self.bot_data.get(TRY_LATER, set()):
                self.bot_data[TRY_LATER].discard(update_id)
                await asyncio.to_thread(queue.inbox.later, update_id, now + RETRY_AFTER, "busy")
                queue.retry_soon(self)
            else:
                await asyncio.to_thread(queue.inbox.done, [update_id], now)
        except Exception:
            log.exception("could not settle update %s in the inbox", update_id)


async def try_later(update: object, context: Any) -> None:
    """The error handler's part for an update the database was too busy for: no apology and
    no report, it is tried again in a moment."""
    if isinstance(update, Update):
        context.bot_data.setdefault(TRY_LATER, set()).add(update.update_id)


async def recover_now_and_then(application: Application, queue: InboxQueue) -> None:
    """At start, everything stored and unfinished; then, every so often, what is stuck."""
    stuck_only = False
    while True:  # until cancelled when the application stops
        try:
            await queue.recover(application.bot, stuck_only=stuck_only)
        except Exception:
            log.exception("could not look for unfinished updates; will look again")
        stuck_only = True
        await asyncio.sleep(RECOVER_EVERY)
