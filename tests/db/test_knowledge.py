"""Knowledge articles against real databases: writing, rework, search, reindex, deflection.

Every test that takes `db` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.config import Config
from bot.db.models import Article, AuditEvent, StepDone, Ticket
from bot.domain.actors import Actor
from bot.domain.procedure import (
    FieldSpec,
    KnowledgeSettings,
    Procedure,
    Resolution,
    Step,
)
from bot.knowledge import frontmatter
from bot.services import knowledge
from bot.services.context import Ctx, Registry
from bot.services.messages import Incoming, Outcome

ALICE = Actor(1, "Alice", "alice")
BOB = Actor(2, "Bob", "bob")

PRINTER = Procedure(
    id="printer",
    title="Printer trouble",
    version="1" * 64,
    fields=(FieldSpec("floor", "Which floor?"), FieldSpec("model", "Which model?")),
    steps=(Step("check_tray", "Check the paper tray"), Step("call_vendor", "Call the vendor")),
    resolution=Resolution(fields=(FieldSpec("solution", "What fixed it?"),)),
    knowledge=KnowledgeSettings(tags=("hardware",)),
)
NETWORK = Procedure(
    id="network",
    title="Network access",
    version="2" * 64,
    fields=(FieldSpec("device", "Which device?"),),
    resolution=Resolution(fields=(FieldSpec("solution", "What fixed it?"),)),
)


@pytest.fixture
def kdir(tmp_path) -> Path:
    return tmp_path / "knowledge"


def make_ctx(session, kdir: Path, now, actor: Actor = BOB) -> Ctx:
    config = Config(knowledge_dir=kdir, procedures_dir=kdir.parent / "procedures")
    incoming = Incoming(user=actor, chat_id=actor.user_id, chat_type="private", now=now)
    return Ctx(
        session=session, incoming=incoming, config=config, procedures=None, knowledge_dir=kdir
    )


def resolve(
    db,
    kdir,
    now,
    ticket_id,
    title,
    values,
    solution,
    *,
    procedure=PRINTER,
    description="",
    steps=(),
    actor=BOB,
) -> str:
    """Create (or reuse) a ticket and resolve it: what the engine does on /resolve."""
    with db.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            ticket = Ticket(
                id=ticket_id,
                procedure_id=procedure.id,
                procedure_version=procedure.version,
                title=title,
                description=description,
                status="resolved",
                reporter_id=1,
                reporter_name="Alice",
                chat_id=1,
                chat_type="private",
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
        ticket.title = title
        ticket.resolved_at = now
        session.flush()  # the ticket row first: steps refer to it
        done = [
            StepDone(ticket_id=ticket_id, step_id=s, done_by_id=2, done_by_name="Bob", done_at=now)
            for s in steps
        ]
        session.add_all(done)
        session.flush()
        return knowledge.write_article(
            make_ctx(session, kdir, now, actor),
            ticket=ticket,
            procedure=procedure,
            values=values,
            resolution={"solution": solution},
            steps=done,
        )


def search(db, query, **kw):
    with db.reading() as session:
        return knowledge.search(session, query, **kw)


def suggest(db, text):
    with db.reading() as session:
        return knowledge.suggest(session, text)


def reindex(db, kdir, now):
    with db.transaction() as session:
        return knowledge.reindex(session, kdir, now)


def printer_jam(db, kdir, now, ticket_id=1):
    return resolve(
        db,
        kdir,
        now,
        ticket_id,
        "Printer on floor 3 jams",
        {"floor": "3", "model": "LaserJet 4000"},
        "Replaced the worn pickup roller.",
        description="Every print job stops with a paper jam.",
        steps=("check_tray",),
    )


def small_base(db, kdir, now):
    printer_jam(db, kdir, now)
    resolve(
        db,
        kdir,
        now,
        2,
        "VPN disconnects every hour",
        {"device": "laptop"},
        "Renewed the expired client certificate.",
        procedure=NETWORK,
    )
    resolve(
        db,
        kdir,
        now,
        3,
        "Cannot log in after password change",
        {"device": "desktop"},
        "Cleared the cached credentials in the keychain.",
        procedure=NETWORK,
    )
    resolve(
        db,
        kdir,
        now,
        4,
        "Toner warning on the colour printer",
        {"floor": "2"},
        "Ordered a new cyan toner cartridge.",
    )


# --- writing --------------------------------------------------------------------------------


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


# --- searching ------------------------------------------------------------------------------


def test_search_finds_an_article_by_words_in_title_fields_and_solution(db, kdir, now):
    small_base(db, kdir, now)
    jam = "printer/1-printer-on-floor-3-jams.md"
    assert search(db, "jams")[0].path == jam  # title
    assert search(db, "LaserJet")[0].path == jam  # a collected field
    assert search(db, "pickup roller")[0].path == jam  # the solution
    assert search(db, "PICKUP Rôller")[0].path == jam  # case and accents do not matter
    assert search(db, "print")[0].path in (jam, "printer/4-toner-warning-on-the-colour-printer.md")
    assert {m.path for m in search(db, "certificate")} == {
        "network/2-vpn-disconnects-every-hour.md"
    }


def test_search_ranks_articles_covering_more_of_the_words_first(db, kdir, now):
    small_base(db, kdir, now)
    matches = search(db, "printer toner cartridge")
    assert matches[0].path == "printer/4-toner-warning-on-the-colour-printer.md"
    assert matches[1].path == "printer/1-printer-on-floor-3-jams.md"
    assert matches[1].score < matches[0].score
    assert "cyan toner cartridge" in matches[0].snippet


def test_search_text_with_query_syntax_is_taken_as_plain_words(db, kdir, now):
    small_base(db, kdir, now)
    for hostile in [
        '"',
        "NEAR(a b)",
        "title: x",
        "a AND OR NOT",
        "*",
        "-x",
        "x:*",
        "'",
        "!(",
        "&|",
    ]:
        assert isinstance(search(db, hostile), list)
    assert search(db, 'roller" OR "vpn') and search(db, "pickup' | 'x")[0].title.startswith("P")


def test_search_finds_words_in_any_script(db, kdir, now):
    resolve(db, kdir, now, 8, "Принтер не печатает", {}, "Перезагрузили сервер печати.")
    resolve(db, kdir, now, 9, "Café-Drucker streikt", {}, "Papierfach geleert.")
    assert search(db, "принтер")[0].title == "Принтер не печатает"
    assert search(db, "cafe drucker")[0].title == "Café-Drucker streikt"


def test_empty_and_stop_word_only_queries_find_nothing(db, kdir, now):
    small_base(db, kdir, now)
    assert search(db, "") == [] and search(db, " ?! ") == []
    assert search(db, "the and of") == []


# --- reindex --------------------------------------------------------------------------------


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


# --- deflection and chat --------------------------------------------------------------------


def test_suggest_offers_the_article_that_matches_a_new_tickets_first_message(db, kdir, now):
    small_base(db, kdir, now)
    matches = suggest(db, "The printer on the 3rd floor jams all the time")
    assert matches and matches[0].path == "printer/1-printer-on-floor-3-jams.md"
    assert len(suggest(db, "VPN keeps disconnecting every hour")) >= 1


@pytest.mark.parametrize(
    "text",
    [
        "Can I get a new office chair?",
        "hello",
        "The coffee machine on floor 2 is broken",
        "Please order more printer paper for the kitchen and the meeting rooms",
        "",
    ],
)
def test_suggest_returns_nothing_for_unrelated_text(db, kdir, now, text):
    small_base(db, kdir, now)
    assert suggest(db, text) == []


def test_kb_command_lists_ranked_matches_with_titles_and_paths_escaped(db, kdir, now):
    small_base(db, kdir, now)
    resolve(db, kdir, now, 10, "Printer <b>shows</b> & blinks", {}, "Reset it.")
    registry = Registry()
    knowledge.install(registry)
    with db.transaction() as session:
        ctx = make_ctx(session, kdir, now)
        registry.commands["kb"].handler(ctx, "printer <i>blinks</i>")
        registry.commands["kb"].handler(ctx, "")
    results, usage = (r.text for r in ctx.outbox)
    assert "Printer &lt;b&gt;shows&lt;/b&gt; &amp; blinks" in results
    assert "<code>printer/10-printer-b-shows-b-blinks.md</code>" in results
    assert "&lt;i&gt;blinks&lt;/i&gt;" in results
    assert results.index("blinks") < results.index("Printer on floor 3 jams")
    assert "/kb words" in usage


def test_deflection_offers_matches_with_show_solved_and_continue_buttons(db, kdir, now):
    small_base(db, kdir, now)
    matches = suggest(db, "printer on floor 3 jams")
    buttons = knowledge.deflection_buttons(123456789, matches)
    data = [b.data for row in buttons for b in row]
    assert data[-2:] == ["k:123456789:s", "k:123456789:c"]
    assert data[0] == f"k:123456789:v:{matches[0].article_id}"
    assert all(len(d.encode()) <= 64 for d in data)
    from bot.render import render

    text = render("kb/deflection.html", matches=matches)
    assert text.startswith("💡 Does one of these solve it?")
    assert "Printer on floor 3 jams" in text


def test_show_button_sends_the_article_and_solved_continue_go_to_the_engine(db, kdir, now):
    small_base(db, kdir, now)
    seen = []
    registry = Registry()
    knowledge.install(registry, deflection=lambda ctx, parts: seen.append(parts) or Outcome())
    handler = registry.callbacks["k"].handler
    with db.transaction() as session:
        ctx = make_ctx(session, kdir, now)
        article_id = session.scalars(select(Article.id).where(Article.ticket_id == 2)).one()
        assert handler(ctx, ["5", "v", str(article_id)]) is None
        handler(ctx, ["5", "s"])
        handler(ctx, ["5", "c"])
        gone = handler(ctx, ["5", "v", "999999"])
        bad = handler(ctx, ["5", "x"])
    assert "VPN disconnects every hour" in ctx.outbox[0].text
    assert "certificate" in ctx.outbox[0].text
    assert seen == [["5", "s"], ["5", "c"]]
    assert gone.toast == "That article is no longer in the knowledge base."
    assert bad.toast == "That button has expired."


def test_a_hand_written_file_with_broken_front_matter_is_indexed_as_text(db, kdir, now):
    kdir.mkdir()
    (kdir / "odd.md").write_text("---\ntitle: [unclosed\n---\n# Fuser error 50\n\nPower cycle.\n")
    assert reindex(db, kdir, now).added == 1
    (match,) = search(db, "fuser")
    assert (match.path, match.title) == ("odd.md", "Fuser error 50")
