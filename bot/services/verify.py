"""Tamper evidence: recompute the audit hash chain in id order, streaming, in constant memory.

The checks, in the order they are made for each event (the first failure ends the run):
1. its id is the next number (a jump means events were deleted; a repeat or a number below 1
   means one was inserted),
2. its `prev_hash` is the previous event's `hash` (else one was inserted or rewritten before it),
3. its `hash` is sha256(prev_hash + canonical JSON of its fields) (else it was edited).
At the end the `audit` counter must equal the last id: the counter is taken in the same
transaction as every event, so a counter ahead of the log means events were cut off the end,
and one behind it means events were appended without taking a number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import String, Text, func, select, type_coerce
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent, Counter
from bot.domain.audit_chain import GENESIS, canonical_event, canonical_time, chain_hash
from bot.render import render

# Called with (events checked so far, total expected or None).
Progress = Callable[[int, int | None], None]

EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"

# One event as the checker reads it: id, canonical time, actor_id, actor_name, ticket_id,
# action, details as JSON text, procedure_id, procedure_version, prev_hash, hash.
ChainRow = tuple[
    int, str, int | None, str, int | None, str, str | None, str | None, str | None, str, str
]


@dataclass(frozen=True)
class VerifyResult:
    """`ok`, or the first event that does not match, what kind of tampering it shows, and why."""

    checked: int
    head: str  # the hash of the last good event (GENESIS for an empty log)
    bad_id: int | None = None
    kind: str | None = None  # edited, deleted or inserted
    why: str = ""  # a code: missing, out_of_sequence, does_not_follow, edited, cut_off, unnumbered
    data: Mapping[str, int] = field(default_factory=dict)  # event numbers the words need

    @property
    def ok(self) -> bool:
        return self.bad_id is None

    @property
    def reason(self) -> str:
        """Why, in a sentence people read (`audit/verify_failure.txt`)."""
        return (
            render("audit/verify_failure.txt", why=self.why, d=dict(self.data)) if self.why else ""
        )


# The C string encoder JSONEncoder(ensure_ascii=False) uses, without its per-call overhead.
_encode = encode_basestring


def fast_canonical(
    seq: int,
    at: str,
    actor_id: int | None,
    actor_name: str,
    ticket_id: int | None,
    action: str,
    details: str | None,
    proc_id: str | None,
    proc_version: str | None,
) -> bytes:
    """`canonical_event` built as one f-string, from the canonical time and the stored details
    text used as is.

    Stored details are already canonical JSON (bot.db.types.JSONText writes them that way);
    when they are not, the hash will not match and the checker recomputes the slow way.
    """
    return (
        f'{{"action":{_encode(action)},'
        f'"actor_id":{"null" if actor_id is None else int(actor_id)},'
        f'"actor_name":{_encode(actor_name)},'
        f'"at":{_encode(at)},'
        f'"details":{"null" if details is None else details},'
        f'"procedure_id":{"null" if proc_id is None else _encode(proc_id)},'
        f'"procedure_version":{"null" if proc_version is None else _encode(proc_version)},'
        f'"seq":{int(seq)},'
        f'"ticket_id":{"null" if ticket_id is None else int(ticket_id)}}}'
    ).encode()


def utc_text(at: datetime) -> str:
    """`canonical_time`, faster for the aware UTC datetimes the database hands back."""
    text = at.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else canonical_time(at)


def slow_hash(fields: Sequence[Any], prev_hash: str) -> str | None:
    """The hash through `bot.domain.audit_chain` itself; None when a field cannot be read."""
    seq, at, actor_id, actor_name, ticket_id, action, details, proc_id, proc_version = fields[:9]
    try:
        canonical = canonical_event(
            seq=seq,
            at=datetime.fromisoformat(at),
            actor_id=actor_id,
            actor_name=actor_name,
            ticket_id=ticket_id,
            action=action,
            details=None if details is None else json.loads(details),
            procedure_id=proc_id,
            procedure_version=proc_version,
        )
    except (ValueError, TypeError):
        return None
    return chain_hash(prev_hash, canonical)


def check_rows(
    rows: Iterable[Sequence[Any]],
    *,
    at_text: Callable[[Any], str] | None = None,
    counter: int | None = None,
    progress: Progress | None = None,
    total: int | None = None,
    every: int = 50_000,
) -> VerifyResult:
    """Check a chain given in id order (rows shaped like `ChainRow`, the time turned into its
    canonical text by `at_text` when given); `counter` is the audit counter, when known."""
    expected = 1
    prev = GENESIS
    sha256 = hashlib.sha256
    for row in rows:
        seq, at, actor, name, ticket, action, details, proc, version, prev_hash, stored = row
        if at_text is not None:
            at = at_text(at)
        checked = expected - 1
        if seq != expected:
            if seq > expected:
                return VerifyResult(
                    checked, prev, expected, DELETED, "missing", {"expected": expected, "seq": seq}
                )
            return VerifyResult(
                checked,
                prev,
                seq,
                INSERTED,
                "out_of_sequence",
                {"expected": expected, "seq": seq},
            )
        if prev_hash != prev:
            return VerifyResult(checked, prev, seq, INSERTED, "does_not_follow", {"seq": seq})
        # The fast form first; the slow one only decides when the fast one disagrees.
        canonical = fast_canonical(seq, at, actor, name, ticket, action, details, proc, version)
        if sha256(prev.encode("ascii") + canonical).hexdigest() != stored and (
            slow_hash((seq, at, actor, name, ticket, action, details, proc, version), prev)
            != stored
        ):
            return VerifyResult(
                checked,
                prev,
                seq,
                EDITED,
                "edited",
                {"seq": seq},
            )
        prev = stored
        expected += 1
        if progress is not None and expected % every == 0:
            progress(expected - 1, total)
    last = expected - 1
    if progress is not None:
        progress(last, total)
    if counter is not None and counter > last:
        return VerifyResult(
            last,
            prev,
            last + 1,
            DELETED,
            "cut_off",
            {"last": last, "counter": counter},
        )
    if counter is not None and counter < last:
        return VerifyResult(
            counter,
            prev,
            counter + 1,
            INSERTED,
            "unnumbered",
            {"last": last, "counter": counter},
        )
    return VerifyResult(last, prev)


def _sqlite_text(stored: str) -> str:
    """SQLite keeps UTC times as text `YYYY-MM-DD HH:MM:SS.ffffff`: reshape it, don't parse."""
    if len(stored) == 26 and stored[10] == " ":
        return f"{stored[:10]}T{stored[11:]}Z"
    at = datetime.fromisoformat(stored)  # written some other way: read it as UTCDateTime does
    return canonical_time(at if at.tzinfo else at.replace(tzinfo=UTC))


