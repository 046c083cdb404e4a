"""`/catchup` against SQLite and PostgreSQL: what is shown, in which order, and the cursor."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Config
from bot.db.models import CatchupCursor, Ticket, Watcher
from bot.domain.actors import Actor
from bot.services import audit
from bot.services.catchup import catchup, install
from bot.services.context import Ctx, Registry
from bot.services.messages import Incoming

ANN, BOB, CAROL = Actor(2, "Ann", "ann"), Actor(3, "Bob", "bob"), Actor(4, "Carol", "carol")


def add_ticket(
    s, number, now, *, reporter=BOB, assignee=None, due_at=None, title=None, status="open"
):
    s.add(
        Ticket(
            id=number,
            procedure_id="p",
            procedure_version="v1",
            title=title or f"ticket {number}",
            status=status,
            reporter_id=reporter.user_id,
            reporter_name=reporter.name,
            assignee_id=assignee.user_id if assignee else None,
            assignee_name=assignee.name if assignee else None,
            chat_id=-1001,
            chat_type="supergroup",
            created_at=now,
            updated_at=now,
            due_at=due_at,
        )
    )


def event(s, at, who, action, ticket_id, **details):
    audit.record(s, now=at, actor=who, action=action, ticket_id=ticket_id, details=details)


def ask(db, now, tmp_path) -> str:
    """Ann types /catchup in private; the text of the answer."""
    with db.transaction() as s:
        ctx = Ctx(
            session=s,
            incoming=Incoming(user=ANN, chat_id=2, chat_type="private", now=now),
            config=Config(),
            procedures=None,
            knowledge_dir=tmp_path,
        )
        catchup(ctx, "")
    assert len(ctx.outbox) == 1
    return ctx.outbox[0].text


def test_catchup_puts_the_most_important_first_and_moves_the_cursor(db, now, tmp_path):
    earlier = now - timedelta(hours=2)
    with db.transaction() as s:
        add_ticket(s, 1, earlier, reporter=ANN, title="Reported by Ann")
        add_ticket(s, 2, earlier, assignee=ANN, title="Assigned to Ann")
        add_ticket(s, 3, earlier, title="Watched by Ann")
        add_ticket(s, 4, earlier, reporter=ANN, due_at=earlier, title="Overdue")
        add_ticket(s, 5, earlier, title="Not Ann's")
        s.flush()
        s.add(Watcher(ticket_id=3, user_id=ANN.user_id))
        event(s, earlier, BOB, "comment.added", 1, text="<b>loud</b> & clear")
        event(s, earlier, ANN, "comment.added", 1, text="Ann's own words")
        event(s, earlier, BOB, "field.changed", 2, field="room", old="1", new="2")
        event(s, earlier, CAROL, "status.changed", 3, **{"from": "open", "to": "resolved"})
        event(s, earlier, BOB, "question.asked", 4, field="room")
        event(s, earlier, CAROL, "comment.added", 4, text="still broken")
        event(s, earlier, BOB, "comment.added", 5, text="elsewhere")

    text = ask(db, now, tmp_path)
    order = [text.index(f"#{n}</b>") for n in (4, 2, 3, 1)]
    assert order == sorted(order)
    assert "#5" not in text and "Ann&#39;s own words" not in text and "Room" in text
    assert "&lt;b&gt;loud&lt;/b&gt; &amp; clear" in text
    assert len(text) < 3500

    # The cursor moved on: nothing again, until someone else changes one of her tickets.
    assert "Nothing changed" in ask(db, now + timedelta(minutes=1), tmp_path)
    with db.transaction() as s:
        event(s, now, BOB, "step.done", 2, step="check", title="Check the cable")
    text = ask(db, now + timedelta(minutes=2), tmp_path)
    assert "Check the cable" in text and "#1</b>" not in text
    with db.reading() as s:
        assert s.get(CatchupCursor, ANN.user_id).last_event_id == 8


def test_statuses_read_as_words_not_as_identifiers(db, now, tmp_path):
    earlier = now - timedelta(hours=1)
    with db.transaction() as s:
        add_ticket(s, 1, earlier, reporter=ANN, status="in_progress")
        s.flush()
        change = {"from": "waiting_for_info", "to": "in_progress"}
        event(s, earlier, BOB, "status.changed", 1, **change)
    text = ask(db, now, tmp_path)
    assert "<i>in progress</i>" in text
    assert "status waiting for info → in progress" in text
    assert "_" not in text


def test_a_long_catchup_fits_one_message_and_summarises_the_rest(db, now, tmp_path):
    with db.transaction() as s:
        for n in range(1, 61):
            add_ticket(s, n, now, reporter=ANN, title="A rather long title " * 4)
        s.flush()
        for n in range(1, 61):
            for i in range(3):
                event(s, now, BOB, "comment.added", n, text=f"comment {i} " * 10)

    text = ask(db, now + timedelta(hours=1), tmp_path)

    assert len(text) <= 3600
    assert "more tickets" in text and "/mine" in text


def test_catchup_is_a_chat_command():
    registry = Registry()
    install(registry)
    assert "catchup" in registry.commands
