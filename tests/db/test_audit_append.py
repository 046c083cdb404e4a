"""Appending to the audit chain: deferred events commit with their transaction, in order, and
the chain stays whole when several processes (here: several `Database` objects on one
database, each with its own memory of the head) write in turns, including after rollbacks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.db.models import AuditEvent
from bot.domain.actors import SYSTEM, Actor
from bot.services import audit, verify
from bot.services.database import Database

ANN = Actor(2, "Ann", "ann")


def actions(db: Database) -> list[str]:
    with db.reading() as s:
        return list(s.scalars(AuditEvent.__table__.select().with_only_columns(AuditEvent.action)))


def chain_ok(db: Database) -> verify.VerifyResult:
    with db.reading() as s:
        return verify.verify_chain(s)


def test_deferred_events_are_written_at_commit_in_the_order_they_happened(db, now):
    with db.transaction() as s:
        audit.defer(s, now=now, actor=ANN, action="first")
        audit.defer(s, now=now, actor=ANN, action="second")
        # a direct append keeps its place after what was deferred before it
        appended = audit.record(s, now=now, actor=SYSTEM, action="third")
        audit.defer(s, now=now, actor=ANN, action="fourth")
    assert appended.id == 3
    assert actions(db) == ["first", "second", "third", "fourth"]
    result = chain_ok(db)
    assert result.ok and result.checked == 4


def test_deferred_events_roll_back_with_their_transaction(db, now):
    with pytest.raises(RuntimeError), db.transaction() as s:
        audit.defer(s, now=now, actor=ANN, action="lost")
        raise RuntimeError("the change failed")
    with db.transaction() as s:
        audit.defer(s, now=now, actor=ANN, action="kept")
    assert actions(db) == ["kept"]
    assert chain_ok(db).ok


def test_a_reader_in_the_same_transaction_sees_what_was_deferred(db, now):
    with db.transaction() as s:
        audit.defer(s, now=now, actor=ANN, action="viewed")
        audit.flush(s)
        assert s.query(AuditEvent).count() == 1


def test_two_writers_taking_turns_keep_one_unbroken_chain(database_url, now):
    one, two = Database.from_url(database_url), Database.from_url(database_url)
    try:
        for i in range(6):
            writer = (one, two, two, one, two, one)[i]
            with writer.transaction() as s:
                audit.defer(s, now=now + timedelta(seconds=i), actor=ANN, action=f"turn {i}")
            if i == 3:  # a rolled-back append must not leave a remembered head behind
                with pytest.raises(RuntimeError), one.transaction() as s:
                    audit.record(s, now=now, actor=ANN, action="rolled back")
                    raise RuntimeError("boom")
        result = chain_ok(one)
        assert result.ok, result.reason
        assert result.checked == 6
        assert actions(one) == [f"turn {i}" for i in range(6)]
    finally:
        one.dispose()
        two.dispose()
