"""The audit hash chain is canonical and sensitive to every field."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.audit_chain import GENESIS, canonical_event, chain_hash

AT = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)


def event(**over):
    base = dict(
        seq=1,
        at=AT,
        actor_id=7,
        actor_name="Ann",
        ticket_id=3,
        action="x",
        details={"b": 1, "a": "ü"},
        procedure_id="p",
        procedure_version="v",
    )
    base.update(over)
    return canonical_event(**base)


def test_canonical_json_is_sorted_compact_utf8():
    assert (
        event()
        == (
            '{"action":"x","actor_id":7,"actor_name":"Ann","at":"2026-01-02T03:04:05.000006Z",'
            '"details":{"a":"ü","b":1},"procedure_id":"p","procedure_version":"v","seq":1,'
            '"ticket_id":3}'
        ).encode()
    )


def test_changing_any_field_or_the_previous_hash_changes_the_hash():
    first = chain_hash(GENESIS, event())
    assert chain_hash(GENESIS, event(details={"a": "u", "b": 1})) != first
    assert chain_hash(GENESIS, event(seq=2)) != first
    assert chain_hash("1" * 64, event()) != first
    assert len(first) == 64
