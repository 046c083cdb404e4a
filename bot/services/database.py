"""The unit of work: one transaction per use case, retried when the database is briefly busy."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session

from bot.db.checkpoint import Checkpointer
from bot.db.engine import make_engine, make_sessionmaker, read_only
from bot.services import audit

T = TypeVar("T")
log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, lock not available.
_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


class DatabaseBusy(Exception):
    """The database stayed locked through every retry; nothing was written."""


class Database:
    """Owns the engine; hands out sessions whose transaction commits or rolls back whole."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = make_sessionmaker(engine)
        # Audit events deferred during a transaction are written just before it commits, so
        # they commit with the change they record; whatever commits moves the known head.
        event.listen(self._sessions, "before_commit", audit.flush)
        event.listen(self._sessions, "after_commit", audit.committed)
        event.listen(self._sessions, "after_rollback", audit.rolled_back)
        self._readers = make_sessionmaker(read_only(engine))
        # SQLite has one writer at a time. Threads of this process queue for it here and are
        # woken the moment it is free; left to SQLite, a waiting writer sleeps and polls (its
        # busy handler backs off 1, 2, 5, 10... ms), which cost parallel chats most of their
        # throughput. Other processes still meet SQLite's own lock and busy timeout.
        self._writer: AbstractContextManager[object] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self.checkpointer = Checkpointer(engine)
        event.listen(self._sessions, "after_commit", self.checkpointer.committed)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: everything in it is stored, or nothing is."""
        with self._writer, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction that never waits for writers on SQLite."""
        with self._readers() as session, session.begin():
            yield session

    def read(self, work: Callable[[Session], T]) -> T:
        """`work` in a read-only transaction (see `reading`); what it returns."""
        with self.reading() as session:
            return work(session)

    def run(self, work: Callable[[Session], T], *, attempts: int = 5) -> T:
        """Run `work` in one transaction, retrying whole when the database is briefly busy."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as session:
                    return work(session)
            except (OperationalError, DBAPIError) as e:
                if not _retryable(e) or attempt == attempts:
                    if _retryable(e):
                        raise DatabaseBusy(
                            "the database is busy; nothing was saved, please try again"
                        ) from e
                    raise
                log.warning("database busy (attempt %d of %d), retrying", attempt, attempts)
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in the committing thread) after every commit of this process: the
        live view wakes on it instead of waiting for its next look at the audit head."""
        event.listen(self._sessions, "after_commit", lambda _session: callback())

    def start_checkpoints(self) -> None:
        """Checkpoint SQLite's log in the background from now on (see `bot.db.checkpoint`)."""
        self.checkpointer.start()

    def dispose(self) -> None:
        self.checkpointer.stop()
        self.engine.dispose()


def _retryable(e: DBAPIError) -> bool:
    text = str(e.orig).lower() if e.orig is not None else str(e).lower()
    if "database is locked" in text or "database is busy" in text:
        return True
    return getattr(e.orig, "sqlstate", None) in _RETRY_SQLSTATES


def trouble(error: BaseException) -> tuple[str, str] | None:
    """What kind of database failure `error` is, as (code, the driver's first line), so a
    command can say it in one line: `bad_url`, `busy` or `unreachable`; None when it is not
    the database's."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, SQLAlchemyError | DatabaseBusy):
        seen = seen.__cause__  # a failed migration wraps the database's own error
    if seen is None:
        return None
    if isinstance(seen, ArgumentError | NoSuchModuleError):
        return "bad_url", _first_line(seen)
    if isinstance(seen, DatabaseBusy):
        return "busy", str(seen)
    if isinstance(seen, DBAPIError):
        detail = _first_line(seen.orig or seen)
        busy = "locked" in detail or _retryable(seen)
        return ("busy" if busy else "unreachable"), detail
    return None


def _first_line(error: BaseException) -> str:
    """The driver's message without SQLAlchemy's statement and "Background on this error"."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
