"""The outbox's sender: delivers what the bot owes people, within Telegram's limits, until sent.

One loop claims what may be sent now (`services.outbox.Outbox.claim`) and hands each chat's
messages to a task of that chat, so a group waiting for its next slot (Telegram allows a group
about 20 messages a minute) never holds back a private reply. The rate limiter of the
application (`AIORateLimiter`) spaces the calls; this module decides what happens when a call
fails:

- "retry after N seconds" (429) and network or server errors (5xx): the message goes back to
  the outbox with a time before which it is not tried again (Telegram's N, or a back-off that
  doubles up to five minutes), and the chat's later messages wait behind it;
- refused for good (the person blocked the bot, the chat is gone, or a message Telegram cannot
  take): the outbox records it, audits it and tells the leads once a day per chat;
- a message that could not be sent for a day is given up the same way.

Announcements piling up for one group (more than one waiting when its turn comes: its rate is
exceeded) go out as one message naming every ticket, instead of one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.render import render, speaking
from bot.services import buttons as data
from bot.services.messages import Button, Reply
from bot.services.outbox import GIVE_UP_AFTER, Owed, Sent
from bot.telegram.send import send_reply

log = logging.getLogger(__name__)

IDLE = 1.0  # seconds between looks at the outbox when nothing woke the sender
RENEW_EVERY = 3.0  # seconds; well within the outbox's lease
MAX_BACKOFF = timedelta(minutes=5)
MERGED_BUTTONS = 10  # "Show #N" buttons under a merged announcement


class OutboxPort(Protocol):
    """What the sender needs of the outbox (`bot.services.outbox.Outbox`)."""

    def claim(self, now: datetime) -> list[Owed]: ...
    def sent(self, done: Sequence[Sent]) -> None: ...
    def later(self, owed: Owed, until: datetime, error: str, now: datetime) -> None: ...
    def release(self, owed: Sequence[Owed]) -> None: ...
    def renew(self, ids: Sequence[int], now: datetime) -> None: ...
    def refused(self, owed: Owed, error: str, now: datetime) -> None: ...
    def chat_language(self, chat_id: int) -> str: ...


class OutboxSender:
    """Sends the outbox's messages until stopped; `wake()` after something was owed."""

    def __init__(
        self, bot: Bot, outbox: OutboxPort, *, clock: Callable[[], datetime] | None = None
    ):
        self.bot = bot
        self.outbox = outbox
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wake = asyncio.Event()
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._held: set[int] = set()  # outbox ids claimed and not yet settled
        # Set when stopping: each chat finishes the message in flight and leaves the rest owed
        # (released at once), so a stop never waits for a queue to drain through flood limits.
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until `stop` is set; the message in flight in each chat is finished,
        the rest stays owed for the next start (or another instance)."""
        renewing = asyncio.create_task(self._renew(stop))
        watching = asyncio.create_task(self._watch(stop))
        try:
            await self._loop(stop)
        finally:
            renewing.cancel()
            watching.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping.set()

    async def _renew(self, stop: asyncio.Event) -> None:
        """Keep this sender's claims alive while it works on them (a dead sender's run out)."""
        while not stop.is_set():
            await asyncio.sleep(RENEW_EVERY)
            if self._held:
                try:
                    await asyncio.to_thread(self.outbox.renew, sorted(self._held), self.clock())
                except Exception:
                    log.exception("could not renew the outbox claims")

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            if await self._claim():
                continue  # there may be more: look again at once
            with contextlib.suppress(TimeoutError):
                waiter = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=IDLE, return_when="FIRST_COMPLETED")
                waiter.cancel()
                stopper.cancel()
        if self._chats:
            await asyncio.gather(*self._chats.values(), return_exceptions=True)

    async def drain(self, timeout: float) -> None:
        """Send what may be sent now and return once nothing more can go (`sopbot sweep`):
        messages that must wait stay owed, for the bot's sender or the next run."""
        stop = asyncio.Event()
        renewing = asyncio.create_task(self._renew(stop))
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while asyncio.get_running_loop().time() < deadline:
                claimed = await self._claim()
                if not claimed and not self._chats:
                    break
                if not claimed:
                    remaining = deadline - asyncio.get_running_loop().time()
                    await asyncio.wait(
                        set(self._chats.values()),
                        timeout=max(0.0, remaining),
                        return_when="FIRST_COMPLETED",
                    )
        finally:
            stop.set()
            renewing.cancel()
            if self._chats:
                await asyncio.gather(*self._chats.values(), return_exceptions=True)

    async def _claim(self) -> bool:
        """Claim what may be sent now and start each chat's task; False when nothing was."""
        try:
            owed = await asyncio.to_thread(self.outbox.claim, self.clock())
        except Exception:
            log.exception("could not read the outbox; trying again")
            return False
        self._held.update(o.id for o in owed)
        for chat_id, messages in _by_chat(owed).items():
            if chat_id in self._chats:  # cannot happen (the chat's queue is claimed)
                await asyncio.to_thread(self.outbox.release, messages)
                continue
            task = asyncio.create_task(self._send_chat(chat_id, messages))
            self._chats[chat_id] = task
            task.add_done_callback(lambda _t, c=chat_id: self._done(c))
        return bool(owed)

    def _done(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)
        self._wake.set()  # the chat may have more waiting behind what was just sent

    async def _send_chat(self, chat_id: int, owed: list[Owed]) -> None:
        """One chat's claimed messages, in order; the first that must wait stops the rest."""
        done: list[Sent] = []
        batches = _merged(owed) if chat_id < 0 else [[o] for o in owed]
        try:
            for i, batch in enumerate(batches):
                if self._stopping.is_set() or not await self._send(batch, done):
                    first = i if self._stopping.is_set() else i + 1
                    rest = [o for later in batches[first:] for o in later]
                    await asyncio.to_thread(self.outbox.release, rest)
                    break
        finally:
            if done:
                await asyncio.to_thread(self.outbox.sent, done)
            self._held.difference_update(o.id for o in owed)

    async def _send(self, batch: list[Owed], done: list[Sent]) -> bool:
        """Send one message (or several announcements as one); False when it must wait."""
        first = batch[0]
        reply = (
            first.reply
            if len(batch) == 1
            else _merge(batch, self.outbox.chat_language(first.reply.chat_id))
        )
        now = self.clock()
        try:
            messages = await send_reply(self.bot, reply)
        except RetryAfter as e:
            now = self.clock()  # waits count from the answer, not from before the call
            until = now + _seconds(e.retry_after)
            await self._later(batch, until, f"flood limit: retry after {e.retry_after}", now)
            return False
        except (Forbidden, ChatMigrated) as e:
            await self._refused(batch, str(e), now)
            return True
        except BadRequest as e:
            if first.reply.edit_message_id is not None:
                done += [Sent(o, (), now) for o in batch]  # the message to edit is gone
                return True
            await self._refused(batch, str(e), now)
            return True
        except NetworkError as e:
            now = self.clock()
            if tried_for(first.attempts) >= GIVE_UP_AFTER:
                await self._refused(batch, f"not sent for a day: {e}", now)
                return True
            until = now + backoff(first.attempts)
            await self._later(batch, until, str(e), now)
            return False
        ids = tuple(m.message_id for m in messages)
        at = messages[0].date if messages else now
        done += [Sent(o, ids, at) for o in batch]
        return True

    async def _later(self, batch: list[Owed], until: datetime, error: str, now: datetime) -> None:
        log.warning(
            "chat %s: %d message(s) wait until %s (%s)",
            batch[0].reply.chat_id,
            len(batch),
            until.strftime("%H:%M:%S"),
            error,
        )
        for o in batch:
            await asyncio.to_thread(self.outbox.later, o, until, error, now)

    async def _refused(self, batch: list[Owed], error: str, now: datetime) -> None:
        log.warning("chat %s refuses messages: %s", batch[0].reply.chat_id, error)
        for o in batch:
            await asyncio.to_thread(self.outbox.refused, o, error, now)


