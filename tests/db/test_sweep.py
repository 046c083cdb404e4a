"""The overdue sweep on SQLite and PostgreSQL, with an injected clock; what it owes is delivered
from the real outbox to a recording sender."""

from __future__ import annotations

import threading
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import ChatConfig, Config, DatabaseConfig, RemindersConfig
from bot.db.models import AuditEvent, Reminder, Ticket
from bot.procedures.store import ProcedureStore
from bot.render import html_to_text
from bot.services.audit import record
from bot.services.database import Database
from bot.services.messages import Reply
from bot.services.outbox import Outbox
from bot.services.outbox import Sent as Delivered
from bot.services.sweep import SweepReport, sweep
from bot.services.verify import verify_chain
from tests.helpers.engine import ANN, BOB, LEAD

TEAM = -100  # the default team chat, where the leads are
OPS = -200
BERLIN = "Europe/Berlin"

BUG_YAML = """\
title: Bug report
fields:
  - name: summary
    question: What is broken?
sla:
  due: 8h
  remind_every: 2h
  escalate_after: 2
"""


class RecordingSender:
    """A sender double: keeps what it was given, fails for chosen chats, can be slow."""

    def __init__(self, *, fail: set[int] | None = None, delay: float = 0.0):
        self.replies: list[Reply] = []
        self.fail = fail or set()
        self.delay = delay
        self._next = 1000
        self._lock = threading.Lock()

    def deliver(self, db: Database, config: Config, now: datetime) -> None:
        """What the bot's outbox sender does: send everything owed, in order per chat; a chat
        that fails waits a minute (the outbox keeps its messages)."""
        outbox = Outbox(db, config)
        while owed := outbox.claim(now):
            done = []
            for o in owed:
                if o.reply.chat_id in self.fail:
                    outbox.later(o, now + timedelta(minutes=1), "unreachable", now)
                else:
                    done.append(Delivered(o, (self.send(o.reply),), now))
            outbox.sent(done)

    def send(self, reply: Reply) -> int:
        clock.sleep(self.delay)
        with self._lock:
            self._next += 1
            self.replies.append(reply)
            return self._next

    def to(self, chat_id: int, kind: str | None = None) -> list[Reply]:
        return [
            r for r in self.replies if r.chat_id == chat_id and (kind is None or r.kind == kind)
        ]


def sweep_and_deliver(
    db: Database,
    config: Config,
    procedures: ProcedureStore,
    sender: RecordingSender,
    now: datetime,
    dry_run: bool = False,
) -> SweepReport:
    """One sweep, then what it owed delivered to `sender` (as the bot's sender does at once)."""
    report = sweep(db, config, procedures, now, dry_run=dry_run)
    if not dry_run:
        sender.deliver(db, config, now)
    return report


@pytest.fixture
def procedures(tmp_path: Path) -> ProcedureStore:
    folder = tmp_path / "procedures"
    folder.mkdir()
    (folder / "bug.yaml").write_text(BUG_YAML, encoding="utf-8")
    return ProcedureStore(folder)


def team_config(database_url: str, tmp_path: Path, **reminders) -> Config:
    return Config(
        database=DatabaseConfig(url=database_url, auto_migrate=False),
        procedures_dir=tmp_path / "procedures",
        timezone=BERLIN,
        leads=frozenset({LEAD.user_id}),
        chats=(ChatConfig(TEAM, "Team"), ChatConfig(OPS, "Ops")),
        reminders=RemindersConfig(**reminders),
    )


@pytest.fixture
def config(database_url, tmp_path) -> Config:
    return team_config(database_url, tmp_path)


def add_ticket(
    db: Database,
    number: int,
    *,
    due: datetime,
    chat: int | None = TEAM,
    status: str = "open",
    title: str | None = None,
    assignee: tuple[int, str] | None = None,
    procedure: str = "bug",
) -> None:
    opened = due - timedelta(hours=8)
    with db.transaction() as s:
        s.add(
            Ticket(
                id=number,
                procedure_id=procedure,
                procedure_version="v1",
                title=title or f"Problem {number}",
                status=status,
                reporter_id=ANN.user_id,
                reporter_name=ANN.name,
                chat_id=ANN.user_id,
                chat_type="private",
                home_chat_id=chat,
                assignee_id=assignee[0] if assignee else None,
                assignee_name=assignee[1] if assignee else None,
                created_at=opened,
                updated_at=opened,
                opened_at=opened,
                due_at=due,
                chase_at=due,
            )
        )


