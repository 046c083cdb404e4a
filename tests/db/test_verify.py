"""Tamper evidence: verify passes on an untouched log and names the first event after each kind
of tampering done directly in the database (with the append-only triggers dropped first)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.db.models import AuditEvent
from bot.domain.actors import SYSTEM, Actor
from bot.domain.audit_chain import GENESIS, canonical_event, canonical_time, chain_hash
from bot.services import audit, verify

LEAD = Actor(1, "Lead Łukasz", "lead")
ALICE = Actor(2, 'Alice "Al" O\'Neil', "alice")


def build_log(db, now, count: int = 6) -> None:
    actions = [
        ("ticket.created", {"procedure": "vpn", "title": "VPN is <down> & out", "chat_id": -5}),
        ("question.asked", {"field": "office"}),
        ("answer.accepted", {"field": "office", "value": "Kraków", "old": None}),
        ("status.changed", {"from": "waiting_for_info", "to": "open"}),
        ("comment.added", {"text": 'ünïcødé \\ "quotes"\n'}),
        ("reminder.sent", {}),
    ]
    for i in range(count):
        action, details = actions[i % len(actions)]
        with db.transaction() as s:
            audit.record(
                s,
                now=now + timedelta(minutes=i, microseconds=i),
                actor=(LEAD, ALICE, SYSTEM)[i % 3],
                action=action,
                ticket_id=1 if i % 4 else None,
                details=details,
                procedure_id="vpn",
                procedure_version="ab" * 20,
            )


def run_verify(db) -> verify.VerifyResult:
    with db.reading() as s:
        return verify.verify_chain(s)


def raw(db, *statements: str, **params) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def drop_triggers(db) -> None:
    if db.dialect == "sqlite":
        raw(db, "DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete")
    else:
        raw(db, "DROP TRIGGER audit_events_no_update ON audit_events")


def row(db, event_id: int) -> AuditEvent:
    with db.reading() as s:
        return s.get(AuditEvent, event_id)


def test_untouched_log_verifies_with_the_count_checked(db, now):
    build_log(db, now, 6)
    result = run_verify(db)
    assert result.ok
    assert result.checked == 6
    assert result.head == row(db, 6).hash


def test_empty_log_verifies(db):
    result = run_verify(db)
    assert result.ok and result.checked == 0 and result.head == GENESIS


def test_progress_is_reported_up_to_the_total(db, now):
    build_log(db, now, 5)
    seen = []
    with db.reading() as s:
        verify.verify_chain(s, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor_name = 'x'", "DELETE FROM audit_events"]
)
def test_database_refuses_update_and_delete_of_audit_events(db, now, statement):
    build_log(db, now, 3)
    with pytest.raises(DBAPIError, match="append-only"):
        raw(db, statement)
    assert run_verify(db).ok


def test_edited_field_is_named_as_edited(db, now):
    build_log(db, now, 6)
    drop_triggers(db)
    raw(db, "UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 3")
    result = run_verify(db)
    assert (result.ok, result.bad_id, result.kind) == (False, 3, verify.EDITED)
    assert result.checked == 2
    assert "event 3" in result.reason


def test_edited_details_are_named_as_edited(db, now):
    build_log(db, now, 6)
    drop_triggers(db)
    edited = '{"field":"office","old":null,"value":"Oslo"}'
    raw(db, "UPDATE audit_events SET details = :d WHERE id = 3", d=edited)
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (3, verify.EDITED)


def test_edit_with_a_recomputed_hash_breaks_the_link_to_the_next_event(db, now):
    build_log(db, now, 6)
    drop_triggers(db)
    old = row(db, 3)
    forged = canonical_event(
        seq=3,
        at=old.at,
        actor_id=old.actor_id,
        actor_name="Mallory",
        ticket_id=old.ticket_id,
        action=old.action,
        details=old.details,
        procedure_id=old.procedure_id,
        procedure_version=old.procedure_version,
    )
    raw(
        db,
        "UPDATE audit_events SET actor_name = 'Mallory', hash = :h WHERE id = 3",
        h=chain_hash(old.prev_hash, forged),
    )
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (4, verify.INSERTED)


def test_deleted_event_is_named_as_missing(db, now):
    build_log(db, now, 6)
    drop_triggers(db)
    raw(db, "DELETE FROM audit_events WHERE id = 3")
    result = run_verify(db)
    assert (result.bad_id, result.kind, result.checked) == (3, verify.DELETED, 2)
    assert "event 3 is missing" in result.reason


def test_deleted_first_event_is_named(db, now):
    build_log(db, now, 4)
    drop_triggers(db)
    raw(db, "DELETE FROM audit_events WHERE id = 1")
    assert (run_verify(db).bad_id, run_verify(db).kind) == (1, verify.DELETED)


def test_events_deleted_from_the_end_are_caught_by_the_counter(db, now):
    build_log(db, now, 6)
    drop_triggers(db)
    raw(db, "DELETE FROM audit_events WHERE id >= 5")
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (5, verify.DELETED)


def _forge(db, seq: int, prev_hash: str, at: datetime, name: str = "Mallory") -> None:
    details = {"text": "all fine"}
    canonical = canonical_event(
        seq=seq,
        at=at,
        actor_id=666,
        actor_name=name,
        ticket_id=1,
        action="comment.added",
        details=details,
        procedure_id=None,
        procedure_version=None,
    )
    raw(
        db,
        "INSERT INTO audit_events (id, at, actor_id, actor_name, ticket_id, action, details, "
        "procedure_id, procedure_version, prev_hash, hash) VALUES (:id, :at, 666, :name, 1, "
        "'comment.added', :details, NULL, NULL, :prev, :hash)",
        id=seq,
        at=at if db.dialect != "sqlite" else at.replace(tzinfo=None),
        name=name,
        details=json.dumps(details),
        prev=prev_hash,
        hash=chain_hash(prev_hash, canonical),
    )


def test_event_inserted_in_the_middle_is_caught_where_the_chain_breaks(db, now):
    build_log(db, now, 6)
    drop_triggers(db)
    # Make room at 3 by moving 6..3 up one (highest first, so ids never collide), then forge 3
    # with a correct prev_hash and hash, and take a counter number as a careful forger would.
    for event_id in range(6, 2, -1):
        raw(db, "UPDATE audit_events SET id = :n WHERE id = :o", n=event_id + 1, o=event_id)
    raw(db, "UPDATE counters SET value = value + 1 WHERE name = 'audit'")
    _forge(db, 3, row(db, 2).hash, now + timedelta(seconds=90))
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (4, verify.INSERTED)
    assert "event 4 does not follow on" in result.reason


def test_appended_event_with_a_made_up_prev_hash_is_named_as_inserted(db, now):
    build_log(db, now, 4)
    raw(db, "UPDATE counters SET value = value + 1 WHERE name = 'audit'")
    _forge(db, 5, "f" * 64, now + timedelta(hours=1))  # INSERT is allowed: no trigger to drop
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (5, verify.INSERTED)


def test_appended_event_without_a_sequence_number_is_named_as_inserted(db, now):
    build_log(db, now, 4)
    _forge(db, 5, row(db, 4).hash, now + timedelta(hours=1))
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (5, verify.INSERTED)
    assert "counter" in result.reason


def test_event_with_an_id_below_one_is_out_of_sequence(db, now):
    build_log(db, now, 2)
    _forge(db, 0, GENESIS, now)
    result = run_verify(db)
    assert (result.bad_id, result.kind) == (0, verify.INSERTED)


def test_details_stored_in_another_json_layout_still_verify(db, now):
    build_log(db, now, 3)
    drop_triggers(db)
    spaced = '{ "value": "Kraków", "old": null,\n "field": "office" }'
    raw(db, "UPDATE audit_events SET details = :d WHERE id = 3", d=spaced)
    assert run_verify(db).ok


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    actor_id=st.none() | st.integers(-(2**62), 2**62),
    name=st.text(),
    ticket_id=st.none() | st.integers(0, 2**31),
    action=st.text(min_size=1),
    details=st.dictionaries(st.text(), json_values, max_size=4),
    version=st.none() | st.text(),
)
def test_fast_canonical_form_equals_the_chain_definition(
    actor_id, name, ticket_id, action, details, version
):
    at = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
    fields = dict(
        at=at,
        actor_id=actor_id,
        actor_name=name,
        ticket_id=ticket_id,
        action=action,
        details=details,
        procedure_id="p",
        procedure_version=version,
    )
    stored = json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    fast = verify.fast_canonical(
        7, canonical_time(at), actor_id, name, ticket_id, action, stored, "p", version
    )
    assert fast == canonical_event(seq=7, **fields)
