"""Approvals in chat: named approvers, quorum, reasons, expiry, the reporter never approving
their own ticket; both databases, with a clock the test moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import AuditEvent, PendingQuestion
from bot.domain.actors import Actor
from bot.render import html_to_text
from bot.services.sweep import sweep
from tests.db.test_sweep import RecordingSender
from tests.helpers.engine import (
    ANN,
    BOB,
    LEAD,
    TEAM_CHAT,
    Harness,
    buttons_of,
    make_config,
    text_of,
)

# Real Telegram usernames have 5 to 32 characters; a person field keeps the @username.
LEAD = Actor(LEAD.user_id, LEAD.name, "lena_lead")
BOB = Actor(BOB.user_id, BOB.name, "bob_member")
CAROL = Actor(4, "Carol Owner", "carol_owner")

CHANGE_YAML = """\
title: Firewall change
triggers:
  command: fw
fields:
  - name: rule
    question: Which rule?
  - name: manager
    question: Who is your manager?
    type: person
steps:
  - id: approve
    title: Approved
    approval:
      by: {by}
      quorum: {quorum}
      expires_after: 2d
  - id: apply
    title: Rule applied
    requires: [approve]
sla:
  due: 3d
  remind_every: 4h
"""


def harness(database_url, tmp_path, now, *, by="leads", quorum=1) -> Harness:
    config = make_config(tmp_path, database_url)
    from dataclasses import replace

    config = replace(
        config,
        leads=frozenset({LEAD.user_id, CAROL.user_id}),
        members=frozenset({ANN.user_id, BOB.user_id}),
    )
    (config.procedures_dir / "fw.yaml").write_text(CHANGE_YAML.format(by=by, quorum=quorum))
    return Harness(config, now)


@pytest.fixture
def made(database_url, tmp_path, now):
    made: list[Harness] = []

    def make(**kw) -> Harness:
        made.append(harness(database_url, tmp_path, now, **kw))
        return made[-1]

    yield make
    for h in made:
        h.close()


def open_ticket(h: Harness, reporter: Actor = ANN, manager: Actor = BOB) -> int:
    for who in (LEAD, BOB, CAROL):
        h.say(who, "/start")  # the bot can write to them privately
    h.say(reporter, "/new fw open port 443")
    out = h.say(reporter, "allow 443 from the office")
    out = h.press(reporter, buttons_of(out)[manager.name])  # a member chosen from buttons
    h.press(reporter, buttons_of(out)["Confirm"])
    return 1


def decisions(h: Harness) -> list[str]:
    return [a for a in h.actions(1) if a.startswith("approval.")]


def test_approvers_are_asked_privately_with_buttons_and_one_approval_does_the_step(made):
    h = made(by="leads")
    open_ticket(h)
    asked = [r for r in h.sent if r.kind == "approval"]
    assert sorted(r.chat_id for r in asked) == [LEAD.user_id, CAROL.user_id]
    labels = [b.label for row in asked[0].buttons for b in row]
    assert labels == ["✅ Approve #1", "❌ Reject #1"]
    out = h.press(LEAD, buttons_of_reply(asked[0])["✅ Approve #1"])
    assert "approved by Lena Lead" in text_of(out)
    assert "approve" in [s for s in steps_done(h)]
    assert "approval.approved" in decisions(h)


def buttons_of_reply(reply) -> dict[str, str]:
    return {b.label: b.data for row in reply.buttons for b in row}


def steps_done(h: Harness) -> list[str]:
    from bot.db.models import StepDone

    with h.db.reading() as s:
        return list(s.scalars(select(StepDone.step_id).where(StepDone.ticket_id == 1)))


def test_quorum_two_counts_each_person_once(made):
    h = made(by="leads", quorum=2)
    open_ticket(h)
    out = h.say(LEAD, "/approve 1 looks fine")
    assert "1 of 2" in text_of(out) and "1 more needed" in text_of(out)
    again = h.say(LEAD, "/approve 1")
    assert "you already approved" in text_of(again)
    assert steps_done(h) == []
    out = h.say(CAROL, "/approve 1")
    assert "approved by Lena Lead, Carol Owner" in text_of(out)
    assert steps_done(h) == ["approve"]
    assert decisions(h).count("approval.approved") == 2


def test_the_reporter_never_approves_their_own_ticket_even_as_a_lead(made):
    h = made(by="leads")
    open_ticket(h, reporter=LEAD)
    out = h.say(LEAD, "/approve 1")
    assert "you reported ticket #1, so you cannot approve it yourself" in text_of(out)
    assert steps_done(h) == []
    with h.db.reading() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "action.refused")).all()
    assert [e.details["reason"] for e in refused] == ["own_ticket"]
    # ...and the reporter is not even asked.
    assert LEAD.user_id not in [r.chat_id for r in h.sent if r.kind == "approval"]


def test_someone_not_named_is_refused_and_audited(made):
    h = made(by="field:manager")
    open_ticket(h, manager=BOB)
    out = h.say(CAROL, "/approve 1")
    assert "you are not one of the approvers" in text_of(out)
    assert "action.refused" in h.actions(1)
    out = h.say(BOB, "/approve 1 ok from me")
    assert "approved by Bob Member" in text_of(out)


def test_ticking_an_approval_step_by_hand_is_refused(made):
    h = made(by="leads")
    open_ticket(h)
    out = h.say(LEAD, "/steps 1")
    assert "waiting for approval" in text_of(out)
    assert "Done: Approved" not in buttons_of(out)
    assert "Done: Rule applied" in buttons_of(out)
    refused = h.press(LEAD, buttons_of(out)["Done: Rule applied"])
    assert "comes after Approved" in text_of(refused)


def test_a_rejection_asks_for_a_reason_and_tells_the_reporter_and_the_team(made):
    h = made(by="leads")
    open_ticket(h)
    asked = next(r for r in h.sent if r.kind == "approval" and r.chat_id == LEAD.user_id)
    out = h.press(LEAD, buttons_of_reply(asked)["❌ Reject #1"])
    assert "Why do you reject #1" in text_of(out)
    assert h.ticket(1).status == "open"  # nothing rejected before the reason
    h.sent.clear()
    out = h.say(LEAD, "port 443 is already open to the office")
    assert h.ticket(1).status == "rejected"
    told = {r.chat_id: r.text for r in h.sent if "rejected by Lena Lead" in r.text}
    assert set(told) >= {LEAD.user_id, ANN.user_id, TEAM_CHAT}
    assert "port 443 is already open" in told[ANN.user_id]
    assert "approval.rejected" in decisions(h)
    with h.db.reading() as s:
        assert s.scalars(select(PendingQuestion)).all() == []
    # Final: nothing more, until a lead reopens it with a reason; then approvals start again.
    assert "not open for work" in text_of(h.say(CAROL, "/approve 1"))
    assert "only a lead may reopen it" in text_of(h.say(ANN, "/reopen 1 please look again"))
    h.sent.clear()
    h.say(CAROL, "/reopen 1 the office moved, please decide again")
    assert h.ticket(1).status == "reopened"
    assert {r.chat_id for r in h.sent if r.kind == "approval"} >= {LEAD.user_id}
    assert "approved by Lena Lead" in text_of(h.say(LEAD, "/approve 1"))


def test_a_reject_without_a_reason_is_refused(made):
    h = made(by="leads")
    open_ticket(h)
    out = h.say(LEAD, "/reject 1")
    assert "/reject N reason" in text_of(out)
    assert h.ticket(1).status == "open"


def test_approvers_are_reminded_and_at_expiry_the_leads_are_told_and_it_escalates(made, now):
    h = made(by="field:manager")
    open_ticket(h, manager=BOB)
    sender = RecordingSender()
    report = sweep(h.db, h.config, h.services.procedures, now + timedelta(hours=4, minutes=1))
    sender.deliver(h.db, h.config, now + timedelta(hours=4, minutes=1))
    (reminder,) = [r for r in sender.to(BOB.user_id, "approval") if "waits for" in r.text]
    assert "1 ticket waits for your approval" in reminder.text
    assert "Approve #1" in str(reminder.buttons)
    assert [s.kind for s in report.sent].count("approval") == 1
    later = now + timedelta(days=2, minutes=1)
    sweep(h.db, h.config, h.services.procedures, later)
    sender.deliver(h.db, h.config, later)
    (expired,) = sender.to(TEAM_CHAT, "escalation")
    assert "No decision in time" in expired.text and "#1" in expired.text
    assert h.ticket(1).escalation_level == 1
    assert "approval.expired" in h.actions(1)
    # Once only.
    sweep(h.db, h.config, h.services.procedures, later + timedelta(minutes=5))
    sender.deliver(h.db, h.config, later + timedelta(minutes=5))
    assert len(sender.to(TEAM_CHAT, "escalation")) == 1


def test_a_procedure_edited_during_an_approval_is_read_again(made):
    h = made(by="leads")
    open_ticket(h)
    asked = next(r for r in h.sent if r.kind == "approval" and r.chat_id == LEAD.user_id)
    path = h.config.procedures_dir / "fw.yaml"
    # The approval step moves down the list: the old button must not decide another step.
    text = path.read_text()
    edited = text.replace("steps:\n", "steps:\n  - id: review\n    title: Reviewed\n", 1)
    path.write_text(edited)
    out = h.press(LEAD, buttons_of_reply(asked)["✅ Approve #1"])
    assert out.toast and "changed" in out.toast.lower()
    assert steps_done(h) == []
    assert "approved by Lena Lead" in text_of(h.say(LEAD, "/approve 1"))


def test_metrics_count_the_wait_for_approval_and_the_rejections_per_version(made, now):
    from bot.services import stats

    h = made(by="leads")
    open_ticket(h)  # ticket 1
    h.tick(hours=3)
    h.say(LEAD, "/approve 1")
    h.say(ANN, "/new fw another port")
    out = h.say(ANN, "allow 8443 from the office")
    out = h.press(ANN, buttons_of(out)[BOB.name])
    h.press(ANN, buttons_of(out)["Confirm"])
    h.tick(hours=1)
    h.say(CAROL, "/reject 2 not needed: use 443")
    with h.db.reading() as s:
        report = stats.compute(s, now - timedelta(days=1), now + timedelta(days=1), now=h.now)
    (fw,) = [p for p in report.procedures if p.procedure_id == "fw"]
    assert fw.metrics.median_approval_wait_seconds == pytest.approx(2 * 3600, abs=60)
    assert fw.metrics.rejection_rate == 0.5
    assert len(fw.versions) == 1


def test_an_approver_and_a_reporter_who_read_chinese_are_asked_and_told_in_chinese(made):
    h = made(by="leads")
    h.say(LEAD, "/language zh-CN")
    h.sent.clear()
    open_ticket(h)
    h.say(ANN, "/language zh-CN")  # the reporter, after opening it in English
    asked = next(r for r in h.sent if r.kind == "approval" and r.chat_id == LEAD.user_id)
    assert "这一步需要你审批：Approved" in html_to_text(asked.text)
    assert list(buttons_of_reply(asked)) == ["✅ 批准 #1", "❌ 驳回 #1"]
    out = h.press(LEAD, buttons_of_reply(asked)["❌ 驳回 #1"])
    assert "为什么驳回 #1" in text_of(out)
    h.sent.clear()
    h.say(LEAD, "办公室的 443 端口已经开放了")
    told = {r.chat_id: html_to_text(r.text) for r in h.sent}
    assert "已被 Lena Lead 驳回" in told[ANN.user_id]
    assert "办公室的 443 端口已经开放了" in told[ANN.user_id]
    assert "rejected by Lena Lead" in told[TEAM_CHAT]  # the team's chat reads English
    assert "已被驳回，只有负责人可以重新打开" in text_of(h.say(ANN, "/reopen 1 再看看"))
    shown = text_of(h.say(ANN, "/show 1"))
    assert "状态：已驳回" in shown and "❌ Lena Lead 驳回" in shown
