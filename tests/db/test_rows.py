"""Tickets and pending questions read and written outside the ORM keep the ORM's promises:
one object per row per transaction, changes visible to later queries, nothing kept on rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import PendingQuestion, Ticket
from bot.services import records
from bot.services.rows import TicketRow

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _ticket(number: int) -> TicketRow:
    return TicketRow(
        {
            "id": number,
            "procedure_id": "vpn",
            "procedure_version": "v1",
            "title": f"ticket {number}",
            "description": "",
            "status": "waiting_for_info",
            "reporter_id": 7,
            "reporter_name": "Ann",
            "chat_id": 7,
            "chat_type": "private",
            "created_at": NOW,
            "updated_at": NOW,
            "reopen_count": 0,
            "questions_asked": 0,
            "invalid_answers": 0,
            "remind_count": 0,
            "escalation_level": 0,
        }
    )


@pytest.fixture
def stored(db):
    with db.transaction() as session:
        records.add_ticket(session, _ticket(1))
    return db


def test_a_changed_ticket_is_stored_at_commit(stored):
    with stored.transaction() as session:
        ticket = records.lock_ticket(session, 1)
        ticket.status = "open"
        ticket.due_at = NOW + timedelta(hours=8)
    with stored.reading() as session:
        row = session.get(Ticket, 1)
        assert (row.status, row.due_at) == ("open", NOW + timedelta(hours=8))
        assert row.title == "ticket 1"  # columns not set are left alone


def test_a_query_in_the_same_transaction_sees_the_change(stored):
    with stored.transaction() as session:
        records.lock_ticket(session, 1).status = "open"
        found = session.scalars(select(Ticket.id).where(Ticket.status == "open")).all()
        assert found == [1]


def test_nothing_is_kept_when_the_transaction_rolls_back(stored):
    with pytest.raises(RuntimeError), stored.transaction() as session:
        records.lock_ticket(session, 1).status = "open"
        records.new_pending(
            session,
            ticket_id=1,
            chat_id=7,
            user_id=7,
            kind="field",
            payload={"n": 1},
            asked_at=NOW,
        )
        raise RuntimeError("the handler failed")
    with stored.reading() as session:
        assert session.get(Ticket, 1).status == "waiting_for_info"
        assert session.scalars(select(PendingQuestion)).all() == []


def test_one_object_per_ticket_per_transaction(stored):
    with stored.transaction() as session:
        first = records.lock_ticket(session, 1)
        first.questions_asked += 1
        again = records.lock_ticket(session, 1)
        assert again is first and again.questions_asked == 1


def test_a_pending_question_is_written_once_with_its_final_values(stored):
    with stored.transaction() as session:
        pending = records.new_pending(
            session, ticket_id=1, chat_id=7, user_id=7, kind="field", payload={"n": 1}, asked_at=NOW
        )
        pending.field_name = "summary"
        assert records.latest_pending(session, 7, 7) is pending  # flushed before reading
        pending.payload = {"n": 2}
    with stored.transaction() as session:
        pending = records.pending_for_ticket(session, 1)
        assert (pending.field_name, pending.payload) == ("summary", {"n": 2})
        records.clear_pending(session, 1)
        assert records.pending_for_ticket(session, 1) is None
    with stored.reading() as session:
        assert session.scalars(select(PendingQuestion)).all() == []


def test_a_misspelt_column_is_an_error_not_a_silent_attribute(stored):
    with stored.transaction() as session:
        ticket = records.lock_ticket(session, 1)
        with pytest.raises(AttributeError, match="statu"):
            ticket.statu = "open"


def test_answering_reads_back_the_question_ticket_and_values_as_stored(stored):
    values = {"summary": "the “export” fails", "users": 120, "production": True, "note": None}
    with stored.transaction() as session:
        for name, value in values.items():
            records.set_value(session, 1, name, value, phase="intake", by=7, now=NOW)
        records.new_pending(
            session, ticket_id=1, chat_id=7, user_id=7, kind="field", payload={"n": 3}, asked_at=NOW
        )
    with stored.transaction() as session:
        pending = records.latest_pending(session, 7, 7)
        assert pending.payload == {"n": 3}
        ticket = records.lock_ticket(session, 1)
        assert (ticket.title, ticket.created_at) == ("ticket 1", NOW)
        assert records.pending_for_ticket(session, 1) is pending  # as `_pending_for` does
        assert records.values_of(session, 1) == values


def test_a_reply_recorded_twice_is_remembered_once(stored):
    from bot.db.models import BotMessage
    from bot.services.messages import Delivered, Reply

    with stored.transaction() as session:
        records.new_pending(
            session, ticket_id=1, chat_id=7, user_id=7, kind="field", payload={"n": 1}, asked_at=NOW
        )
    question = Reply(chat_id=7, text="Which system?", ticket_id=1, kind="question")
    for _ in range(2):  # a send retried after a timeout can report the same message again
        with stored.transaction() as session:
            records.remember_sent(session, [Delivered(question, 7, 42, NOW)])
    with stored.reading() as session:
        assert [(m.ticket_id, m.kind) for m in session.scalars(select(BotMessage))] == [
            (1, "question")
        ]
        assert session.scalars(select(PendingQuestion.message_id)).one() == 42
        assert records.ticket_for_message(session, 7, 42) == 1
