"""Reindexing the knowledge folder: hand-added, edited and removed files.

Every test that takes `db` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.db.models import Article
from bot.services import knowledge
from tests.helpers.knowledge import (
    printer_jam,
    reindex,
    search,
    small_base,
)


@pytest.fixture
def kdir(tmp_path) -> Path:
    return tmp_path / "knowledge"


def test_hand_edited_article_is_found_after_reindex(db, kdir, now):
    path = printer_jam(db, kdir, now)
    file = kdir / path
    file.write_text(file.read_text() + "\nAlso check the fuser unit.\n")
    os.utime(file, (1, 1))  # a different modification time, as git checkout gives
    assert search(db, "fuser") == []
    report = reindex(db, kdir, now)
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 0)
    assert [m.path for m in search(db, "fuser")] == [path]


def test_hand_added_article_without_front_matter_is_found_after_reindex(db, kdir, now):
    notes = kdir / "network" / "vpn-notes.md"
    notes.parent.mkdir(parents=True)
    notes.write_text("# VPN drops every hour\n\nRenew the client certificate.\n")
    report = reindex(db, kdir, now)
    assert report.added == 1
    (match,) = search(db, "certificate")
    assert (match.path, match.title) == ("network/vpn-notes.md", "VPN drops every hour")
    with db.reading() as session:
        row = session.get(Article, match.article_id)
    assert row.procedure_id == "network" and row.ticket_id is None


def test_removed_file_drops_out_of_search(db, kdir, now):
    path = printer_jam(db, kdir, now)
    (kdir / path).unlink()
    report = reindex(db, kdir, now)
    assert report.removed == 1
    assert search(db, "pickup roller") == []


def test_unchanged_and_merely_touched_files_are_not_reindexed(db, kdir, now):
    small_base(db, kdir, now)
    report = reindex(db, kdir, now)
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 4)
    os.utime(kdir / "printer" / "1-printer-on-floor-3-jams.md", (5, 5))
    assert reindex(db, kdir, now).unchanged == 4
    assert search(db, "roller")


def test_refresh_if_changed_reindexes_only_after_a_file_changed(db, kdir, now):
    printer_jam(db, kdir, now)
    with db.transaction() as session:
        first = knowledge.refresh_if_changed(session, kdir, now)
    with db.transaction() as session:
        assert knowledge.refresh_if_changed(session, kdir, now) is None
    (kdir / "howto.md").write_text("# Booking rooms\n\nUse the calendar.\n")
    with db.transaction() as session:
        report = knowledge.refresh_if_changed(session, kdir, now)
    assert first is not None and not first.changed
    assert report is not None and report.added == 1
    assert search(db, "calendar")[0].path == "howto.md"


def test_a_hand_written_file_with_broken_front_matter_is_indexed_as_text(db, kdir, now):
    kdir.mkdir()
    (kdir / "odd.md").write_text("---\ntitle: [unclosed\n---\n# Fuser error 50\n\nPower cycle.\n")
    assert reindex(db, kdir, now).added == 1
    (match,) = search(db, "fuser")
    assert (match.path, match.title) == ("odd.md", "Fuser error 50")
