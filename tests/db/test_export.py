"""Audit export: both formats round-trip, carry the hashes, honour the filters, and re-verify."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.actors import SYSTEM, Actor
from bot.services import audit, export, verify

BERLIN = ZoneInfo("Europe/Berlin")
LEAD = Actor(1, 'Lead, "the" boss', "lead")


def record(db, at: datetime, ticket_id: int | None, action: str, details: dict) -> None:
    with db.transaction() as s:
        audit.record(
            s,
            now=at,
            actor=LEAD if ticket_id else SYSTEM,
            action=action,
            ticket_id=ticket_id,
            details=details,
            procedure_id="vpn" if ticket_id else None,
            procedure_version="c0ffee" * 6 if ticket_id else None,
        )


@pytest.fixture
def history(db):
    # Berlin is UTC+1 in March: 23:30 UTC on the 1st is already the 2nd there.
    record(
        db,
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        1,
        "ticket.created",
        {"procedure": "vpn", "title": 'a, b; "c"\nd', "chat_id": -1},
    )
    record(
        db,
        datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        2,
        "ticket.created",
        {"procedure": "vpn", "title": "ünï", "chat_id": -1},
    )
    record(
        db,
        datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        1,
        "answer.accepted",
        {"field": "office", "value": None, "old": 3.5},
    )
    record(db, datetime(2026, 3, 3, 22, 59, tzinfo=UTC), None, "reminder.sent", {})
    record(db, datetime(2026, 3, 3, 23, 0, tzinfo=UTC), 2, "comment.added", {"text": "late"})
    return db


def exported(db, fmt: str, flt: export.Filter | None = None) -> str:
    out = io.StringIO()
    with db.reading() as s:
        export.export(s, out, fmt, flt or export.Filter(), BERLIN)
    return out.getvalue()


def ids(db, fmt: str, **flt) -> list[int]:
    return [r["id"] for r in export.read(io.StringIO(exported(db, fmt, export.Filter(**flt))), fmt)]


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_export_round_trips_every_field_including_the_hashes(history, fmt):
    with history.reading() as s:
        direct = list(export.iter_events(s, export.Filter(), BERLIN))
    back = list(export.read(io.StringIO(exported(history, fmt)), fmt))
    assert back == direct
    assert [r["id"] for r in back] == [1, 2, 3, 4, 5]
    assert back[0]["prev_hash"] == "0" * 64 and back[1]["prev_hash"] == back[0]["hash"]
    assert back[0]["at"] == "2026-03-01T12:00:00.000000Z"
    assert back[2]["details"] == {"field": "office", "value": None, "old": 3.5}
    assert back[3]["actor_id"] is None and back[3]["procedure_id"] is None


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_complete_export_verifies_without_the_database(history, fmt):
    records = export.read(io.StringIO(exported(history, fmt)), fmt)
    result = verify.check_rows(verify.rows_from_records(records))
    assert result.ok and result.checked == 5


def test_an_edited_export_fails_verification_at_that_event(history):
    lines = exported(history, "jsonl").splitlines()
    event = json.loads(lines[2])
    event["details"]["value"] = "Oslo"
    lines[2] = json.dumps(event)
    result = verify.check_rows(verify.rows_from_records(export.read(lines, "jsonl")))
    assert (result.bad_id, result.kind) == (3, verify.EDITED)


def test_jsonl_is_one_object_per_line_with_the_columns_in_order(history):
    lines = exported(history, "jsonl").splitlines()
    assert len(lines) == 5
    assert list(json.loads(lines[0])) == list(export.COLUMNS)
    assert "ünï" in lines[1]  # UTF-8 as is, not \u escapes


def test_csv_has_a_header_and_one_row_per_event(history):
    text = exported(history, "csv")
    assert text.splitlines()[0] == ",".join(export.COLUMNS)
    assert len(list(export.read_csv(io.StringIO(text)))) == 5


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_ticket_filter_exports_only_that_tickets_events(history, fmt):
    assert ids(history, fmt, ticket_id=1) == [1, 3]
    assert ids(history, fmt, ticket_id=2) == [2, 5]
    assert ids(history, fmt, ticket_id=99) == []


def test_date_filters_are_whole_days_in_the_team_timezone(history):
    assert ids(history, "jsonl", since=date(2026, 3, 2)) == [2, 3, 4, 5]
    assert ids(history, "jsonl", until=date(2026, 3, 1)) == [1]
    assert ids(history, "jsonl", since=date(2026, 3, 2), until=date(2026, 3, 3)) == [2, 3, 4]
    assert ids(history, "jsonl", since=date(2026, 3, 4)) == [5]
    assert ids(history, "jsonl", ticket_id=2, since=date(2026, 3, 3)) == [5]


def test_reader_refuses_a_file_that_is_not_an_export():
    with pytest.raises(ValueError, match="not a sopbot audit export"):
        list(export.read_csv(io.StringIO("a,b\n1,2\n")))
    with pytest.raises(ValueError, match="line 1"):
        list(export.read_jsonl(['{"a": 1}\n']))


def test_unknown_format_is_refused(db):
    with db.reading() as s, pytest.raises(ValueError, match="unknown export format"):
        export.export(s, io.StringIO(), "xml", export.Filter(), BERLIN)


def test_stopping_early_releases_the_cursor(history):
    with history.reading() as s:
        events = export.iter_events(s, export.Filter(), BERLIN, batch=2)
        assert next(events)["id"] == 1
        events.close()
        # The session is still usable once the generator has closed its cursor.
        assert len(list(export.iter_events(s, export.Filter(), BERLIN))) == 5