def _at_column(dialect: str):
    """The event time as text in the canonical form, or as close to it as the backend keeps."""
    if dialect == "sqlite":
        return type_coerce(AuditEvent.at, String)
    if dialect == "postgresql":
        # Formatted by the server: converting a million timestamps in Python costs more.
        utc = func.timezone("UTC", AuditEvent.at)
        return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return AuditEvent.at


def _as_is(text: str) -> str:
    return text


def _columns(dialect: str):
    e = AuditEvent
    # Details as the stored text: it is canonical JSON already, so it need not be parsed.
    return (
        e.id,
        _at_column(dialect),
        e.actor_id,
        e.actor_name,
        e.ticket_id,
        e.action,
        type_coerce(e.details, Text),
        e.procedure_id,
        e.procedure_version,
        e.prev_hash,
        e.hash,
    )


def audit_counter(session: Session) -> int:
    value = session.execute(select(Counter.value).where(Counter.name == "audit")).scalar()
    return int(value or 0)


def verify_chain(
    session: Session, *, progress: Progress | None = None, batch: int = 10_000
) -> VerifyResult:
    """Recompute the whole chain from the database; memory stays flat whatever its length."""
    counter = audit_counter(session)
    connection = session.connection()
    dialect = connection.dialect.name
    stmt = select(*_columns(dialect)).order_by(AuditEvent.id)
    # Core, not the ORM: plain rows, streamed `batch` at a time (a server-side cursor on PG).
    result = connection.execution_options(yield_per=batch).execute(stmt)
    try:
        at_text = {"sqlite": _sqlite_text, "postgresql": _as_is}.get(dialect, utc_text)
        return check_rows(
            result, at_text=at_text, counter=counter, progress=progress, total=counter
        )
    finally:
        result.close()  # the server-side cursor, when the check stopped early


def rows_from_records(records: Iterable[Mapping[str, Any]]) -> Iterator[ChainRow]:
    """Exported events (see bot.services.export readers) as rows for `check_rows`."""
    for r in records:
        details = json.dumps(
            r["details"], sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        yield (
            r["id"],
            r["at"],
            r["actor_id"],
            r["actor_name"],
            r["ticket_id"],
            r["action"],
            details,
            r["procedure_id"],
            r["procedure_version"],
            r["prev_hash"],
            r["hash"],
        )
