"""The outbox on SQLite and PostgreSQL: owed with the change, claimed in order, settled once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import AuditEvent, BotMessage, OutboxMessage
from bot.services.messages import Reply
from bot.services.outbox import LEASE, Outbox, Sent, owe
from tests.helpers.engine import ANN, BOB, TEAM_CHAT, Harness, make_config


@pytest.fixture
def h(db, database_url, tmp_path, now):
    harness = Harness(make_config(tmp_path, database_url), now)
    yield harness
    harness.close()


@pytest.fixture
def outbox(h) -> Outbox:
    return Outbox(h.db, h.config)


def owed_rows(h) -> list[OutboxMessage]:
    with h.db.reading() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def put(h, *replies: Reply) -> None:
    with h.db.transaction() as s:
        owe(s, replies, h.now)


def test_what_a_message_makes_the_bot_owe_is_stored_with_it(h):
    out = h.say(ANN, "I need access to grafana please")
    rows = owed_rows(h)
    assert [r.chat_id for r in rows] == [r.chat_id for r in out.replies] == [ANN.user_id]
    assert "Which system" in rows[0].text and rows[0].ticket_id == 1
    assert [label for label, _ in rows[0].buttons[0]] == ["github"]
    assert rows[0].sent_at is None and out.owed


def test_a_message_that_fails_owes_nothing(h):
    def boom(ctx, args):
        ctx.say("chat/empty.html")
        raise RuntimeError("after saying something")

    h.conversation.registry.command("boom", boom)
    with pytest.raises(RuntimeError):
        h.say(ANN, "/boom")
    assert owed_rows(h) == []


def test_a_chats_messages_are_claimed_oldest_first_and_only_once(h, outbox):
    put(h, Reply(ANN.user_id, "one"), Reply(BOB.user_id, "to bob"), Reply(ANN.user_id, "two"))
    claimed = outbox.claim(h.now)
    assert [o.reply.text for o in claimed] == ["one", "to bob", "two"]
    assert outbox.claim(h.now) == []  # held by the first claim
    assert [o.reply.text for o in outbox.claim(h.now + LEASE)] == ["one", "to bob", "two"]


def test_a_message_that_must_wait_holds_back_the_later_ones_of_its_chat_only(h, outbox):
    put(h, Reply(ANN.user_id, "one"), Reply(ANN.user_id, "two"), Reply(BOB.user_id, "to bob"))
    one, two, bob = outbox.claim(h.now)
    outbox.later(one, h.now + timedelta(seconds=30), "flood limit", h.now)
    outbox.release([two])
    outbox.sent([Sent(bob, (900,), h.now)])
    assert outbox.claim(h.now + timedelta(seconds=10)) == []  # "two" waits behind "one"
    later = outbox.claim(h.now + timedelta(seconds=30))
    assert [o.reply.text for o in later] == ["one", "two"]
    assert later[0].attempts == 1


def test_a_message_sent_is_never_claimed_again_and_a_reply_to_it_finds_its_ticket(h, outbox):
    h.say(ANN, "I need access to grafana please")  # ticket 1, and its first question owed
    (owed,) = outbox.claim(h.now)
    outbox.sent([Sent(owed, (501, 502), h.now)])
    assert outbox.claim(h.now + LEASE * 3) == []
    with h.db.reading() as s:
        landed = {(m.message_id, m.ticket_id) for m in s.scalars(select(BotMessage))}
        row = s.scalars(select(OutboxMessage)).one()
    assert {(501, 1), (502, 1)} <= landed
    assert (row.message_id, row.sent_at) == (501, h.now)


def test_a_chat_that_refuses_is_audited_and_the_leads_are_told_once_a_day(h, outbox):
    h.say(ANN, "/help")  # Ann is known by name
    for text in ("one", "two"):
        put(h, Reply(ANN.user_id, text))
    owed = [o for o in outbox.claim(h.now) if o.reply.text in ("one", "two")]
    for o in owed:
        outbox.refused(o, "Forbidden: bot was blocked by the user", h.now)
    with h.db.reading() as s:
        events = [e.action for e in s.scalars(select(AuditEvent))]
    assert events.count("message.undeliverable") == 2
    told = [r for r in owed_rows(h) if r.kind == "leads"]
    assert len(told) == 1 and told[0].chat_id == TEAM_CHAT
    assert "Ann" in told[0].text and str(ANN.user_id) not in told[0].text
    put(h, Reply(ANN.user_id, "tomorrow"))
    (tomorrow,) = [
        o for o in outbox.claim(h.now + timedelta(days=1, seconds=1)) if o.reply.text == "tomorrow"
    ]
    outbox.refused(tomorrow, "Forbidden", h.now + timedelta(days=1, seconds=1))
    assert len([r for r in owed_rows(h) if r.kind == "leads"]) == 2


def test_two_senders_at_the_same_moment_never_claim_the_same_message(h, outbox):
    put(h, *(Reply(1000 + n % 7, f"m{n}") for n in range(60)))
    claims: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def sender(i: int) -> None:
        mine = Outbox(h.db, h.config)
        start.wait()
        for _ in range(5):
            claims[i] += [o.id for o in mine.claim(h.now)]

    threads = [threading.Thread(target=sender, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(claims[0]) & set(claims[1])
    assert sorted(claims[0] + claims[1]) == [r.id for r in owed_rows(h)]


def test_the_lead_is_not_told_about_the_leads_own_chat(h, outbox):
    put(h, Reply(TEAM_CHAT, "announcement", kind="announcement"))
    (owed,) = outbox.claim(h.now)
    outbox.refused(owed, "Forbidden: bot was kicked from the group chat", h.now)
    assert [r for r in owed_rows(h) if r.kind == "leads"] == []
