"""The changefeed service against SQLite and PostgreSQL: paging, cursors, scope, tampering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from bot.config import ConsumerConfig
from bot.db.models import AuditEvent, Ticket
from bot.domain.actors import Actor
from bot.domain.audit_chain import GENESIS, canonical_event, chain_hash
from bot.services import audit, feed

EVERYONE = ConsumerConfig("dashboard", "t" * 32)
TEAM_A, TEAM_B = -1001, -1002
ANN = Actor(2, "Ann", "ann")


def add_ticket(session, number: int, now, *, chat_id: int, home_chat_id: int | None = None):
    session.add(
        Ticket(
            id=number,
            procedure_id="p",
            procedure_version="v1",
            title=f"ticket {number}",
            status="open",
            reporter_id=ANN.user_id,
            reporter_name=ANN.name,
            chat_id=chat_id,
            chat_type="supergroup",
            home_chat_id=home_chat_id,
            created_at=now,
            updated_at=now,
        )
    )


def record(session, now, action: str, ticket_id: int | None = None, **details):
    return audit.record(
        session, now=now, actor=ANN, action=action, ticket_id=ticket_id, details=details
    )


def page_through(session, consumer, *, limit: int, cursor: str | None = None):
    """Every page from `cursor` until the feed says there is no more."""
    pages = []
    while True:
        page = feed.changes(session, consumer=consumer, cursor=cursor, limit=limit)
        pages.append((cursor or GENESIS, page))
        cursor = page.next_cursor
        if not page.more:
            return pages


def test_paging_through_two_thousand_changes_returns_each_once_in_order(db, now):
    published = []
    with db.transaction() as s:
        add_ticket(s, 1, now, chat_id=TEAM_A)
        s.flush()
        for i in range(2000):
            at = now + timedelta(seconds=i)
            if i % 10 == 9:  # internal chatter: covered by the cursor, never published
                record(s, at, "question.asked", 1, field="room")
            else:
                e = record(s, at, "field.changed", 1, field="room", old=i - 1, new=i)
                published.append((e.id, i))

    with db.reading() as s:
        pages = page_through(s, EVERYONE, limit=300)
        head = feed.head(s, EVERYONE)

    seen = [(c.seq, c.change["value"]) for _, p in pages for c in p.items]
    assert seen == published
    assert all(c.kind == "field.set" for _, p in pages for c in p.items)
    assert pages[-1][1].next_cursor == head.cursor
    assert head.count == 2000
    assert all(feed.continues(cursor, p.as_json()) for cursor, p in pages)


def test_the_next_cursor_moves_past_trailing_internal_chatter(db, now):
    with db.transaction() as s:
        add_ticket(s, 1, now, chat_id=TEAM_A)
        s.flush()
        record(s, now, "ticket.created", 1, title="Printer on fire")
        record(s, now, "question.asked", 1, field="room")
        record(s, now, "access.refused", None, reason="leads only")

    with db.reading() as s:
        page = feed.changes(s, consumer=EVERYONE, cursor=None, limit=100)
        again = feed.changes(s, consumer=EVERYONE, cursor=page.next_cursor, limit=100)
        head = feed.head(s, EVERYONE)

    assert [c.kind for c in page.items] == ["ticket.opened"]
    assert page.items[0].change == {"title": "Printer on fire"}
    assert page.next_cursor == head.cursor
    assert again.items == () and again.next_cursor == head.cursor and not again.more


def test_an_unknown_cursor_is_refused(db, now):
    with db.transaction() as s:
        record(s, now, "ticket.created", None, title="x")

    with db.reading() as s, pytest.raises(feed.UnknownCursor):
        feed.changes(s, consumer=EVERYONE, cursor="ab" * 32, limit=10)
    with db.reading() as s, pytest.raises(feed.BadCursor):
        feed.changes(s, consumer=EVERYONE, cursor="not-a-hash", limit=10)


def test_since_starts_at_the_first_change_from_that_time(db, now):
    with db.transaction() as s:
        for i in range(5):
            record(s, now + timedelta(days=i), "comment.added", None, text=f"day {i}")

    with db.reading() as s:
        page = feed.changes(s, consumer=EVERYONE, since=now + timedelta(days=3), limit=10)

    assert [c.change["text"] for c in page.items] == ["day 3", "day 4"]
    assert page.prev_hash == page.items[0].prev_hash


def test_a_limited_consumer_sees_only_its_chats_tickets(db, now):
    with db.transaction() as s:
        add_ticket(s, 1, now, chat_id=TEAM_A)
        add_ticket(s, 2, now, chat_id=TEAM_B)
        add_ticket(s, 3, now, chat_id=7, home_chat_id=TEAM_A)  # opened privately, homed in A
        s.flush()
        for number in (1, 2, 3, 2, 1):
            record(s, now, "ticket.created", number, title=f"ticket {number}")
        record(s, now, "kb.article_written", None, path="x.md", sha256="0" * 64)
    team_a = ConsumerConfig("team-a", "a" * 32, chats=(TEAM_A,))

    with db.reading() as s:
        pages = page_through(s, team_a, limit=2)
        head = feed.head(s, team_a)
        mine = feed.ticket_state(s, team_a, 3)
        theirs = feed.ticket_state(s, team_a, 2)

    assert [c.ticket for _, p in pages for c in p.items] == [1, 3, 1]
    assert head.count == 3 and head.cursor == pages[-1][1].next_cursor
    assert mine is not None and mine["number"] == 3
    assert theirs is None


def test_a_tampered_event_breaks_the_cursor_continuity_check(db, now):
    with db.transaction() as s:
        add_ticket(s, 1, now, chat_id=TEAM_A)
        s.flush()
        for i in range(6):
            record(s, now, "comment.added", 1, text=f"note {i}")
    with db.reading() as s:
        first = feed.changes(s, consumer=EVERYONE, limit=3)
    cursor = first.next_cursor  # a consumer stood here (event 3)

    # Someone rewrites event 4 and recomputes its hash, leaving the rest of the chain alone.
    with db.transaction() as s:
        drop = "DROP TRIGGER audit_events_no_update"
        s.execute(text(drop + (" ON audit_events" if db.dialect == "postgresql" else "")))
        e = s.execute(select(AuditEvent).where(AuditEvent.id == 4)).scalar_one()
        forged = {"text": "nothing to see here"}
        canonical = canonical_event(
            seq=e.id,
            at=e.at,
            actor_id=e.actor_id,
            actor_name=e.actor_name,
            ticket_id=e.ticket_id,
            action=e.action,
            details=forged,
            procedure_id=e.procedure_id,
            procedure_version=e.procedure_version,
        )
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.id == 4)
            .values(details=forged, hash=chain_hash(e.prev_hash, canonical))
        )

    with db.reading() as s:
        page = feed.changes(s, consumer=EVERYONE, cursor=cursor, limit=3)
    assert not feed.continues(cursor, page.as_json())

    # Rewriting the event a consumer stands on makes its cursor unknown: it hears about it.
    with db.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == 3).values(hash="f" * 64))
    with db.reading() as s, pytest.raises(feed.UnknownCursor):
        feed.changes(s, consumer=EVERYONE, cursor=cursor, limit=3)
