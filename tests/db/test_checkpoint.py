"""SQLite in one process: its log reaches the database file in the background, about a second
after a commit, and the process's writers queue for it without meeting its lock."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime

from bot.db import migrate
from bot.db.checkpoint import Checkpointer
from bot.db.engine import make_engine
from bot.db.models import Person
from bot.services.database import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _database(tmp_path) -> Database:
    url = f"sqlite:///{tmp_path / 'sopbot.db'}"
    migrated = make_engine(url)
    migrate.upgrade(migrated)
    migrated.dispose()  # the last connection to close copies the log into the file
    db = Database(make_engine(url))
    db.checkpointer.interval = 0.05
    return db


def _people_in_the_file_alone(tmp_path) -> int:
    """What a copy of the database file without its log holds (a backup, a power cut)."""
    copy = tmp_path / "copy.db"
    shutil.copyfile(tmp_path / "sopbot.db", copy)
    with sqlite3.connect(copy) as conn:
        return conn.execute("SELECT count(*) FROM people").fetchone()[0]


def _add_someone(db: Database) -> None:
    with db.transaction() as session:
        session.add(Person(user_id=1, username="ann", name="Ann", last_seen_at=NOW))


def _wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_committed_rows_reach_the_database_file_soon_after(tmp_path):
    db = _database(tmp_path)
    db.start_checkpoints()
    try:
        _add_someone(db)
        assert _wait_for(lambda: _people_in_the_file_alone(tmp_path) == 1)
    finally:
        db.dispose()


def test_without_the_thread_the_rows_wait_in_the_log(tmp_path):
    db = _database(tmp_path)
    try:
        _add_someone(db)
        time.sleep(0.2)
        assert _people_in_the_file_alone(tmp_path) == 0
    finally:
        db.dispose()


def test_an_idle_database_is_not_checkpointed_again_and_again(tmp_path):
    db = _database(tmp_path)
    db.start_checkpoints()
    try:
        _add_someone(db)
        assert _wait_for(lambda: db.checkpointer.runs >= 1)
        runs = db.checkpointer.runs
        time.sleep(0.3)  # six intervals with nothing committed
        assert db.checkpointer.runs == runs
    finally:
        db.dispose()
    assert not db.checkpointer.active


def test_a_removed_database_file_is_not_created_again(tmp_path):
    db = _database(tmp_path)
    db.dispose()
    for name in ("sopbot.db", "sopbot.db-wal", "sopbot.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    checkpointer = Checkpointer(make_engine(f"sqlite:///{tmp_path / 'sopbot.db'}")).start()
    checkpointer.committed()
    checkpointer.stop()
    assert not (tmp_path / "sopbot.db").exists()


def test_postgresql_and_memory_databases_have_no_checkpoint_thread():
    for url in ("sqlite://", "postgresql://user@127.0.0.1:1/none"):
        checkpointer = Checkpointer(make_engine(url)).start()
        assert not checkpointer.active
        checkpointer.stop()


def test_writers_of_one_process_queue_for_sqlite_instead_of_meeting_its_lock(tmp_path, caplog):
    from sqlalchemy import event

    db = _database(tmp_path)

    @event.listens_for(db.engine, "connect")
    def no_waiting(dbapi_conn, _record):
        # With no busy timeout, a writer that meets SQLite's lock fails at once (and retries).
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    db.engine.dispose()  # connections from now on get the listener

    def write(first: int) -> None:
        for user_id in range(first, first + 50):
            db.run(
                lambda session, u=user_id: session.add(
                    Person(user_id=u, username=None, name="x", last_seen_at=NOW)
                )
            )

    threads = [threading.Thread(target=write, args=(n * 1000,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with db.reading() as session:
            assert session.query(Person).count() == 200
        assert "database busy" not in caplog.text
    finally:
        db.dispose()
