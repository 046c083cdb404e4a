"""Knowledge articles written for resolved tickets, and the generated index.md.

Every test that takes `db` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.db.models import Article, AuditEvent, Ticket
from bot.domain.procedure import KnowledgeSettings, Procedure
from bot.knowledge import frontmatter
from bot.services import knowledge
from tests.helpers.knowledge import (
    ALICE,
    NETWORK,
    PRINTER,
    make_ctx,
    printer_jam,
    reindex,
    resolve,
    search,
    small_base,
)


@pytest.fixture
def kdir(tmp_path) -> Path:
    return tmp_path / "knowledge"


def test_resolving_writes_the_article_and_audits_its_path_and_hash(db, kdir, now):
    path = printer_jam(db, kdir, now)
    assert path == "printer/1-printer-on-floor-3-jams.md"
    raw = (kdir / path).read_bytes()
    doc = frontmatter.parse(raw.decode())
    assert doc.meta["ticket"] == 1 and doc.meta["resolver"] == "Bob"
    assert "Replaced the worn pickup roller." in doc.body
    assert "- [x] Check the paper tray" in doc.body
    with db.reading() as session:
        event = session.scalars(select(AuditEvent)).one()
        row = session.scalars(select(Article)).one()
    assert event.action == "kb.article_written" and event.ticket_id == 1
    assert event.actor_name == "Bob" and event.procedure_id == "printer"
    sha = hashlib.sha256(raw).hexdigest()
    assert event.details == {"path": path, "sha256": sha, "revision": 1}
    assert (row.path, row.ticket_id, row.procedure_id, row.sha256) == (path, 1, "printer", sha)
    assert not [p for p in kdir.rglob("*") if p.name.startswith(".")]  # no temporary files


def test_re_resolving_after_reopen_updates_the_same_article_and_keeps_history(db, kdir, now):
    path = printer_jam(db, kdir, now)
    later = now + timedelta(days=3)
    again = resolve(
        db,
        kdir,
        later,
        1,
        "Printer on floor 3 jams again",
        {"floor": "3"},
        "Replaced the whole paper feed unit.",
        actor=ALICE,
    )
    assert again == path
    doc = frontmatter.parse((kdir / path).read_text())
    assert doc.meta["revision"] == 2 and doc.meta["resolver"] == "Alice"
    assert [(r["revision"], r["resolver"]) for r in doc.meta["revisions"]] == [
        (1, "Bob"),
        (2, "Alice"),
    ]
    current, previous = doc.body.split("## Previous resolutions")
    assert "whole paper feed unit" in current and "pickup roller" not in current
    assert "### Revision 1 — resolved 2026-03-02 09:00 UTC by Bob" in previous
    assert "pickup roller" in previous
    with db.reading() as session:
        rows = session.scalars(select(Article)).all()
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert len(rows) == 1 and rows[0].title == "Printer on floor 3 jams again"
    assert [e.details["revision"] for e in events] == [1, 2]
    assert [m.path for m in search(db, "feed unit")] == [path]
    assert [m.path for m in search(db, "pickup roller")] == [path]  # history stays findable


def test_another_tickets_article_is_never_overwritten(db, kdir, now):
    hand = kdir / "printer" / "7-paper-jam.md"
    hand.parent.mkdir(parents=True)
    hand.write_text("---\nticket: 99\n---\n# Someone else's notes\n")
    path = resolve(db, kdir, now, 7, "Paper jam", {}, "Opened tray 2.")
    assert path == "printer/7-paper-jam-2.md"
    assert hand.read_text() == "---\nticket: 99\n---\n# Someone else's notes\n"


def test_names_whose_rows_belong_to_other_tickets_or_none_are_skipped(db, kdir, now):
    folder = kdir / "printer"
    folder.mkdir(parents=True)
    (folder / "7-paper-jam.md").write_text("---\nticket: 99\n---\n# Notes on 99\n")
    (folder / "7-paper-jam-2.md").write_text("# Notes without a ticket\n")
    reindex(db, kdir, now)
    (folder / "7-paper-jam-2.md").unlink()  # its row stays until the next reindex
    path = resolve(db, kdir, now, 7, "Paper jam", {}, "Opened tray 2.")
    assert path == "printer/7-paper-jam-3.md"
    assert (folder / "7-paper-jam.md").read_text() == "---\nticket: 99\n---\n# Notes on 99\n"
    with db.reading() as session:
        owners = dict(session.execute(select(Article.path, Article.ticket_id)).all())
    assert owners == {
        "printer/7-paper-jam.md": 99,
        "printer/7-paper-jam-2.md": None,
        "printer/7-paper-jam-3.md": 7,
    }


def test_a_rewrite_after_the_file_went_away_keeps_what_the_index_had(db, kdir, now):
    path = printer_jam(db, kdir, now)
    (kdir / path).unlink()
    again = resolve(db, kdir, now, 1, "Printer on floor 3 jams", {}, "Swapped the printer.")
    assert again == path
    doc = frontmatter.parse((kdir / path).read_text())
    current, previous = doc.body.split("## Previous resolutions")
    assert "Swapped the printer." in current
    assert "pickup roller" in previous
    assert doc.meta["revision"] == 2
    with db.reading() as session:
        assert session.scalars(select(Article.path)).all() == [path]


def test_an_index_entry_left_by_a_row_deleted_elsewhere_is_not_found(db, kdir, now):
    printer_jam(db, kdir, now)
    with db.transaction() as session:  # a deletion that bypasses sopbot leaves kb_fts behind
        session.execute(delete(Article))
    path = resolve(db, kdir, now, 2, "Scanner offline", {}, "Rebooted it.", procedure=NETWORK)
    if db.dialect == "sqlite":
        with db.reading() as session:
            assert session.scalars(select(Article.id)).all() == [1]  # the rowid came back
    assert search(db, "pickup roller") == []
    assert [m.path for m in search(db, "scanner")] == [path]


def test_a_rolled_back_resolution_leaves_the_files_as_they_were(db, kdir, now):
    path = printer_jam(db, kdir, now)
    before = (kdir / path).read_bytes()
    with pytest.raises(RuntimeError), db.transaction() as session:
        ticket = session.get(Ticket, 1)
        knowledge.write_article(
            make_ctx(session, kdir, now),
            ticket=ticket,
            procedure=PRINTER,
            values={},
            resolution={"solution": "never saved"},
            steps=[],
        )
        ticket2 = Ticket(
            id=2,
            procedure_id="printer",
            procedure_version="x",
            title="Other",
            status="resolved",
            reporter_id=1,
            reporter_name="A",
            chat_id=1,
            chat_type="private",
            created_at=now,
            updated_at=now,
        )
        session.add(ticket2)
        session.flush()
        knowledge.write_article(
            make_ctx(session, kdir, now),
            ticket=ticket2,
            procedure=PRINTER,
            values={},
            resolution={},
            steps=[],
        )
        raise RuntimeError("the engine failed after writing")
    assert (kdir / path).read_bytes() == before
    assert not (kdir / "printer" / "2-other.md").exists()


def test_a_procedure_template_from_the_procedures_folder_is_used(db, kdir, now):
    templates = kdir.parent / "procedures" / "templates"
    templates.mkdir(parents=True)
    (templates / "terse.md.j2").write_text("# {{ title }}\n\nFix: {{ solution[0].value }}\n")
    procedure = Procedure(
        id="printer",
        title="P",
        version="3" * 64,
        knowledge=KnowledgeSettings(template="terse.md.j2"),
    )
    path = resolve(db, kdir, now, 5, "Jam <b>", {}, "Pulled the paper", procedure=procedure)
    body = frontmatter.parse((kdir / path).read_text()).body
    assert body == "# Jam &lt;b&gt;\n\nFix: Pulled the paper\n"


def test_index_md_lists_every_article_grouped_by_procedure(db, kdir, now):
    small_base(db, kdir, now)
    (kdir / "general.md").write_text("# Where the spare keys are\n")
    reindex(db, kdir, now)
    index = (kdir / "index.md").read_text()
    assert index.startswith("# Knowledge base\n")
    network, printer, other = (index.index(f"## {g}\n") for g in ("network", "printer", "other"))
    assert network < printer < other
    assert "- [Toner warning on the colour printer]" in index
    assert "(printer/4-toner-warning-on-the-colour-printer.md) — ticket #4" in index
    assert "- [Where the spare keys are](general.md)" in index
    assert reindex(db, kdir, now).unchanged == 5  # index.md itself is not an article
