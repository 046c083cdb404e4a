"""Exporting the audit log as CSV or JSON Lines, streamed in constant memory.

One row (CSV) or object (JSONL) per event, in id order, with every field that is hashed plus
`prev_hash` and `hash`, so an export can be re-verified without sopbot (docs/audit.md).
Times are UTC in the canonical form of the chain; `--since`/`--until` are days in the team's
timezone, both inclusive.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent
from bot.domain.audit_chain import canonical_time
from bot.render import render

FORMATS = ("csv", "jsonl")
COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "ticket_id",
    "action",
    "details",
    "procedure_id",
    "procedure_version",
    "prev_hash",
    "hash",
)
_INT_COLUMNS = ("id", "actor_id", "ticket_id")
_NULLABLE = ("actor_id", "ticket_id", "procedure_id", "procedure_version")


@dataclass(frozen=True)
class Filter:
    """Which events to export; dates are days in the team's timezone, both ends inclusive."""

    ticket_id: int | None = None
    since: date | None = None
    until: date | None = None


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight at the start of `day` (as an aware datetime)."""
    return datetime.combine(day, time(0), tzinfo=tz)


def day_bounds(since: date | None, until: date | None, tz: ZoneInfo):
    """[start, end) instants for local days `since`..`until`, either end open when None."""
    start = day_start(since, tz) if since else None
    end = day_start(until + timedelta(days=1), tz) if until else None
    return start, end


def _query(flt: Filter, tz: ZoneInfo) -> Select:
    e = AuditEvent
    stmt = select(
        e.id,
        e.at,
        e.actor_id,
        e.actor_name,
        e.ticket_id,
        e.action,
        e.details,
        e.procedure_id,
        e.procedure_version,
        e.prev_hash,
        e.hash,
    ).order_by(e.id)
    if flt.ticket_id is not None:
        stmt = stmt.where(e.ticket_id == flt.ticket_id)
    start, end = day_bounds(flt.since, flt.until, tz)
    if start is not None:
        stmt = stmt.where(e.at >= start)
    if end is not None:
        stmt = stmt.where(e.at < end)
    return stmt


def iter_events(
    session: Session, flt: Filter, tz: ZoneInfo, *, batch: int = 2_000
) -> Iterator[dict[str, Any]]:
    """The matching events as plain dicts, fetched `batch` rows at a time (server-side cursor)."""
    result = session.execute(_query(flt, tz).execution_options(yield_per=batch))
    try:
        for row in result:
            record = dict(zip(COLUMNS, row, strict=True))
            record["at"] = canonical_time(record["at"])
            yield record
    finally:
        result.close()  # the server-side cursor, if the reader stopped early


def _details_text(details: Any) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """CSV with a header; details as canonical JSON text; NULL as an empty cell."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for r in records:
        row = dict(r, details=_details_text(r["details"]))
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
        count += 1
    return count


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One JSON object per line, keys in column order, UTF-8 text as is."""
    count = 0
    for r in records:
        out.write(json.dumps({c: r[c] for c in COLUMNS}, ensure_ascii=False) + "\n")
        count += 1
    return count


def export(
    session: Session, out: TextIO, fmt: str, flt: Filter, tz: ZoneInfo, *, batch: int = 2_000
) -> int:
    """Write the matching events to `out` in `fmt` (csv or jsonl); returns how many."""
    records = iter_events(session, flt, tz, batch=batch)
    if fmt == "csv":
        return write_csv(records, out)
    if fmt == "jsonl":
        return write_jsonl(records, out)
    raise ExportError("unknown_format", format=fmt, formats=list(FORMATS))


class ExportError(ValueError):
    """An export that cannot be written or read: a code and its data; `str()` says it in the
    words of `audit/export_error.txt` (the command line prints it)."""

    def __init__(self, code: str, **data: Any) -> None:
        super().__init__(code)
        self.code = code
        self.data = data

    def __str__(self) -> str:
        return render("audit/export_error.txt", code=self.code, d=self.data)


def read_csv(stream: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Read an export back: the same dicts `iter_events` yields (empty cells become None)."""
    reader = csv.DictReader(stream)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ExportError("not_an_export", columns=list(COLUMNS))
    for raw in reader:
        record: dict[str, Any] = dict(raw)
        for c in _NULLABLE:
            if record[c] == "":
                record[c] = None
        for c in _INT_COLUMNS:
            if record[c] is not None:
                record[c] = int(record[c])
        record["details"] = json.loads(record["details"])
        yield record


def read_jsonl(stream: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record, dict) or set(record) != set(COLUMNS):
            raise ExportError("not_an_event", line=number)
        yield record


def read(stream: Iterable[str], fmt: str) -> Iterator[dict[str, Any]]:
    if fmt == "csv":
        return read_csv(stream)
    if fmt == "jsonl":
        return read_jsonl(stream)
    raise ExportError("unknown_format", format=fmt, formats=list(FORMATS))