def ticket(db: Database, number: int) -> Ticket:
    with db.reading() as s:
        return s.get(Ticket, number)


def actions(db: Database, action: str) -> list[AuditEvent]:
    with db.reading() as s:
        q = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(s.scalars(q))


def count(db: Database, model) -> int:
    with db.reading() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def digest_ids(reply: Reply) -> list[int]:
    return [int(b.data.split(":")[2]) for row in reply.buttons for b in row if ":on:" in b.data]


# --- digests --------------------------------------------------------------------------------


def test_overdue_tickets_get_one_digest_per_chat_not_one_message_each(db, config, procedures, now):
    for n in (1, 2, 3):
        add_ticket(db, n, due=now - timedelta(hours=n), chat=TEAM)
    for n in (4, 5):
        add_ticket(db, n, due=now - timedelta(minutes=30), chat=OPS)
    add_ticket(db, 6, due=now + timedelta(hours=1), chat=TEAM)  # not late yet
    sender = RecordingSender()

    report = sweep_and_deliver(db, config, procedures, sender, now)

    assert [(r.chat_id, r.kind) for r in sender.replies] == [(TEAM, "digest"), (OPS, "digest")]
    assert digest_ids(sender.to(TEAM)[0]) == [3, 2, 1]  # most late first
    assert digest_ids(sender.to(OPS)[0]) == [4, 5]
    assert report.reminded == 5 and len(report.digests) == 2
    assert ticket(db, 6).remind_count == 0
    assert count(db, Reminder) == 2


def test_a_digest_names_each_ticket_its_assignee_and_how_late_with_buttons(
    db, config, procedures, now
):
    add_ticket(
        db,
        7,
        due=now - timedelta(hours=2, minutes=10),
        title="<b>Printer</b> & fax",
        assignee=(BOB.user_id, "Bob <admin>"),
    )
    add_ticket(db, 8, due=now - timedelta(minutes=45))
    sender = RecordingSender()

    sweep_and_deliver(db, config, procedures, sender, now)

    (digest,) = sender.replies
    assert "&lt;b&gt;Printer&lt;/b&gt; &amp; fax" in digest.text
    assert f'<a href="tg://user?id={BOB.user_id}">Bob &lt;admin&gt;</a>' in digest.text
    text = html_to_text(digest.text)
    assert "2 overdue tickets" in text
    assert "#7" in text and "2 hours 10 minutes late" in text
    assert "#8" in text and "unassigned" in text and "45 minutes late" in text
    assert [[b.data for b in row] for row in digest.buttons] == [
        ["r:on:7", "r:sn:7", "r:sh:7"],
        ["r:on:8", "r:sn:8", "r:sh:8"],
    ]
    assert [b.label for b in digest.buttons[0]] == ["#7 On it", "Snooze 1 h", "Show"]


def test_a_reminder_is_recorded_and_audited_per_ticket_by_the_bot(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1))
    add_ticket(db, 2, due=now - timedelta(hours=1))

    sweep_and_deliver(db, config, procedures, RecordingSender(), now)

    t = ticket(db, 1)
    assert (t.remind_count, t.last_reminded_at, t.chase_at) == (1, now, now + timedelta(hours=2))
    events = actions(db, "reminder.sent")
    assert [e.ticket_id for e in events] == [1, 2]
    assert {e.actor_name for e in events} == {"sopbot"} and events[0].actor_id is None
    assert events[0].details["chat_id"] == TEAM and events[0].details["reminder"] == 1
    with db.reading() as s:
        (reminder,) = s.scalars(select(Reminder))
        assert (reminder.kind, reminder.ticket_ids, reminder.chat_id) == ("digest", [1, 2], TEAM)
        assert verify_chain(s).ok


