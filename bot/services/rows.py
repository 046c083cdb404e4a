"""Tickets and pending questions as plain rows, read and written through prebuilt Core.

Every message reads one ticket and its pending question and changes a few columns of each.
Through the ORM that costs several times the statements themselves (one changed object's
flush measured ~217 µs against ~42 µs for the same UPDATE through Core), so these two tables
bypass it: a row is a plain object that remembers which columns were set to a new value, and
`flush` writes each changed row with one UPDATE of those columns (a new row with one INSERT).

Rows live in the session's identity map (one object per primary key per transaction) and are
flushed before the session commits and before any ORM statement runs, so a query in the same
transaction sees them as the ORM's autoflush would have shown it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Table, bindparam, delete, insert, update
from sqlalchemy.orm import Session

from bot.db.models import PendingQuestion, Ticket

_MAP = "rows"
_NEW = "rows_new"


class Row:
    """One table row; setting a column to a different value marks it for the next flush."""

    table: ClassVar[Table]
    names: ClassVar[frozenset[str]]

    def __init__(self, values: Mapping[str, Any], *, stored: bool = False) -> None:
        unknown = values.keys() - self.names
        if unknown:
            raise TypeError(f"{type(self).__name__} has no column {sorted(unknown)[0]!r}")
        d = self.__dict__
        d.update(dict.fromkeys(self.names))
        d.update(values)
        d["_stored"] = stored
        d["_changed"] = set()

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.names:
            raise AttributeError(f"{type(self).__name__} has no column {name!r}")
        d = self.__dict__
        old = d[name]
        if old is value or (type(old) is type(value) and old == value):
            return
        d[name] = value
        d["_changed"].add(name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key()}>"

    def key(self) -> Any:
        return self.__dict__["id"]

    @property
    def is_stored(self) -> bool:
        return self.__dict__["_stored"]


class TicketRow(Row):
    """A ticket, by the columns of `bot.db.models.Ticket`."""

    table = Ticket.__table__
    names = frozenset(c.key for c in Ticket.__table__.columns)
    # Attribute types for readers of this class; the values live in the instance dict.
    id: int
    procedure_id: str
    procedure_version: str
    title: str
    description: str
    status: str
    close_reason: str | None
    reporter_id: int
    reporter_name: str
    chat_id: int
    chat_type: str
    message_id: int | None
    thread_id: int | None
    home_chat_id: int | None
    assignee_id: int | None
    assignee_name: str | None
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None
    due_at: datetime | None
    paused_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopen_count: int
    questions_asked: int
    invalid_answers: int
    chase_at: datetime | None
    last_reminded_at: datetime | None
    remind_count: int
    escalation_level: int
    snoozed_until: datetime | None
    acknowledged_at: datetime | None


class PendingRow(Row):
    """What the bot waits to hear, by the columns of `bot.db.models.PendingQuestion`."""

    table = PendingQuestion.__table__
    names = frozenset(c.key for c in PendingQuestion.__table__.columns)
    id: int | None
    ticket_id: int | None
    chat_id: int
    user_id: int
    kind: str
    field_name: str | None
    payload: Any
    message_id: int | None
    thread_id: int | None
    asked_at: datetime


R = TypeVar("R", bound=Row)


# --- the session's rows ---------------------------------------------------------------------


def _rows(session: Session) -> dict[tuple[type[Row], Any], Row]:
    return session.info.setdefault(_MAP, {})


def _new(session: Session) -> list[Row]:
    return session.info.setdefault(_NEW, [])


def known(session: Session, cls: type[Row], key: Any) -> Row | None:
    """The row already read (or written) in this transaction, if any."""
    rows = session.info.get(_MAP)
    return rows.get((cls, key)) if rows else None


def loaded(session: Session, cls: type[R], values: Mapping[str, Any]) -> R:
    """The session's one object for a row just read: columns changed here keep their new
    values; the others take what the database says."""
    rows = _rows(session)
    mine = rows.get((cls, values["id"]))
    if mine is None:
        row = rows[(cls, values["id"])] = cls(values, stored=True)
        return row  # type: ignore[return-value]
    d = mine.__dict__
    d.update({k: v for k, v in values.items() if k not in d["_changed"]})
    return mine  # type: ignore[return-value]


def insert_now(session: Session, row: R) -> R:
    """Write a new row at once (it is needed by key now: a foreign key, a button's data)."""
    d = row.__dict__
    # Every column, so the statement has one shape (None stands for NULL, as in the model).
    values = {name: d[name] for name in row.names if name != "id" or d["id"] is not None}
    result = session.connection().execute(_insert(type(row)), values)
    if d["id"] is None:
        d["id"] = result.inserted_primary_key[0]
    d["_stored"] = True
    d["_changed"] = set()
    _rows(session)[(type(row), row.key())] = row
    return row


def add(session: Session, row: Row) -> None:
    """A new row, written with its final values by the next flush."""
    _new(session).append(row)


def delete_now(session: Session, row: Row) -> None:
    """Remove a row: at once if stored (so a new one may take its unique key), else forget it."""
    new = session.info.get(_NEW)
    if new and row in new:
        new.remove(row)
        return
    if row.is_stored:
        cls = type(row)
        session.connection().execute(_delete(cls), {"key": row.key()})
        _rows(session).pop((cls, row.key()), None)
        row.__dict__["_stored"] = False
        row.__dict__["_changed"] = set()


def flush(session: Session) -> None:
    """Write every new and changed row of the transaction (cheap when there is none)."""
    info = session.info
    new = info.get(_NEW)
    if new:
        info[_NEW] = []
        for row in new:
            insert_now(session, row)
    rows = info.get(_MAP)
    if not rows:
        return
    conn = None
    for row in rows.values():
        d = row.__dict__
        changed = d["_changed"]
        if not changed or not d["_stored"]:
            continue
        conn = conn or session.connection()
        names = frozenset(changed)
        values = {name: d[name] for name in names}
        values["_key"] = row.key()
        conn.execute(_update(type(row), names), values)
        d["_changed"] = set()


def forget(session: Session) -> None:
    """The transaction ended: its rows are no longer anyone's to write."""
    session.info.pop(_MAP, None)
    session.info.pop(_NEW, None)


# Statements are built once per table and set of columns: a built statement keeps its
# compiled form's cache key, which a freshly built one would have to compute again.
_statements: dict[tuple[Any, ...], Any] = {}


def _insert(cls: type[Row]) -> Any:
    key = ("insert", cls)
    if key not in _statements:
        _statements[key] = insert(cls.table)
    return _statements[key]


def _delete(cls: type[Row]) -> Any:
    key = ("delete", cls)
    if key not in _statements:
        _statements[key] = delete(cls.table).where(cls.table.c.id == bindparam("key"))
    return _statements[key]


def _update(cls: type[Row], names: frozenset[str]) -> Any:
    key = ("update", cls, names)
    statement = _statements.get(key)
    if statement is None:
        t = cls.table
        statement = (
            update(t)
            .where(t.c.id == bindparam("_key"))
            .values({name: bindparam(name, type_=t.c[name].type) for name in sorted(names)})
        )
        _statements[key] = statement
    return statement
