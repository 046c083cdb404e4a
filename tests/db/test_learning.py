"""Learning from each ticket, as the team meets it: retro questions at resolve, the reporter's
one tap, "what changed since you last ran this", and the leads' weekly retro digest; both
databases, with a clock the test moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import LastVersion, ProcedureVersion, RetroAnswer, Satisfaction
from bot.services.sweep import sweep
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

OUTAGE_YAML = """\
title: Outage
triggers:
  command: outage
fields:
  - name: summary
    question: What is down?
steps:
  - id: restore
    title: Service restored
sla:
  due: 4h
resolution:
  fields:
    - name: cause
      question: What caused it?
retro:
  when: [late, reopened]
  longer_than: 2d
  fields:
    - name: slowed_by
      label: What slowed it down
      question: What slowed this one down?
    - name: proposal
      question: What would you change in the procedure?
      required: false
"""


@pytest.fixture
def h(database_url, tmp_path, now):
    config = make_config(tmp_path, database_url)
    (config.procedures_dir / "outage.yaml").write_text(OUTAGE_YAML)
    harness = Harness(config, now)
    yield harness
    harness.close()


def open_outage(h: Harness, text: str = "/new outage the VPN is down") -> int:
    """Ann reports an outage and confirms it; its number."""
    h.say(ANN, text)
    out = h.say(ANN, text.removeprefix("/new outage "))
    h.press(ANN, buttons_of(out)["Confirm"])
    return max_ticket(h)


def max_ticket(h: Harness) -> int:
    from sqlalchemy import func

    from bot.db.models import Ticket

    with h.db.reading() as s:
        return s.scalar(select(func.max(Ticket.id)))


def work_and_resolve(h: Harness, number: int, who=BOB) -> str:
    """Do the step, resolve, answer the cause; what the resolver was told."""
    h.say(who, f"/assign {number} me")
    h.say(who, f"/steps {number}")
    step = [r for r in h.sent if r.buttons and r.chat_id == who.user_id][-1]
    h.press(who, {b.label: b.data for row in step.buttons for b in row}["Done: Service restored"])
    h.say(who, f"/resolve {number}")
    return text_of(h.say(who, "a certificate expired on the VPN gateway"))


def retro_rows(h: Harness) -> list[tuple[int, int, str, object, list]]:
    with h.db.reading() as s:
        rows = s.scalars(select(RetroAnswer).order_by(RetroAnswer.id))
        return [(r.ticket_id, r.round, r.name, r.value, r.reasons) for r in rows]


def test_a_ticket_resolved_on_time_is_not_asked_the_retro_questions(h):
    number = open_outage(h)
    told = work_and_resolve(h, number)
    assert "resolved" in told
    assert "slowed" not in told
    assert retro_rows(h) == []
    assert h.ticket(number).status == "resolved"


def test_a_late_ticket_is_asked_the_retro_questions_through_the_gate_and_they_are_kept(h):
    number = open_outage(h)
    h.tick(hours=5)  # past the 4h due time
    told = work_and_resolve(h, number)
    assert "What slowed this one down?" in told
    assert h.ticket(number).status != "resolved"  # not until the round is complete
    out = h.say(BOB, "waiting for the vendor's support line")
    assert "What would you change in the procedure?" in text_of(out)
    assert "/skip" in text_of(out)  # optional
    out = h.say(BOB, "/skip")
    assert "resolved" in text_of(out)
    assert h.ticket(number).status == "resolved"
    assert sorted(retro_rows(h), key=str) == [
        (number, 0, "proposal", None, ["late"]),
        (number, 0, "slowed_by", "waiting for the vendor's support line", ["late"]),
    ]
    assert "retro.answered" in h.actions(number)
    trail = text_of(h.say(LEAD, f"/audit {number}"))
    assert "retro: Proposal: —; What slowed it down: waiting for the vendor" in trail
    shown = text_of(h.say(BOB, f"/show {number}"))
    assert "Retro:\n• What slowed it down: waiting for the vendor's support line" in shown
    # The ticket's own fields hold the resolution, not the retrospective.
    from bot.services import records

    with h.db.reading() as s:
        values = records.values_of(s, number)
    assert values["cause"] == "a certificate expired on the VPN gateway"
    assert "slowed_by" not in values


def test_a_reopened_ticket_is_asked_at_its_next_resolve(h):
    number = open_outage(h)
    work_and_resolve(h, number)
    h.say(ANN, f"/reopen {number} still down for the Berlin office")
    h.say(BOB, f"/resolve {number}")
    out = h.say(BOB, "the Berlin gateway had the old certificate")
    assert "What slowed this one down?" in text_of(out)
    h.say(BOB, "nobody knew Berlin had its own gateway")
    h.say(BOB, "list every gateway in the procedure")
    assert [(r[1], r[2], r[4]) for r in retro_rows(h) if r[2] == "slowed_by"] == [
        (1, "slowed_by", ["reopened"])
    ]


def test_the_reporter_gets_one_tap_per_resolution_and_may_add_a_comment(h):
    number = open_outage(h)
    work_and_resolve(h, number)
    asks = [r for r in h.sent if r.kind == "satisfaction"]
    assert [r.chat_id for r in asks] == [ANN.user_id]
    taps = {b.label: b.data for row in asks[0].buttons for b in row}
    assert set(taps) == {"👍", "👎"}
    assert "Only the person who reported #1" in h.press(BOB, taps["👎"]).toast
    out = h.press(ANN, taps["👎"])
    assert "Anything to add" in text_of(out)
    assert out.toast
    again = h.press(ANN, taps["👍"])
    assert again.toast and "already" in again.toast
    h.say(ANN, "it took a whole morning and nobody told me what was going on")
    with h.db.reading() as s:
        row = s.get(Satisfaction, (number, 0))
        assert (row.happy, row.procedure_version) == (False, h.ticket(number).procedure_version)
        assert row.comment == "it took a whole morning and nobody told me what was going on"
    assert {"satisfaction.asked", "satisfaction.given", "satisfaction.commented"} <= set(
        h.actions(number)
    )
    trail = text_of(h.say(LEAD, f"/audit {number}"))
    assert "the reporter said 👎" in trail and "the reporter commented: it took" in trail
    # A reopen alone never asks; resolved again, it asks again.
    h.say(ANN, f"/reopen {number} it is down again")
    assert len([r for r in h.sent if r.kind == "satisfaction"]) == 1
    h.say(BOB, f"/resolve {number}")
    h.say(BOB, "restarted the gateway")
    h.say(BOB, "it was not obvious it had been reopened")
    h.say(BOB, "/skip")
    asks = [r for r in h.sent if r.kind == "satisfaction"]
    assert len(asks) == 2
    out = h.press(ANN, {b.label: b.data for row in asks[1].buttons for b in row}["👍"])
    out = h.press(ANN, buttons_of(out)["No comment"])
    assert "Noted" in text_of(out)
    with h.db.reading() as s:
        assert s.get(Satisfaction, (number, 1)).happy is True
    shown = text_of(h.say(BOB, f"/show {number}"))
    assert "The reporter said: 👎 “it took a whole morning" in shown and "”, then 👍" in shown


def test_a_message_long_after_the_tap_is_not_taken_as_a_comment(h):
    number = open_outage(h)
    work_and_resolve(h, number)
    ask = next(r for r in h.sent if r.kind == "satisfaction")
    h.press(ANN, {b.label: b.data for row in ask.buttons for b in row}["👍"])
    h.tick(hours=2)
    out = h.say(ANN, "the wiki is down too")  # a new report, not a comment on #1
    assert "Noted" not in text_of(out)
    with h.db.reading() as s:
        assert s.get(Satisfaction, (number, 0)).comment is None
    assert "Noted" not in text_of(out) and "What kind of ticket" in text_of(out)


def test_the_person_is_told_once_what_changed_since_they_last_worked_under_the_procedure(h):
    open_outage(h)
    with h.db.reading() as s:
        assert s.scalar(select(LastVersion.version).where(LastVersion.user_id == ANN.user_id))
        assert len(list(s.scalars(select(ProcedureVersion)))) == 1
    changed = OUTAGE_YAML.replace(
        "question: What is down?", "question: Which service is down?"
    ).replace(
        "steps:\n",
        "  - name: region\n    label: Region\n    question: Which region?\n"
        "    required: false\nsteps:\n  - id: announce\n    title: Status page updated\n",
    )
    (h.config.procedures_dir / "outage.yaml").write_text(changed)
    out = h.say(ANN, "/new outage email is down")
    told = text_of(out)
    assert "Outage changed since you last worked on one" in told
    assert "new question: Region" in told
    assert "reworded: Summary" in told
    assert "new step: Status page updated" in told
    assert "summary" not in told.replace("Summary", "")  # labels, never field names
    out = h.say(ANN, "/new outage chat is down")
    assert "changed since you last" not in text_of(out)  # once
    assert "procedure.changes_shown" in h.actions()
    # Someone who never worked under it before is not told anything.
    out = h.say(BOB, "/new outage grafana is down")
    assert "changed since" not in text_of(out)


def test_the_leads_get_a_weekly_digest_of_the_retro_answers_with_their_tickets(h):
    number = open_outage(h, "/new outage the VPN is down")
    h.tick(hours=5)
    work_and_resolve(h, number)
    h.say(BOB, "waiting for the vendor")
    h.say(BOB, "call the vendor first")
    # The same week: nothing owed yet (the digest covers a week that is over).
    report = sweep(h.db, h.config, h.services.procedures, h.now)
    assert report.of_kind("retro") == []
    next_monday = h.now + timedelta(days=7)
    report = sweep(h.db, h.config, h.services.procedures, next_monday.replace(hour=9, minute=5))
    (digest,) = report.of_kind("retro")
    assert digest.chat_id == TEAM_CHAT
    from bot.render import html_to_text

    text = html_to_text(digest.text)
    assert "Retro · Outage" in text
    assert "What slowed it down" in text and "waiting for the vendor" in text
    assert f"#{number}" in text and "late" in text
    assert "call the vendor first" in text
    again = sweep(h.db, h.config, h.services.procedures, next_monday.replace(hour=10))
    assert again.of_kind("retro") == []  # once a week


def test_retro_questions_are_checked_like_fields(tmp_path):
    from bot.procedures.errors import ProcedureInvalid
    from bot.procedures.load import parse_procedure

    bad = OUTAGE_YAML.replace("when: [late, reopened]", "when: [late, sometimes]").replace(
        "- name: proposal", "- name: cause"
    )
    with pytest.raises(ProcedureInvalid) as caught:
        parse_procedure(bad.encode(), procedure_id="outage", path="outage.yaml")
    messages = [p.message for p in caught.value.problems]
    assert any("'sometimes' is not when to ask" in m for m in messages)
    assert any("'cause' is already the name of" in m for m in messages)


def test_a_reporter_who_reads_chinese_is_asked_in_chinese_whoever_resolves(h):
    number = open_outage(h)
    h.say(ANN, "/language zh-CN")
    work_and_resolve(h, number)  # Bob works in English
    (ask,) = [r for r in h.sent if r.kind == "satisfaction"]
    assert "#1（the VPN is down）处理得怎么样？" in ask.text
    out = h.press(ANN, {b.label: b.data for row in ask.buttons for b in row}["👎"])
    assert "还有什么想说的吗" in text_of(out)
    out = h.press(ANN, buttons_of(out)["不用了"])
    assert "收到，谢谢" in text_of(out)
    shown = text_of(h.say(ANN, f"/show {number}"))
    assert "提交人的评价：👎" in shown
