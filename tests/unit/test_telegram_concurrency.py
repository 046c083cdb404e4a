"""Updates of one chat are handled in order; other chats do not wait for them."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.telegram.concurrency import PerChatUpdateProcessor, chat_key
from tests.helpers.fake_telegram import private_chat, user

ALICE, BOB = user(1, "alice"), user(2, "bob")


def update(person: dict, n: int) -> Update:
    message = {
        "message_id": n,
        "date": 1_700_000_000,
        "chat": private_chat(person),
        "from": person,
        "text": str(n),
    }
    return Update.de_json({"update_id": n, "message": message}, None)


def test_one_chats_updates_run_in_order_while_another_chat_goes_ahead():
    log: list[str] = []

    async def handle(name: str, delay: float) -> None:
        log.append(f"start {name}")
        await asyncio.sleep(delay)
        log.append(f"end {name}")

    async def main() -> None:
        processor = PerChatUpdateProcessor(8)
        async with processor:
            await asyncio.gather(
                processor.process_update(update(ALICE, 1), handle("alice-1", 0.05)),
                processor.process_update(update(ALICE, 2), handle("alice-2", 0)),
                processor.process_update(update(BOB, 3), handle("bob-3", 0)),
            )
        assert processor._locks == {}

    asyncio.run(main())
    assert log.index("end alice-1") < log.index("start alice-2")
    assert log.index("end bob-3") < log.index("end alice-1")


def test_the_key_is_the_chat_or_else_the_person():
    assert chat_key(update(ALICE, 1)) == ALICE["id"]
    assert chat_key(object()) is None