def test_the_report_says_where_the_time_went(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1))

    report = sweep_and_deliver(db, config, procedures, RecordingSender(), now)

    assert {"chase", "claim", "owe", "daily"} <= set(report.seconds)
    assert all(s >= 0 for s in report.seconds.values())
    # Claiming and owing happen inside the one transaction.
    assert report.seconds["claim"] + report.seconds["owe"] <= report.seconds["chase"]


def test_tickets_no_longer_active_stop_being_chased(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1), status="resolved")
    add_ticket(db, 2, due=now - timedelta(hours=1), status="closed")
    sender = RecordingSender()

    report = sweep_and_deliver(db, config, procedures, sender, now)

    assert sender.replies == []
    assert ticket(db, 1).chase_at is None and ticket(db, 2).chase_at is None
    assert report.stopped == 2


def test_a_ticket_started_privately_is_chased_in_the_default_team_chat(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=None)
    sender = RecordingSender()
    sweep_and_deliver(db, config, procedures, sender, now)
    assert [r.chat_id for r in sender.replies] == [TEAM]


def test_an_unreadable_procedure_is_chased_with_the_defaults(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1), procedure="gone")
    sender = RecordingSender()
    sweep_and_deliver(db, config, procedures, sender, now)
    assert len(sender.replies) == 1
    assert ticket(db, 1).chase_at == now + timedelta(hours=4)


# --- cadence, restarts, failures ------------------------------------------------------------


def test_a_ticket_is_reminded_again_only_after_remind_every(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1))
    sender = RecordingSender()

    sweep_and_deliver(db, config, procedures, sender, now)
    sweep_and_deliver(db, config, procedures, sender, now + timedelta(hours=1))
    sweep_and_deliver(db, config, procedures, sender, now + timedelta(hours=1, minutes=59))
    assert len(sender.replies) == 1
    sweep_and_deliver(db, config, procedures, sender, now + timedelta(hours=2))
    assert len(sender.replies) == 2
    assert ticket(db, 1).remind_count == 2


def test_a_restart_at_the_same_moment_sends_nothing_again(
    db, database_url, config, procedures, now
):
    add_ticket(db, 1, due=now - timedelta(hours=1))
    add_ticket(db, 2, due=now - timedelta(hours=1), chat=OPS)
    sweep_and_deliver(db, config, procedures, RecordingSender(), now)

    restarted = Database.from_url(database_url)
    try:
        again = RecordingSender()
        report = sweep_and_deliver(
            restarted, config, ProcedureStore(config.procedures_dir), again, now
        )
    finally:
        restarted.dispose()
    assert again.replies == [] and report.sent == []
    assert count(db, Reminder) == 2
    assert len(actions(db, "reminder.sent")) == 2


def test_a_digest_telegram_does_not_take_yet_is_sent_later_and_reminds_once(
    db, config, procedures, now
):
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=TEAM)
    add_ticket(db, 2, due=now - timedelta(hours=1), chat=OPS)
    broken = RecordingSender(fail={OPS})

    report = sweep_and_deliver(db, config, procedures, broken, now)

    assert [r.chat_id for r in broken.replies] == [TEAM]
    assert [(s.chat_id, s.ticket_ids) for s in report.digests] == [(TEAM, (1,)), (OPS, (2,))]
    # Owed with the change: the ticket counts as reminded, and the outbox keeps the digest.
    assert ticket(db, 2).remind_count == 1
    assert [e.ticket_id for e in actions(db, "reminder.sent")] == [1, 2]
    assert Outbox(db, config).owed_count() == 1

    # The next sweep makes no second digest; the outbox sends the first once Ops is back.
    fixed = RecordingSender()
    again = sweep_and_deliver(db, config, procedures, fixed, now + timedelta(minutes=1))
    assert again.digests == []
    assert [(r.chat_id, digest_ids(r)) for r in fixed.replies] == [(OPS, [2])]
    assert Outbox(db, config).owed_count() == 0
    assert ticket(db, 2).remind_count == 1


