"""Leads' review in chat: /audit timelines (content, paging, buttons, permissions) and /stats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.db.models import Person, Ticket
from bot.domain.actors import SYSTEM, Actor
from bot.render import html_to_text
from bot.services import audit, review
from bot.services.context import Ctx, Registry
from bot.services.messages import Incoming

BERLIN = ZoneInfo("Europe/Berlin")
LEAD = Actor(1, "Lead", "lead")
ALICE = Actor(2, "Alice <A&B>", "alice")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
VERSION = "0123456789abcdef" * 2


def add(s, minutes: int, actor: Actor, action: str, ticket_id: int | None = 1, **details):
    audit.record(
        s,
        now=START + timedelta(minutes=minutes),
        actor=actor,
        action=action,
        ticket_id=ticket_id,
        details=details,
        procedure_id="vpn",
        procedure_version=VERSION,
    )


@pytest.fixture
def history(db):
    with db.transaction() as s:
        s.add(Person(user_id=2, username="alice", name="Alice <A&B>", last_seen_at=START))
        add(s, 0, ALICE, "ticket.created", procedure="vpn", title="VPN down", chat_id=-1)
        add(s, 1, SYSTEM, "question.asked", field="office")
        add(s, 2, ALICE, "answer.accepted", field="office", value="Kraków", old=None)
        add(s, 3, ALICE, "field.changed", field="office", old="Kraków", new="Oslo")
        add(s, 4, SYSTEM, "status.changed", **{"from": "waiting_for_info", "to": "open"})
        add(s, 5, LEAD, "ticket.assigned", old=None, new="Lead")
        add(s, 6, ALICE, "comment.added", ticket_id=2, text="other <b>ticket</b> & co")
        # The next day in Berlin (23:30 UTC is 00:30 there).
        add(s, 14 * 60 + 30, LEAD, "status.changed", **{"from": "open", "to": "resolved"})
    return db


def make_ctx(
    session,
    *,
    user: Actor = LEAD,
    text: str = "",
    data: str | None = None,
    message_id: int | None = 55,
    now: datetime = START + timedelta(hours=1),
) -> Ctx:
    incoming = Incoming(
        user=user,
        chat_id=user.user_id or 0,
        chat_type="private",
        now=now,
        text=text,
        callback_data=data,
        callback_message_id=message_id if data else None,
    )
    config = Config(leads=frozenset({1}), timezone="Europe/Berlin")
    return Ctx(
        session=session, incoming=incoming, config=config, procedures=None, knowledge_dir=Path(".")
    )


def texts(ctx: Ctx) -> list[str]:
    return [html_to_text(r.text) for r in ctx.outbox]


def test_ticket_timeline_shows_time_who_what_change_and_version(history):
    with history.reading() as s:
        page = review.ticket_timeline(s, 1, BERLIN)
        ctx = make_ctx(s, text="1")
        review.audit_command(ctx, "1")
    assert [line.id for line in page.lines] == [1, 2, 3, 4, 5, 6, 8]
    assert page.lines[0].at.hour == 10 and page.lines[0].version == VERSION[:8]
    (text,) = texts(ctx)
    assert "Audit trail of ticket #1" in text
    assert "Mon 2 Mar, 10:02 Alice <A&B>: Office = Kraków" not in text  # first answer has no old
    assert "Mon 2 Mar, 10:02 Alice <A&B>: Office: Kraków" in text
    assert "Office: Kraków -> Oslo" in text
    assert "status: waiting for info -> open" in text
    assert "assignee: (none) -> Lead" in text
    assert "Tue 3 Mar, 00:30 Lead: status: open -> resolved" in text
    assert f"[{VERSION[:8]}]" in text and VERSION[:9] not in text
    assert "other" not in text
    assert "Alice &lt;A&amp;B&gt;" in ctx.outbox[0].text  # user text is escaped in HTML


def test_day_timeline_uses_the_team_timezone(history):
    with history.reading() as s:
        first = review.day_timeline(s, date(2026, 3, 2), BERLIN)
        second = review.day_timeline(s, date(2026, 3, 3), BERLIN)
        ctx = make_ctx(s, now=START + timedelta(hours=15))  # 3 March in Berlin
        review.audit_command(ctx, "today")
    assert [line.id for line in first.lines] == [1, 2, 3, 4, 5, 6, 7]
    assert [line.id for line in second.lines] == [8]
    assert "Audit trail of 2026-03-03" in texts(ctx)[0]
    assert "00:30:00 #1 Lead" in texts(ctx)[0]


def test_person_timeline_by_username_or_id(history):
    with history.reading() as s:
        assert review.resolve_actor(s, "@Alice") == 2
        assert review.resolve_actor(s, "2") == 2
        assert review.resolve_actor(s, "@nobody") is None
        ctx = make_ctx(s)
        review.audit_command(ctx, "@alice")
        review.audit_command(ctx, "user 2")
        review.audit_command(ctx, "@nobody")
    by_name, by_id, unknown = texts(ctx)
    assert by_name == by_id
    assert "Audit trail of Alice <A&B>" in by_name
    assert "#2 Alice <A&B>: comment: other <b>ticket</b> & co" in by_name
    assert "other &lt;b&gt;ticket&lt;/b&gt; &amp; co" in ctx.outbox[0].text  # escaped once
    assert "Lead:" not in by_name
    assert "I have not seen @nobody" in unknown


def test_pages_follow_each_other_by_keyset_with_buttons(history):
    with history.reading() as s:
        first = review.timeline(s, review.ticket_scope(1), BERLIN, limit=3)
        second = review.timeline(s, review.ticket_scope(1), BERLIN, after=first.later, limit=3)
        last = review.timeline(s, review.ticket_scope(1), BERLIN, after=second.later, limit=3)
        back = review.timeline(s, review.ticket_scope(1), BERLIN, before=last.earlier, limit=3)
    assert [line.id for line in first.lines] == [1, 2, 3] and first.earlier is None
    assert [line.id for line in second.lines] == [4, 5, 6]
    assert [line.id for line in last.lines] == [8] and last.later is None
    assert [line.id for line in back.lines] == [4, 5, 6]


def test_person_timeline_opens_on_the_latest_events(history):
    with history.reading() as s:
        page = review.timeline(s, review.actor_scope(2), BERLIN, limit=2)
    assert [line.id for line in page.lines] == [4, 7]
    assert page.earlier == 4 and page.later is None


def test_buttons_carry_short_valid_callback_data_and_turn_the_page(history, monkeypatch):
    monkeypatch.setattr(review, "PAGE_SIZE", 3)
    with history.reading() as s:
        ctx = make_ctx(s)
        review.audit_command(ctx, "#1")
        (button,) = ctx.outbox[0].buttons[0]
        assert button.data == "a:t:1:3"
        assert len(button.data.encode()) <= 64
        press = make_ctx(s, data=button.data)
        review.audit_callback(press, button.data.split(":")[1:])
    reply = press.outbox[0]
    assert reply.edit_message_id == 55
    assert "10:03" in html_to_text(reply.text) and "10:02" not in html_to_text(reply.text)
    assert [b.data for b in reply.buttons[0]] == ["a:t:1:b4", "a:t:1:6"]


@pytest.mark.parametrize(
    "data",
    [
        "a:t:1",
        "a:x:1:0",
        "a:t:abc:0",
        "a:t:1:-5",
        "a:d:20261340:0",
        "a:t:1:b",
        "a:u:1:0:9",
        "a:t:1:99999999999999999999",
        "a:t:1:" + "9" * 19,
    ],
)
def test_tampered_button_is_answered_clearly(history, data):
    with history.reading() as s:
        ctx = make_ctx(s, data=data)
        outcome = review.audit_callback(ctx, data.split(":")[1:])
    assert outcome is not None and outcome.toast
    assert "not valid" in texts(ctx)[0] or "Nothing to show" in texts(ctx)[0]


def test_stale_button_says_the_page_is_gone(history):
    with history.reading() as s:
        ctx = make_ctx(s, data="a:t:1:500")
        outcome = review.audit_callback(ctx, ["t", "1", "500"])
    assert outcome.toast and "Nothing to show on that page" in texts(ctx)[0]


def test_only_leads_see_the_audit_trail_and_stats(history):
    registry = Registry()
    review.install(registry)
    assert registry.commands["audit"].lead_only and registry.commands["stats"].lead_only
    assert all(route.lead_only for route in registry.buttons["a"])
    with history.reading() as s:
        ctx = make_ctx(s, user=ALICE)
        review.audit_command(ctx, "1")
        review.audit_callback(ctx, ["t", "1", "0"])
        review.stats_command(ctx, "")
    assert all("Only leads" in t for t in texts(ctx)) and len(ctx.outbox) == 3


@pytest.mark.parametrize("args", ["", "nonsense", "1 2", "2026-02-30"])
def test_audit_without_a_valid_target_explains_its_usage(history, args):
    with history.reading() as s:
        ctx = make_ctx(s)
        review.audit_command(ctx, args)
    assert "Usage: /audit 12" in texts(ctx)[0]


def test_audit_of_a_ticket_without_events_says_so(history):
    with history.reading() as s:
        ctx = make_ctx(s)
        review.audit_command(ctx, "404")
    assert "ticket #404: no events" in texts(ctx)[0]


def _tickets(db):
    with db.transaction() as s:
        for number in range(1, 4):
            opened = START - timedelta(days=number)
            s.add(
                Ticket(
                    id=number,
                    procedure_id="vpn",
                    procedure_version=VERSION,
                    title="t",
                    status="resolved",
                    reporter_id=2,
                    reporter_name="A",
                    chat_id=-1,
                    chat_type="group",
                    created_at=opened,
                    updated_at=opened,
                    opened_at=opened,
                    resolved_at=opened + timedelta(hours=number),
                    reopen_count=number // 3,
                    questions_asked=2,
                )
            )


def test_stats_reports_the_period_with_the_previous_one(db):
    _tickets(db)
    with db.reading() as s:
        ctx = make_ctx(s)
        review.stats_command(ctx, "7")
    (text,) = texts(ctx)
    assert "Statistics 2026-02-24 to 2026-03-02" in text
    assert "opened 3 (+3)" in text and "resolved 3 (+3)" in text
    assert "median 2h 0m (–)" in text and "rework 33% (–)" in text
    assert "vpn" in text


@pytest.mark.parametrize("args", ["0", "x", "7 8", "chart 0", "chart x", "chart 1 2"])
def test_stats_with_bad_arguments_explains_its_usage(db, args):
    with db.reading() as s:
        ctx = make_ctx(s)
        review.stats_command(ctx, args)
    assert "Usage: /stats" in texts(ctx)[0]


def test_stats_chart_is_sent_as_a_png_photo(db):
    _tickets(db)
    with db.reading() as s:
        ctx = make_ctx(s)
        review.stats_command(ctx, "chart 4")
    (reply,) = ctx.outbox
    assert reply.attachment.filename == "stats.png" and reply.attachment.is_photo
    assert reply.attachment.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert "4 weeks" in reply.text
