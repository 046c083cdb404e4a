"""The digest's buttons (On it, Snooze, Show) pressed in the chat, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.db.test_sweep import TEAM, RecordingSender, add_ticket, sweep_and_deliver
from tests.helpers.engine import ANN, BOB, Harness, make_config, text_of


@pytest.fixture
def team(database_url, tmp_path, now):
    """The conversation engine with the sweep's buttons installed, and a clock."""
    h = Harness(make_config(tmp_path, database_url), now)
    yield h
    h.close()


def test_on_it_assigns_an_unassigned_ticket_to_the_presser_and_acknowledges(team, now):
    add_ticket(team.db, 1, due=now - timedelta(hours=1), procedure="access")
    outcome = team.press(BOB, "r:on:1", chat=TEAM)
    assert "yours" in outcome.toast
    t = team.ticket(1)
    assert (t.assignee_id, t.acknowledged_at, t.status) == (BOB.user_id, now, "in_progress")
    assert {"ticket.assigned", "reminder.acknowledged"} <= set(team.actions(1))


def test_on_it_on_someone_elses_ticket_only_acknowledges(team, now):
    add_ticket(
        team.db,
        1,
        due=now - timedelta(hours=1),
        procedure="access",
        assignee=(ANN.user_id, ANN.name),
    )
    outcome = team.press(BOB, "r:on:1", chat=TEAM)
    assert ANN.name in outcome.toast
    assert team.ticket(1).assignee_id == ANN.user_id
    assert "ticket.assigned" not in team.actions(1)
    assert "reminder.acknowledged" in team.actions(1)


def test_on_it_is_progress_so_the_reminder_count_starts_again(team, now):
    add_ticket(team.db, 1, due=now - timedelta(hours=1), procedure="access")
    sender = RecordingSender()
    for step in range(2):
        sweep_and_deliver(
            team.db, team.config, team.services.procedures, sender, now + timedelta(hours=2 * step)
        )
    assert team.ticket(1).remind_count == 2
    team.tick(hours=2, minutes=30)
    team.press(BOB, "r:on:1", chat=TEAM)
    sweep_and_deliver(
        team.db, team.config, team.services.procedures, sender, now + timedelta(hours=4)
    )
    t = team.ticket(1)
    assert (t.remind_count, t.escalation_level) == (1, 0)
    assert not [r for r in sender.replies if r.kind == "escalation"]


def test_snooze_holds_the_reminders_for_an_hour(team, now):
    add_ticket(team.db, 1, due=now - timedelta(hours=1), procedure="access")
    outcome = team.press(ANN, "r:sn:1", chat=TEAM)
    assert "snoozed until" in outcome.toast
    t = team.ticket(1)
    assert t.snoozed_until == now + timedelta(hours=1) and t.chase_at == t.snoozed_until
    assert "reminder.snoozed" in team.actions(1)

    sender = RecordingSender()
    sweep_and_deliver(
        team.db, team.config, team.services.procedures, sender, now + timedelta(minutes=59)
    )
    assert sender.replies == []
    sweep_and_deliver(
        team.db, team.config, team.services.procedures, sender, now + timedelta(hours=1)
    )
    assert len(sender.replies) == 1


def test_show_answers_with_the_tickets_summary(team, now):
    add_ticket(
        team.db,
        1,
        due=now - timedelta(hours=1),
        procedure="access",
        title="VPN <down>",
        assignee=(ANN.user_id, ANN.name),
    )
    outcome = team.press(BOB, "r:sh:1", chat=TEAM)
    text = text_of(outcome)
    assert "#1 · VPN <down>" in text
    assert "Status: open" in text and f"Assignee: {ANN.name}" in text and "1 hour late" in text
    assert "&lt;down&gt;" in outcome.replies[0].text


@pytest.mark.parametrize(
    ("data", "toast"),
    [
        ("r:xx:1", "not valid"),
        ("r:on:abc", "not valid"),
        ("r:on:1:2", "not valid"),
        ("r:on", "not valid"),
        ("r:sn:-1", "not valid"),
        ("r:on:4242", "no longer exists"),
        ("r:sn:2", "resolved"),
    ],
)
def test_stale_or_tampered_buttons_get_a_clear_answer(team, now, data, toast):
    add_ticket(team.db, 2, due=now - timedelta(hours=1), procedure="access", status="resolved")
    outcome = team.press(BOB, data, chat=TEAM)
    assert toast in outcome.toast
    assert team.ticket(2).snoozed_until is None