def test_a_dry_run_reports_what_would_be_sent_and_writes_nothing(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1))
    add_ticket(db, 2, due=now - timedelta(hours=1), status="resolved")
    sender = RecordingSender()

    report = sweep_and_deliver(db, config, procedures, sender, now, dry_run=True)

    assert sender.replies == []
    assert [(s.chat_id, s.ticket_ids) for s in report.digests] == [(TEAM, (1,))]
    assert ticket(db, 1).remind_count == 0 and ticket(db, 1).chase_at is not None
    assert ticket(db, 2).chase_at is not None
    assert count(db, Reminder) == 0 and count(db, AuditEvent) == 0


# --- quiet hours, snooze --------------------------------------------------------------------


def test_quiet_hours_defer_reminders_to_the_morning_without_dropping_them(
    db, database_url, tmp_path, procedures
):
    config = team_config(database_url, tmp_path, quiet_hours=(time(20, 0), time(8, 0)))
    evening = datetime.fromisoformat("2026-03-02T22:00:00+01:00")
    add_ticket(db, 1, due=evening - timedelta(hours=1))
    sender = RecordingSender()

    report = sweep_and_deliver(db, config, procedures, sender, evening)

    morning = datetime.fromisoformat("2026-03-03T08:00:00+01:00")
    assert sender.replies == [] and report.deferred == 1
    assert ticket(db, 1).chase_at == morning
    sweep_and_deliver(db, config, procedures, sender, morning - timedelta(minutes=1))
    assert sender.replies == []
    sweep_and_deliver(db, config, procedures, sender, morning)
    assert len(sender.replies) == 1


def test_non_working_days_defer_reminders_to_the_next_working_day(
    db, database_url, tmp_path, procedures
):
    config = team_config(database_url, tmp_path, working_days=(0, 1, 2, 3, 4))
    saturday = datetime.fromisoformat("2026-03-07T11:00:00+01:00")
    add_ticket(db, 1, due=saturday - timedelta(hours=1))
    sweep_and_deliver(db, config, procedures, RecordingSender(), saturday)
    assert ticket(db, 1).chase_at == datetime.fromisoformat("2026-03-09T00:00:00+01:00")


# --- escalation -----------------------------------------------------------------------------


def test_escalation_reaches_the_leads_once_per_level(db, config, procedures, now):
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=OPS)
    sender = RecordingSender()

    for step in range(6):  # six reminders, two hours apart, nobody acts
        sweep_and_deliver(db, config, procedures, sender, now + timedelta(hours=2 * step))

    assert len(sender.to(OPS, "digest")) == 6
    escalations = sender.to(TEAM, "escalation")
    assert len(escalations) == 2
    assert "level 1" in html_to_text(escalations[0].text)
    assert "level 2" in html_to_text(escalations[1].text)
    assert "in Ops" in html_to_text(escalations[0].text)
    events = actions(db, "reminder.escalated")
    assert [e.details["level"] for e in events] == [1, 2]
    assert ticket(db, 1).escalation_level == 2


def test_without_a_team_chat_each_lead_is_told_privately(
    db, database_url, tmp_path, procedures, now
):
    config = team_config(database_url, tmp_path)
    config = Config(**{**config.__dict__, "chats": (), "leads": frozenset({LEAD.user_id, 77})})
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=OPS)
    sender = RecordingSender()
    for step in range(3):
        sweep_and_deliver(db, config, procedures, sender, now + timedelta(hours=2 * step))
    assert sorted(r.chat_id for r in sender.replies if r.kind == "escalation") == [
        LEAD.user_id,
        77,
    ]


def test_an_escalation_waits_for_the_leads_chat_and_is_sent_once_without_a_new_digest(
    db, config, procedures, now
):
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=OPS)
    sender = RecordingSender()
    sweep_and_deliver(db, config, procedures, sender, now)
    sweep_and_deliver(db, config, procedures, sender, now + timedelta(hours=2))
    leads_down = RecordingSender(fail={TEAM})
    report = sweep_and_deliver(db, config, procedures, leads_down, now + timedelta(hours=4))
    assert [r.kind for r in leads_down.replies] == ["digest"]
    assert [s.kind for s in report.sent] == ["digest", "escalation"]
    assert ticket(db, 1).escalation_level == 1  # owed with the change, in one transaction

    back = RecordingSender()
    sweep_and_deliver(db, config, procedures, back, now + timedelta(hours=4, minutes=1))
    assert [(r.chat_id, r.kind) for r in back.replies] == [(TEAM, "escalation")]
    assert len(actions(db, "reminder.escalated")) == 1
    assert ticket(db, 1).chase_at == now + timedelta(hours=6)


