"""The inbox on SQLite and PostgreSQL: stored once, claimed in order, handled once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import InboxUpdate, Ticket
from bot.services.inbox import LEASE, Inbox, dedupe_key
from bot.services.messages import Incoming
from tests.helpers.engine import ANN, BOB, Harness, make_config


@pytest.fixture
def h(db, database_url, tmp_path, now):
    harness = Harness(make_config(tmp_path, database_url), now)
    yield harness
    harness.close()


@pytest.fixture
def inbox(h) -> Inbox:
    return Inbox(h.db)


def message(update_id: int, chat: int, message_id: int, text: str = "hello") -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 0,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "P"},
            "text": text,
        },
    }


def test_an_update_delivered_again_is_stored_once(h, inbox):
    assert inbox.store([message(10, 1, 100)], h.now) == 1
    assert inbox.store([message(10, 1, 100)], h.now) == 0  # the same update id
    assert inbox.store([message(11, 1, 100)], h.now) == 0  # the same message, a new update id
    assert inbox.store([message(12, 1, 101), message(13, 2, 100)], h.now) == 2
    assert inbox.last_update_id() == 13
    assert inbox.waiting_count() == 3


def test_a_button_press_is_the_same_press_under_any_update_id():
    press = {"update_id": 5, "callback_query": {"id": "abc", "from": {"id": 1}}}
    assert dedupe_key(press) == dedupe_key(press | {"update_id": 6}) == "c:abc"
    assert dedupe_key({"update_id": 7, "my_chat_member": {}}) == "u:7"


def test_a_chats_updates_are_claimed_in_order_and_once(h, inbox):
    inbox.store([message(1, 1, 1), message(2, 2, 1), message(3, 1, 2)], h.now)
    assert [w.update_id for w in inbox.claim(h.now)] == [1, 2, 3]
    assert inbox.claim(h.now) == []
    inbox.done([2], h.now)
    assert [w.update_id for w in inbox.claim(h.now + LEASE)] == [1, 3]


def test_an_update_that_must_wait_holds_back_its_chat(h, inbox):
    inbox.store([message(1, 1, 1), message(2, 1, 2), message(3, 2, 1)], h.now)
    first, _, _ = inbox.claim(h.now)
    inbox.later(first.update_id, h.now + timedelta(minutes=1), "database busy")
    later = h.now + LEASE
    assert [w.update_id for w in inbox.claim(later)] == [3]


def test_an_update_is_handled_once_however_often_it_is_tried(h, inbox):
    inbox.store([message(42, ANN.user_id, 7)], h.now)
    incoming = Incoming(
        user=ANN,
        chat_id=ANN.user_id,
        chat_type="private",
        now=h.now,
        text="I need access to grafana please",
        message_id=7,
        update_id=42,
    )
    first = h.conversation.handle(incoming)
    again = h.conversation.handle(incoming)
    assert first.replies and not again.replies
    with h.db.reading() as s:
        assert len(s.scalars(select(Ticket)).all()) == 1
        row = s.get(InboxUpdate, 42)
    assert row.handled_at == h.now
    assert inbox.claim(h.now + LEASE) == []


def test_an_update_the_inbox_never_saw_is_handled_as_before(h):
    out = h.say(BOB, "/help")  # the harness's updates do not come through the inbox
    assert out.replies
