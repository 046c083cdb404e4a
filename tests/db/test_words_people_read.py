"""A guard over every shipped procedure: what people read never shows internals.

Each procedure is taken from `/new` to closed through the engine, with a wrong answer before
each right one, a change from the summary, `/set`, the checklist, resolving, `/show` and
`/audit`. Every text a person reads (messages, buttons, toasts) is collected, and none may show
a field's internal name, a field's regex, a person's Telegram id or an ISO timestamp.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import ChatConfig, Config, DatabaseConfig
from bot.db.models import PendingQuestion, Ticket
from bot.domain.actors import Actor
from bot.domain.procedure import FieldSpec, Procedure
from bot.domain.question import Kind
from bot.procedures import ProcedureStore
from bot.render import html_to_text
from bot.services.messages import IncomingFile, Outcome
from tests.helpers.engine import Harness

SHIPPED = Path(__file__).resolve().parents[2] / "procedures"
STORE = ProcedureStore(SHIPPED, label="procedures")
# Real-looking Telegram ids, so a bare id in a text cannot hide among ticket numbers.
LEAD = Actor(13665735, "Lena Lead", "lena")
ANN = Actor(20481234, "Ann Member", None)  # no @username: people read her name
TEAM_CHAT = -1001234567890
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}(:\d{2})?[+-]\d{2}:\d{2}")
FIRST_WORDS = {
    "access-request": "I need read access to grafana for the on-call dashboards",
    "bug-report": "Export to CSV drops the last row",
    "change-request": "Upgrade the primary PostgreSQL cluster to 16",
    "deploy-troubleshooting": "the deploy fails with redirect_uri_mismatch after the move",
    "incident": "checkout returns 500 for everyone",
}


class Reader:
    """Drives one ticket and keeps every text a person read."""

    def __init__(self, h: Harness, procedure: Procedure):
        self.h = h
        self.procedure = procedure
        self.read: list[str] = []

    def say(self, who: Actor, text: str, **where) -> Outcome:
        return self._keep(self.h.say(who, text, **where))

    def press(self, who: Actor, data: str) -> Outcome:
        return self._keep(self.h.press(who, data))

    def _keep(self, outcome: Outcome) -> Outcome:
        for reply in outcome.replies:
            self.read.append(html_to_text(reply.text))
            self.read.extend(b.label for row in reply.buttons for b in row)
        if outcome.toast:
            self.read.append(outcome.toast)
        return outcome

    def pending(self, number: int) -> PendingQuestion | None:
        with self.h.db.reading() as s:
            return s.scalar(select(PendingQuestion).where(PendingQuestion.ticket_id == number))

    def answer_everything(self, who: Actor, number: int, *, change_once: bool) -> None:
        """Answer each question, wrongly first where a wrong answer exists; confirm."""
        for _ in range(60):
            pending = self.pending(number)
            if pending is None:
                return
            if pending.kind == Kind.CONFIRM:
                if change_once:
                    change_once = False
                    self.say(who, "no")
                    spec = self.procedure.fields[0]
                    self.say(who, spec.label)  # typed, as the list says
                    continue
                self.say(who, "yes")
                continue
            spec = self.procedure.field(pending.field_name or "")
            assert spec is not None, pending.field_name
            if spec.type == "file":
                self.say(who, "it is on my desktop")  # words never answer a file field
                self._keep(self.h.say(who, "", files=(a_file(spec),)))
                continue
            wrong = wrong_answer(spec)
            if wrong is not None:
                self.say(who, wrong)
            self.say(who, right_answer(spec))
        raise AssertionError("the questions never ended")

    def buttons(self, outcome: Outcome) -> dict[str, str]:
        return {b.label: b.data for r in outcome.replies for row in r.buttons for b in row}


def a_file(spec: FieldSpec) -> IncomingFile:
    """A file the field takes, as the adapter hands it over (its bytes already stored)."""
    image = "image" in spec.accept
    return IncomingFile(
        kind="photo" if image else "document",
        file_id=f"file-of-{spec.name}",
        file_unique_id=f"u-{spec.name}",
        file_name=None if image else "deploy_output.log",
        mime_type="image/jpeg" if image else "text/plain",
        size=2048,
        sha256="ab" * 32,
    )


def right_answer(spec: FieldSpec) -> str:
    if spec.type == "person":
        return "@lena"  # the lead approves what names a person as approver
    if spec.example is not None:
        return str(spec.example)
    return {
        "choice": spec.choices[0] if spec.choices else "",
        "boolean": "yes",
        "datetime": "now",
        "duration": "2h",
        "url": "https://example.com/dashboards/42",
        "user": "@lena",
        "integer": "3",
        "number": "3.5",
        "date": "2026-12-24",
        "email": "ann@example.com",
    }.get(spec.type, "It is described here in enough words to pass any length check.")


def wrong_answer(spec: FieldSpec) -> str | None:
    if spec.pattern is not None:
        return "CHG-12" if spec.example and str(spec.example).startswith("CHG") else "x y z"
    if spec.type == "duration" and spec.max is not None:
        return "3d"
    if spec.type == "datetime":
        return "tomorrowish"
    if spec.type == "choice":
        return "something else"
    if spec.min_length:
        return "x"
    return None


def run_through(h: Harness, procedure: Procedure) -> Reader:
    """One ticket of `procedure` from /new to closed, reading everything on the way."""
    r = Reader(h, procedure)
    command = procedure.triggers.command
    r.say(ANN, f"/new {command} {FIRST_WORDS[procedure.id]}")
    with h.db.reading() as s:
        number = s.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    r.answer_everything(ANN, number, change_once=True)
    assert h.ticket(number).status == "open"

    editable = next(s for s in procedure.fields if s.type == "text")
    r.say(ANN, f"/show {number}")
    r.say(ANN, f"/set {number} {editable.name} x")
    r.say(ANN, f"/set {number} {editable.label} {right_answer(editable)}")
    r.say(ANN, f"/set {number} no_such_field 1")
    r.say(LEAD, f"/assign {number} @lena", chat=TEAM_CHAT)
    r.say(LEAD, f"/resolve {number}")  # steps left: refused in words
    for step in procedure.steps:
        if step.approval is not None:
            r.say(ANN, f"/approve {number}")  # the reporter never approves: refused in words
            r.say(LEAD, f"/approve {number} looks right")

    for _ in range(len(procedure.steps) + 1):
        checklist = r.say(LEAD, f"/steps {number}")
        left = [d for label, d in r.buttons(checklist).items() if label.startswith("Done")]
        if not left:
            break
        r.press(LEAD, left[0])
    r.say(LEAD, f"/show {number}")
    h.tick(days=3)  # past every shipped due time: a procedure's retro questions are asked
    r.say(LEAD, f"/resolve {number}")
    r.answer_everything(LEAD, number, change_once=False)
    assert h.ticket(number).status == "resolved"
    tap = next(reply for reply in reversed(h.sent) if reply.kind == "satisfaction")
    r.read.append(html_to_text(tap.text))
    thanks = r.press(ANN, {b.label: b.data for row in tap.buttons for b in row}["👎"])
    r.press(ANN, r.buttons(thanks)["No comment"])
    r.say(ANN, f"/close {number}")
    shown = r.say(ANN, f"/show {number}")
    said = "\n".join(html_to_text(reply.text) for reply in shown.replies)
    assert "Assign to me" not in r.buttons(shown)
    assert "due in" not in said and "overdue" not in said

    page = r.say(LEAD, f"/audit {number}")
    for _ in range(50):
        later = {label: d for label, d in r.buttons(page).items() if "Later" in label}
        if not later:
            break
        page = r.press(LEAD, next(iter(later.values())))
    return r


@pytest.fixture
def h(database_url, tmp_path, now):
    config = Config(
        database=DatabaseConfig(url=database_url, auto_migrate=False),
        procedures_dir=SHIPPED,
        knowledge_dir=tmp_path / "knowledge",
        timezone="Europe/Berlin",
        leads=frozenset({LEAD.user_id}),
        members=frozenset({ANN.user_id}),
        chats=(ChatConfig(TEAM_CHAT, "Team"),),
    )
    harness = Harness(config, now)
    # Lena has written to the bot before, so /assign @lena knows her.
    harness.say(LEAD, "/help")
    yield harness
    harness.close()


@pytest.mark.parametrize("procedure_id", STORE.ids())
def test_people_read_labels_names_and_times_never_internals(h, procedure_id):
    procedure = STORE.load(procedure_id)
    read = "\n".join(run_through(h, procedure).read)
    specs = procedure.all_fields
    for spec in procedure.retro.fields:  # late, so asked
        assert spec.question in read
    for spec in specs:
        if "_" in spec.name:
            assert spec.name not in read, f"the field name {spec.name} is shown"
        if spec.pattern is not None:
            assert spec.pattern not in read, f"the regex of {spec.name} is shown"
    for person in (LEAD, ANN):
        assert str(person.user_id) not in read, f"{person.name}'s Telegram id is shown"
    assert not ISO_MOMENT.search(read), ISO_MOMENT.search(read)
    for seconds in ("259200", "86400"):
        assert seconds not in read


def said(outcome: Outcome) -> str:
    return "\n".join(html_to_text(r.text) for r in outcome.replies)


def test_a_bug_report_takes_its_summary_from_the_text_after_new(h):
    out = h.say(ANN, "/new bug Export to CSV drops the last row")
    assert "In one line" not in said(out) and "Which product, service or page" in said(out)
    # Too short to be a summary: asked for, as before.
    out = h.say(ANN, "/new bug export")
    assert "In one line, what is wrong?" in said(out)


def test_an_incident_asks_four_things_and_takes_now_as_its_start(h):
    asked = [said(h.say(ANN, "/new incident checkout returns 500 for everyone"))]
    for answer in ("high", "checkout-api", "Checkout returns HTTP 500 for everyone"):
        asked.append(said(h.say(ANN, answer)))
    assert "When did it start?" in asked[-1]
    summary = said(h.say(ANN, "now"))
    assert "please check before I open it" in summary
    assert "Started: Mon 2 Mar, 10:00" in summary  # now, in Europe/Berlin
    assert len(asked) == 4


def test_set_takes_a_field_by_its_name_or_its_label_and_answers_with_the_label(h):
    procedure = STORE.load("bug-report")
    r = Reader(h, procedure)
    r.say(ANN, "/new bug Export to CSV drops the last row")
    r.answer_everything(ANN, 1, change_once=False)
    out = h.say(ANN, "/set 1 steps to reproduce 1. open the report 2. press export now")
    assert "Steps to reproduce changed from" in said(out)
    out = h.say(ANN, "/set 1 steps_to_reproduce short")
    assert "Steps to reproduce not changed: That is 5 characters" in said(out)