# --- the daily plan -------------------------------------------------------------------------


def test_the_daily_plan_goes_to_each_team_chat_once_a_day(db, database_url, tmp_path, procedures):
    config = team_config(database_url, tmp_path, daily_digest=time(9, 0))
    morning = datetime.fromisoformat("2026-03-02T09:05:00+01:00")
    add_ticket(db, 1, due=morning - timedelta(hours=1), assignee=(BOB.user_id, "Bob"))
    add_ticket(db, 2, due=morning + timedelta(hours=3))
    add_ticket(db, 3, due=morning + timedelta(days=2), chat=OPS)
    sender = RecordingSender()

    sweep_and_deliver(db, config, procedures, sender, morning - timedelta(minutes=10))
    assert sender.to(TEAM, "daily") == []
    sweep_and_deliver(db, config, procedures, sender, morning)
    sweep_and_deliver(db, config, procedures, sender, morning + timedelta(hours=1))

    (team_plan,) = sender.to(TEAM, "daily")
    (ops_plan,) = sender.to(OPS, "daily")
    text = html_to_text(team_plan.text)
    assert "Open: 2" in text and "Bob 1" in text and "unassigned 1" in text
    assert "Overdue (1)" in text and "#1" in text
    assert "Due today (1)" in text and "#2" in text
    assert "Open: 1" in html_to_text(ops_plan.text)
    assert len(actions(db, "reminder.daily_plan")) == 2

    sweep_and_deliver(db, config, procedures, sender, morning + timedelta(days=1))
    assert len(sender.to(TEAM, "daily")) == 2


def test_a_daily_plan_that_cannot_be_sent_yet_is_sent_later_once(
    db, database_url, tmp_path, procedures
):
    config = team_config(database_url, tmp_path, daily_digest=time(9, 0))
    morning = datetime.fromisoformat("2026-03-02T09:05:00+01:00")
    down = RecordingSender(fail={TEAM})
    report = sweep_and_deliver(db, config, procedures, down, morning)
    assert sorted((s.chat_id, s.kind) for s in report.sent) == [(OPS, "daily"), (TEAM, "daily")]
    assert [r.chat_id for r in down.replies] == [OPS]
    sender = RecordingSender()
    sweep_and_deliver(db, config, procedures, sender, morning + timedelta(minutes=1))
    assert [r.kind for r in sender.to(TEAM)] == ["daily"] and sender.to(OPS) == []


# --- two sweepers at once -------------------------------------------------------------------


def test_two_concurrent_sweepers_never_send_the_same_reminder_twice(
    database_url, tmp_path, procedures, now
):
    config = team_config(database_url, tmp_path, daily_digest=time(9, 0))
    chats = [-(1000 + i) for i in range(8)]
    setup = Database.from_url(database_url)
    number = 0
    for chat in chats:
        for _ in range(3):
            number += 1
            add_ticket(setup, number, due=now - timedelta(hours=1), chat=chat)
    setup.dispose()

    senders = [RecordingSender(delay=0.02), RecordingSender(delay=0.02)]
    dbs = [Database.from_url(database_url) for _ in senders]
    start = threading.Barrier(len(senders))
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            sweep_and_deliver(dbs[i], config, procedures, senders[i], now)
        except BaseException as e:  # surfaced below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(senders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for d in dbs:
        d.dispose()

    assert errors == []
    replies = [r for s in senders for r in s.replies]
    reminded = [n for r in replies if r.kind == "digest" for n in digest_ids(r)]
    assert sorted(reminded) == list(range(1, number + 1))  # each ticket exactly once
    daily = sorted(r.chat_id for r in replies if r.kind == "daily")
    assert daily == sorted(c.id for c in config.chats)  # each plan exactly once
    check = Database.from_url(database_url)
    try:
        assert len(actions(check, "reminder.sent")) == number
        assert count(check, Reminder) == len(replies)
    finally:
        check.dispose()


