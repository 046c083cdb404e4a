"""SQLite's write-ahead log copied into the database file by a background thread.

In WAL mode a commit appends to the log; a checkpoint copies the log into the database file
and syncs both. Left to SQLite, the checkpoint runs inside whichever commit pushes the log past
its limit, and that one message waits ~13 ms (about one message in sixty on the engine
benchmark). Here a thread checkpoints about once a second when something was committed, so no
message pays for it, and what a power cut can take (synchronous=NORMAL syncs the log only at a
checkpoint) is bounded by time: about the last second. The connections' own automatic
checkpoint stays on, with a higher limit, in case this thread falls behind or is not running.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Engine

log = logging.getLogger(__name__)

# Pages the log may hold before a connection checkpoints by itself (a page is 4 KiB): more than
# a busy second's worth, so the thread below normally gets there first.
AUTOCHECKPOINT_PAGES = 10_000


class Checkpointer:
    """Checkpoints a SQLite database every `interval` seconds after something was committed."""

    def __init__(self, engine: Engine, interval: float = 1.0):
        self.path = _file_of(engine)
        self.interval = interval
        self.runs = 0
        self._written = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> Checkpointer:
        if self.path is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self._thread.start()
        return self

    def committed(self, *_args: object) -> None:
        """Something was committed: the next round has work to do."""
        self._written.set()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint of whatever is still in the log."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._written.set()
        thread.join()

    def _run(self) -> None:
        assert self.path is not None
        try:
            # mode=rw: a database file that was removed is not created again, empty.
            conn = sqlite3.connect(
                f"{self.path.as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=0
            )
        except sqlite3.Error as e:
            log.warning("no background checkpoints for %s: %s", self.path, e)
            return
        try:
            while True:
                self._written.wait()
                stopping = self._stop.wait(self.interval)
                self._written.clear()
                self._checkpoint(conn)
                if stopping:
                    return
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            # PASSIVE never waits for readers or writers; what it cannot copy now waits for the
            # next round (or for a connection's own automatic checkpoint).
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error as e:
            log.warning("background checkpoint of %s failed: %s", self.path, e)


def _file_of(engine: Engine) -> Path | None:
    """The database file of a SQLite engine; None for other backends and in-memory ones."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()
