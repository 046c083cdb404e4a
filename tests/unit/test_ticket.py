"""The Ticket's rules, without a database: lifecycle, SLA clock, chasing, who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import lifecycle
from bot.domain.actors import Actor
from bot.domain.procedure import Condition, Step
from bot.domain.ticket import Refused, Ticket, TransitionError, Why

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANN = Actor(1, "Ann")
BOB = Actor(2, "Bob")


def draft(text: str = "VPN is down\nsince this morning") -> Ticket:
    return Ticket.draft(
        number=7,
        procedure_id="incident",
        procedure_version="v1",
        procedure_title="Incident",
        text=text,
        reporter=ANN,
        chat_id=ANN.user_id,
        chat_type="private",
        message_id=10,
        thread_id=None,
        home_chat_id=-100,
        now=NOW,
    )


def opened(due_after: timedelta | None = timedelta(hours=8)) -> Ticket:
    ticket = draft()
    ticket.open(procedure_version="v2", due_after=due_after, now=NOW)
    return ticket


def test_a_draft_is_titled_by_its_first_line_and_waits_for_information():
    ticket = draft("\n  VPN is down  \nsince this morning")
    assert ticket.title == "VPN is down"
    assert ticket.status == lifecycle.WAITING
    assert ticket.is_draft and ticket.chase_at is None


def test_a_draft_with_no_words_takes_the_procedures_title_and_a_long_line_is_shortened():
    assert draft("   ").title == "Incident"
    title = draft("x" * 500).title
    assert len(title) == 120 and title.endswith("…")


def test_opening_starts_the_sla_clock_and_chases_when_due():
    ticket = draft()
    moved = ticket.open(procedure_version="v2", due_after=timedelta(hours=8), now=NOW)
    assert (moved.old, moved.new) == (lifecycle.WAITING, lifecycle.OPEN)
    assert ticket.due_at == NOW + timedelta(hours=8) == ticket.chase_at
    assert ticket.procedure_version == "v2" and ticket.opened_at == NOW


def test_a_procedure_without_an_sla_is_never_chased():
    ticket = opened(due_after=None)
    assert ticket.due_at is None and ticket.chase_at is None


def test_waiting_for_information_stops_the_clock_and_resuming_moves_due_by_the_pause():
    ticket = opened()
    ticket.assign(BOB.user_id, BOB.name, NOW)
    moved, back_to = ticket.pause_for_info(NOW + timedelta(hours=1))
    assert moved.new == lifecycle.WAITING and back_to == lifecycle.IN_PROGRESS
    assert ticket.chase_at is None and ticket.is_paused
    assert not ticket.is_overdue(NOW + timedelta(days=3))  # paused: never overdue

    ticket.resume(back_to, NOW + timedelta(hours=3))
    assert ticket.status == lifecycle.IN_PROGRESS
    assert ticket.due_at == NOW + timedelta(hours=10)  # two hours of waiting added
    assert ticket.chase_at == ticket.due_at and not ticket.is_paused


def test_resolved_and_closed_tickets_are_not_chased_and_a_reopened_one_is_again():
    ticket = opened()
    ticket.resolve(NOW + timedelta(hours=1))
    assert ticket.chase_at is None and ticket.resolved_at == NOW + timedelta(hours=1)
    ticket.close(lead=False, now=NOW + timedelta(hours=2))
    assert ticket.close_reason == "done" and ticket.chase_at is None

    ticket.remind_count, ticket.escalation_level = 3, 1
    later = NOW + timedelta(days=1)
    ticket.reopen(due_after=timedelta(hours=4), reason="still broken", now=later)
    assert ticket.status == lifecycle.REOPENED and ticket.reopen_count == 1
    assert ticket.closed_at is None and ticket.close_reason is None
    assert ticket.due_at == later + timedelta(hours=4) == ticket.chase_at
    assert (ticket.remind_count, ticket.escalation_level) == (0, 0)


def test_only_a_lead_may_close_a_ticket_that_was_never_resolved():
    ticket = opened()
    with pytest.raises(Refused) as refused:
        ticket.close(lead=False, now=NOW)
    assert refused.value.refusal.why == Why.CANNOT_CLOSE
    assert refused.value.refusal.data == {"status": lifecycle.OPEN}
    assert ticket.status == lifecycle.OPEN  # a refusal changes nothing
    ticket.close(lead=True, now=NOW)
    assert ticket.close_reason == "withdrawn"


def test_only_resolved_or_closed_tickets_that_were_opened_can_be_reopened():
    with pytest.raises(Refused) as refused:
        opened().reopen(due_after=None, reason="why", now=NOW)
    assert refused.value.refusal.why == Why.CANNOT_REOPEN
    closed_draft = draft()
    closed_draft.self_served(NOW)
    with pytest.raises(Refused):
        closed_draft.reopen(due_after=None, reason="why", now=NOW)


def test_assigning_starts_the_work_and_a_finished_ticket_cannot_be_assigned():
    ticket = opened()
    moved = ticket.assign(BOB.user_id, BOB.name, NOW)
    assert moved is not None and moved.new == lifecycle.IN_PROGRESS
    assert ticket.assignee_name == "Bob"
    assert ticket.assign(ANN.user_id, ANN.name, NOW) is None  # already in progress
    ticket.resolve(NOW)
    with pytest.raises(Refused) as refused:
        ticket.assign(BOB.user_id, BOB.name, NOW)
    assert refused.value.refusal.why == Why.NOT_WORKABLE


def test_only_a_draft_can_be_cancelled_and_only_by_its_reporter_or_a_lead():
    ticket = draft()
    with pytest.raises(Refused) as refused:
        ticket.check_may_cancel(BOB, lead=False)
    assert refused.value.refusal.why == Why.NOT_REPORTER
    ticket.check_may_cancel(BOB, lead=True)
    ticket.check_may_cancel(ANN, lead=False)
    ticket.cancel(NOW)
    assert ticket.status == lifecycle.CANCELLED and ticket.close_reason == "cancelled"
    with pytest.raises(Refused):
        opened().cancel(NOW)


def test_closed_and_cancelled_tickets_refuse_edits():
    ticket = opened()
    ticket.check_may_edit()
    ticket.close(lead=True, now=NOW)
    with pytest.raises(Refused) as refused:
        ticket.check_may_edit()
    assert refused.value.refusal.why == Why.FINISHED


def test_a_step_checks_the_tickets_state_its_role_its_requirements_and_whether_it_is_done():
    step = Step(id="deploy", title="Deploy the fix", role="lead", requires=("version",))
    ticket = opened()

    def why(**kwargs) -> Why | None:
        args = {"lead": True, "values": {"version": "1.2"}, "done": set(), "labels": {}}
        try:
            ticket.check_step(step, **(args | kwargs))
        except Refused as refused:
            return refused.refusal.why
        return None

    assert why() is None
    assert why(lead=False) == Why.LEADS_ONLY_STEP
    assert why(values={"version": None}) == Why.STEP_NEEDS
    assert why(done={"deploy"}) == Why.STEP_DONE
    ticket.resolve(NOW)
    assert why() == Why.NOT_WORKABLE


def test_a_step_done_starts_the_work_once():
    ticket = opened()
    assert ticket.step_done(NOW).new == lifecycle.IN_PROGRESS
    assert ticket.step_done(NOW) is None


def test_steps_left_are_the_required_ones_that_apply_and_are_not_done():
    steps = (
        Step(id="a", title="A"),
        Step(id="b", title="B", optional=True),
        Step(id="c", title="C", when=Condition(field="prod", equals=True)),
        Step(id="d", title="D"),
    )
    left = Ticket.steps_left(steps, {"prod": True}, {"a"})
    assert [s.id for s in left] == ["c", "d"]
    assert [s.id for s in Ticket.steps_left(steps, {"prod": False}, {"a"})] == ["d"]


def test_a_snooze_never_brings_a_chase_forward():
    ticket = opened()
    due = ticket.chase_at
    ticket.snooze(NOW + timedelta(hours=1))  # before due: the chase stays at due
    assert ticket.chase_at == due
    ticket.snooze(NOW + timedelta(hours=9))
    assert ticket.chase_at == NOW + timedelta(hours=9)


def test_overdue_means_active_past_due_and_not_paused():
    ticket = opened()
    assert not ticket.is_overdue(NOW + timedelta(hours=7))
    assert ticket.is_overdue(NOW + timedelta(hours=9))
    assert ticket.due_in(NOW + timedelta(hours=9)) == -timedelta(hours=1)


def test_the_lifecycle_refuses_a_move_it_does_not_allow():
    ticket = opened()
    ticket.resolve(NOW)
    with pytest.raises(TransitionError):
        ticket.pause_for_info(NOW)
    assert ticket.status == lifecycle.RESOLVED and not ticket.is_paused


def test_a_draft_cannot_be_resolved():
    with pytest.raises(Refused) as refused:
        draft().resolve(NOW)
    assert refused.value.refusal.why == Why.CANNOT_RESOLVE
