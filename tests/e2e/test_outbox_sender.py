"""What the bot owes people reaches them, once: flood limits, server errors, outages and chats that
refuse, through the real bot (engine, SQLite, outbox, sender) on the fake Telegram over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select
from telegram import Bot

from bot.app import build_services
from bot.db.models import AuditEvent, OutboxMessage
from bot.domain.actors import Actor
from bot.domain.ticket import Ticket
from bot.services.messages import Reply
from bot.services.outbox import owe
from bot.telegram.sender import OutboxSender
from tests.helpers.fake_telegram import private_chat

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def owed(running_bot) -> list[OutboxMessage]:
    with running_bot.services.db.reading() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(0.05)


def texts_to(server, chat_id: int) -> list[str]:
    return [m["text"] for m in server.sent(chat_id)]


def test_a_reply_refused_by_flood_limits_six_times_is_delivered_once(
    running_bot, fake_telegram, member
):
    for _ in range(6):
        fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    fake_telegram.push_message(member, private_chat(member), "/help")
    wait_until(lambda: texts_to(fake_telegram, member["id"]), timeout=30)
    time.sleep(1.0)  # nothing more may follow
    assert len(texts_to(fake_telegram, member["id"])) == 1
    assert all(r.sent_at is not None for r in owed(running_bot))


def test_an_outage_longer_than_any_retry_loses_no_reply(running_bot, fake_telegram, member):
    for _ in range(14):
        fake_telegram.fail_next("sendMessage", 502)
    fake_telegram.push_message(member, private_chat(member), "/new bug the export is broken")
    fake_telegram.push_message(member, private_chat(member), "/mine")
    wait_until(lambda: len(texts_to(fake_telegram, member["id"])) >= 2, timeout=60)
    time.sleep(1.0)
    sent = texts_to(fake_telegram, member["id"])
    assert len(sent) == 2  # each reply once, in the order they were owed
    assert "#1" in sent[0] and "Your tickets" in sent[1]
    assert all(r.sent_at is not None for r in owed(running_bot))


def test_a_person_who_blocked_the_bot_is_audited_and_the_leads_are_told_once(
    running_bot, fake_telegram, member, team_chat
):
    fake_telegram.fail_next("sendMessage", 403)
    fake_telegram.push_message(member, private_chat(member), "/help")
    wait_until(lambda: texts_to(fake_telegram, team_chat["id"]))
    (told,) = texts_to(fake_telegram, team_chat["id"])
    assert "Max" in told and "refuses" in told
    with running_bot.services.db.reading() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert "message.undeliverable" in actions
    assert texts_to(fake_telegram, member["id"]) == []


def test_announcements_piling_up_for_a_busy_group_go_out_as_one_message(
    fake_telegram, migrated, team_chat, member
):
    fake_telegram.add_chat(private_chat(member))
    services = build_services(migrated)
    try:
        with services.db.transaction() as s:
            for n in (1, 2, 3):
                s.add(ticket(n, member))
            s.flush()
            owe(s, [Reply(member["id"], "Ticket #1 is open.", ticket_id=1)], NOW)
            owe(
                s,
                [
                    Reply(team_chat["id"], f"📣 New ticket #{n}", ticket_id=n, kind="announcement")
                    for n in (1, 2, 3)
                ],
                NOW,
            )
        asyncio.run(send_all(fake_telegram, services))
    finally:
        services.close()
    sent = texts_to(fake_telegram, team_chat["id"])
    assert len(sent) == 1, sent
    (merged,) = sent
    assert "3 new tickets: #1, #2, #3" in merged
    assert all(f"New ticket #{n}" in merged for n in (1, 2, 3))
    assert texts_to(fake_telegram, member["id"]) == ["Ticket #1 is open."]


def test_one_announcement_goes_out_as_it_is(fake_telegram, migrated, team_chat):
    services = build_services(migrated)
    try:
        with services.db.transaction() as s:
            owe(s, [Reply(team_chat["id"], "📣 New ticket #1", kind="announcement")], NOW)
        asyncio.run(send_all(fake_telegram, services))
    finally:
        services.close()
    assert texts_to(fake_telegram, team_chat["id"]) == ["📣 New ticket #1"]


def ticket(number: int, person) -> Ticket:
    return Ticket.draft(
        number=number,
        procedure_id="bug",
        procedure_version="v1",
        procedure_title="Bug",
        text=f"Problem {number}",
        reporter=Actor(person["id"], person["first_name"]),
        chat_id=person["id"],
        chat_type="private",
        message_id=None,
        thread_id=None,
        home_chat_id=None,
        now=NOW,
    )


async def send_all(server, services) -> None:
    """Run a sender until the outbox owes nothing."""
    bot = Bot(server.token, base_url=server.base_url)
    async with bot:
        sender = OutboxSender(bot, services.outbox, clock=lambda: NOW)
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        for _ in range(200):
            if await asyncio.to_thread(services.outbox.owed_count) == 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