def test_a_sweep_while_the_last_ones_digests_are_still_owed_owes_nothing_new(
    db, database_url, config, procedures, now
):
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=TEAM)
    add_ticket(db, 2, due=now - timedelta(hours=1), chat=OPS)
    first = sweep(db, config, procedures, now)  # owed; Telegram not reached yet
    other_db = Database.from_url(database_url)
    try:
        second = sweep(other_db, config, procedures, now + timedelta(seconds=30))
    finally:
        other_db.dispose()
    assert len(first.digests) == 2 and second.sent == []
    sender = RecordingSender()
    sender.deliver(db, config, now + timedelta(minutes=1))
    assert sorted(r.chat_id for r in sender.replies) == [OPS, TEAM]


def test_a_sweep_that_dies_before_its_commit_owes_nothing_and_changes_nothing(
    db, config, procedures, now, monkeypatch
):
    for n, chat in enumerate((TEAM, OPS), start=1):
        add_ticket(db, n, due=now - timedelta(hours=1), chat=chat)

    def power_cut(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bot.services.sweep.run.escalate", power_cut)
    with pytest.raises(KeyboardInterrupt):
        sweep(db, config, procedures, now)
    monkeypatch.undo()
    assert Outbox(db, config).owed_count() == 0
    assert [ticket(db, n).remind_count for n in (1, 2)] == [0, 0]
    assert actions(db, "reminder.sent") == []

    sender = RecordingSender()
    sweep_and_deliver(db, config, procedures, sender, now + timedelta(minutes=1))
    assert sorted(r.chat_id for r in sender.replies) == [OPS, TEAM]


def test_digests_owed_before_a_crash_are_sent_by_the_next_process(
    db, database_url, config, procedures, now
):
    add_ticket(db, 1, due=now - timedelta(hours=1), chat=TEAM)
    sweep(db, config, procedures, now)  # committed; the process dies before sending

    restarted = Database.from_url(database_url)
    try:
        sender = RecordingSender()
        report = sweep_and_deliver(
            restarted, config, procedures, sender, now + timedelta(minutes=1)
        )
    finally:
        restarted.dispose()
    assert report.sent == []
    assert [(r.chat_id, digest_ids(r)) for r in sender.replies] == [(TEAM, [1])]
    assert ticket(db, 1).remind_count == 1


# --- digests within Telegram's limits ----------------------------------------------------


def test_the_digest_buttons_fit_telegrams_callback_limit(db, config, procedures, now):
    add_ticket(db, 999_999_999, due=now - timedelta(hours=1))
    sender = RecordingSender()
    sweep_and_deliver(db, config, procedures, sender, now)
    assert all(len(b.data.encode()) <= 64 for row in sender.replies[0].buttons for b in row)


def test_a_chat_with_many_overdue_tickets_gets_one_digest_within_telegrams_limits(
    db, config, procedures, now
):
    for n in range(1, 46):
        add_ticket(db, n, due=now - timedelta(hours=1), title="&" * 300)
    sender = RecordingSender()
    report = sweep_and_deliver(db, config, procedures, sender, now)
    (digest,) = sender.replies
    assert len(digest.text) <= 4096 and len(digest.buttons) * 3 <= 100
    assert "more" in html_to_text(digest.text)
    assert report.reminded == len(digest.buttons)
    # The rest lead the next sweep's digest.
    nxt = RecordingSender()
    sweep_and_deliver(db, config, procedures, nxt, now + timedelta(minutes=1))
    assert len(nxt.replies) == 1


def test_audit_helper_and_sweep_share_one_chain(db, config, procedures, now):
    from bot.domain.actors import SYSTEM

    with db.transaction() as s:
        record(s, now=now, actor=SYSTEM, action="test.before")
    add_ticket(db, 1, due=now - timedelta(hours=1))
    sweep_and_deliver(db, config, procedures, RecordingSender(), now)
    with db.transaction() as s:
        record(s, now=now, actor=SYSTEM, action="test.after")
    with db.reading() as s:
        assert verify_chain(s).ok