def backoff(attempts: int) -> timedelta:
    """How long a message waits after its `attempts`-th failed try: doubling up to 5 minutes."""
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 9)))


def tried_for(attempts: int) -> timedelta:
    """How long a message has been tried after `attempts` failures: the back-offs it waited.

    Counted in tries rather than from when it was owed, so a bot that was down (or a sweep run
    for another moment with `--now`) does not give up on messages nobody has tried yet."""
    return sum((backoff(n) for n in range(attempts)), timedelta())


def _by_chat(owed: list[Owed]) -> dict[int, list[Owed]]:
    chats: dict[int, list[Owed]] = {}
    for o in owed:
        chats.setdefault(o.reply.chat_id, []).append(o)
    return chats


def _merged(owed: list[Owed]) -> list[list[Owed]]:
    """A group's messages in order, with every announcement waiting merged into the place of
    the first: when more than one waits, the group's rate was exceeded."""
    announcements = [o for o in owed if o.reply.kind == "announcement"]
    if len(announcements) < 2:
        return [[o] for o in owed]
    batches: list[list[Owed]] = []
    for o in owed:
        if o.reply.kind != "announcement":
            batches.append([o])
        elif o is announcements[0]:
            batches.append(announcements)
    return batches


def _merge(batch: list[Owed], language: str) -> Reply:
    """Several announcements for one group as one message."""
    numbers = [o.reply.ticket_id for o in batch if o.reply.ticket_id is not None]
    first = batch[0].reply
    with speaking(language):  # the group's, as each announcement in it already is
        text = render(
            "chat/announcements.html", numbers=numbers, texts=[o.reply.text for o in batch]
        )
        buttons = tuple(
            (Button(data.label("show_ticket", number=n), data.ShowTicket(n).encode()),)
            for n in numbers[:MERGED_BUTTONS]
        )
    return Reply(
        chat_id=first.chat_id,
        text=text,
        buttons=buttons,
        thread_id=first.thread_id,
        ticket_id=first.ticket_id,
        kind="announcement",
    )


def _seconds(value: float | timedelta) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))
