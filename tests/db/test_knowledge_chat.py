"""The knowledge base in chat: /kb, and the buttons offered before a new ticket.

Every test that takes `db` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.models import Article
from bot.render import render
from bot.services import knowledge, question_buttons
from bot.services.context import Registry
from bot.services.messages import Outcome
from tests.helpers.knowledge import (
    make_ctx,
    resolve,
    small_base,
    suggest,
)


@pytest.fixture
def kdir(tmp_path) -> Path:
    return tmp_path / "knowledge"


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

    text = render("kb/deflection.html", matches=matches)
    assert text.startswith("💡 Does one of these solve it?")
    assert "Printer on floor 3 jams" in text


def press(registry: Registry, ctx, data: str) -> Outcome | None:
    """A press, routed as the engine routes it: data no button kind made is refused."""
    found = registry.route(data)
    if found is None:
        return ctx.refuse_button("expired")
    route, pressed = found
    return route.handler(ctx, pressed)


def test_show_button_sends_the_article_and_solved_continue_go_to_the_engine(db, kdir, now):
    small_base(db, kdir, now)
    registry = Registry()
    knowledge.install(registry)
    question_buttons.install(registry)
    with db.transaction() as session:
        ctx = make_ctx(session, kdir, now)
        article_id = session.scalars(select(Article.id).where(Article.ticket_id == 2)).one()
        assert press(registry, ctx, f"k:5:v:{article_id}") is None
        gone = press(registry, ctx, "k:5:v:999999")
        bad = press(registry, ctx, "k:5:x")
    assert "VPN disconnects every hour" in ctx.outbox[0].text
    assert "certificate" in ctx.outbox[0].text
    assert gone.toast == "That article is no longer in the knowledge base."
    assert bad.toast == "This button is not valid any more."
    for answer in ("s", "c"):
        route, pressed = registry.route(f"k:5:{answer}")
        assert route.handler is question_buttons.deflected and pressed.ticket == 5


def test_a_button_with_ids_the_bot_never_writes_has_expired(db, kdir, now):
    small_base(db, kdir, now)
    registry = Registry()
    knowledge.install(registry)
    question_buttons.install(registry)
    with db.transaction() as session:
        ctx = make_ctx(session, kdir, now)
        pressed = [
            press(registry, ctx, data)
            for data in ("k:5:v:²", "k:٣:s", "k:5:v:" + "1" * 40, "k:-5:c")
        ]
    assert [o.toast for o in pressed] == ["This button is not valid any more."] * 4
    assert ctx.outbox == []
