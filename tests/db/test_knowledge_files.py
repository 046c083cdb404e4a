"""A resolved ticket's files in its knowledge article: listed, and linked to copies that live
beside the article (named by their hash, never by what a person typed)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from bot.db.models import Attachment, AuditEvent
from bot.knowledge import frontmatter
from bot.services.feed import to_change
from bot.services.file_store import FileStore
from tests.helpers.knowledge import resolve

SHOT = b"\x89PNG fake screenshot bytes"


def attach(db, tmp_path, now, **kw) -> Attachment:
    row = Attachment(
        ticket_id=1,
        kind=kw.get("kind", "photo"),
        file_name=kw.get("file_name"),
        mime_type=kw.get("mime_type", "image/jpeg"),
        size=kw.get("size"),
        sha256=kw.get("sha256"),
        file_id=kw.get("file_id", "photo-file-1"),
        note=kw.get("note"),
        added_by_name="Alice",
        added_at=now,
    )
    with db.transaction() as s:
        s.add(row)
    return row


def test_the_article_lists_the_files_and_links_copies_beside_it(db, tmp_path, now):
    kdir = tmp_path / "knowledge"
    sha = FileStore(tmp_path / "attachments").put(SHOT)
    attach(db, tmp_path, now, sha256=sha, size=len(SHOT), note="the red [box] *here*")
    attach(
        db, tmp_path, now, kind="video", file_name="../../etc/passwd.mp4", mime_type="video/mp4",
        size=30 * 1024 * 1024, file_id="video-file-2",
    )  # fmt: skip
    path = resolve(db, kdir, now, 1, "Printer jams", {"floor": "3"}, "New roller.")
    body = frontmatter.parse((kdir / path).read_text()).body
    copy = f"files/{sha[:32]}.jpg"
    assert "## Files" in body
    assert f"- [photo]({copy}) (" in body and "Alice): the red \\[box\\] \\*here\\*" in body
    assert (kdir / "printer" / copy).read_bytes() == SHOT
    # The too-big video is named (escaped) but has no copy, and its name made no path.
    assert "passwd.mp4" in body and "kept in Telegram only" in body
    files = sorted(p.name for p in (kdir / "printer" / "files").iterdir())
    assert files == [f"{sha[:32]}.jpg"]
    assert not list(tmp_path.rglob("passwd*"))


def test_a_second_resolution_reuses_the_copy(db, tmp_path, now):
    kdir = tmp_path / "knowledge"
    sha = FileStore(tmp_path / "attachments").put(SHOT)
    attach(db, tmp_path, now, sha256=sha, size=len(SHOT))
    resolve(db, kdir, now, 1, "Printer jams", {"floor": "3"}, "New roller.")
    copy = kdir / "printer" / "files" / f"{sha[:32]}.jpg"
    first = copy.stat().st_mtime_ns
    resolve(db, kdir, now + timedelta(hours=1), 1, "Printer jams", {"floor": "3"}, "Again.")
    assert copy.stat().st_mtime_ns == first
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == sha


def test_the_change_feed_carries_a_files_facts_but_not_its_telegram_id(db, now):
    from bot.domain.actors import SYSTEM
    from bot.services.audit import record

    details = {"attachment": 7, "kind": "photo", "sha256": "ab" * 32, "size": 10, "file_id": "X"}
    with db.transaction() as s:
        record(s, now=now, actor=SYSTEM, action="attachment.added", ticket_id=1, details=details)
    with db.reading() as s:
        change = to_change(s.scalars(select(AuditEvent)).one())
    assert change.kind == "attachment.added"
    assert change.change == {"attachment": 7, "kind": "photo", "sha256": "ab" * 32, "size": 10}
