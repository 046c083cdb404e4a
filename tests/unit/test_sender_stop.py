"""Stopping the outbox's sender: the message in flight is finished, the rest stays owed (released
at once for the next start or another instance); a stop never waits for a queue to drain."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from types import SimpleNamespace

from bot.services.messages import Reply
from bot.services.outbox import Owed
from bot.telegram.sender import OutboxSender

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SlowBot:
    """Each message takes half a second to be taken, as under a flood limit."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, chat_id: int, text: str, **kw) -> SimpleNamespace:
        await asyncio.sleep(0.5)
        self.sent.append(text)
        return SimpleNamespace(message_id=len(self.sent), date=NOW)


class Outbox:
    def __init__(self, owed: list[Owed]) -> None:
        self.owed = owed
        self.done: list[int] = []
        self.released: list[int] = []

    def claim(self, now):
        owed, self.owed = self.owed, []
        return owed

    def sent(self, done):
        self.done += [s.owed.id for s in done]

    def release(self, owed):
        self.released += [o.id for o in owed]

    def later(self, *a): ...
    def renew(self, *a): ...
    def refused(self, *a): ...

    def chat_language(self, chat_id: int) -> str:
        return "en"


def test_a_stop_finishes_the_message_in_flight_and_leaves_the_rest_owed():
    owed = [Owed(n, Reply(chat_id=42, text=f"reply {n}"), 0, NOW) for n in range(1, 21)]
    outbox = Outbox(owed)
    bot = SlowBot()

    async def scenario() -> float:
        sender = OutboxSender(bot, outbox, clock=lambda: NOW)  # type: ignore[arg-type]
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        await asyncio.sleep(0.2)  # the first message is in flight
        began = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        return time.monotonic() - began

    took = asyncio.run(scenario())
    assert took < 2.0  # not 20 messages x 0.5 s
    assert bot.sent == ["reply 1"] and outbox.done == [1]
    assert sorted(outbox.released) == list(range(2, 21))
