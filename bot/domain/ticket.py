"""The Ticket and every rule it obeys: its lifecycle, its SLA clock, when it is chased, who may
do what to it.

One module on purpose: a newcomer who wants to change how a ticket behaves reads this file and
nothing else. Services load a ticket, ask it to change (it refuses with a `Refusal`: a code and
its data, never a sentence), save it and say what happened; templates put refusals into words.

The class is plain Python. `bot.db.models` maps it onto the `tickets` table (imperative mapping),
so this file knows nothing of the database, and unit tests build tickets without one. `now` is
always passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.domain import lifecycle
from bot.domain.actors import Actor
from bot.domain.lifecycle import (
    CANCELLED,
    CLOSED,
    IN_PROGRESS,
    OPEN,
    REJECTED,
    REOPENED,
    RESOLVED,
    WAITING,
)
from bot.domain.procedure import Step
from bot.domain.text import shorten, without_direction_controls

TITLE_LENGTH = 120

# Which status a ticket may move to from each status; every path (chat, button, CLI) obeys it.
_MOVES: dict[str, set[str]] = {
    # CLOSED: a draft the knowledge base solved; IN_PROGRESS/REOPENED: an opened ticket that
    # had to wait for information again (its procedure changed) goes back to where it was.
    WAITING: {OPEN, IN_PROGRESS, REOPENED, CANCELLED, CLOSED},
    OPEN: {IN_PROGRESS, RESOLVED, CLOSED, WAITING, REJECTED},
    IN_PROGRESS: {RESOLVED, CLOSED, WAITING, OPEN, REJECTED},
    REOPENED: {IN_PROGRESS, RESOLVED, CLOSED, WAITING, REJECTED},
    RESOLVED: {CLOSED, REOPENED},
    CLOSED: {REOPENED},
    CANCELLED: set(),
    REJECTED: {REOPENED},  # by a lead, with a reason
}


class TransitionError(Exception):
    """A status change the lifecycle does not allow: from `current` to `target` (codes);
    `bot/templates/words/transition.txt` says it in words."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(current, target)
        self.current = current
        self.target = target

    def __str__(self) -> str:  # for logs and tracebacks, which are read by developers
        return f"{self.current} -> {self.target} is not allowed"


def check_transition(current: str, target: str) -> None:
    if target not in _MOVES.get(current, set()):
        raise TransitionError(current, target)


class Why(StrEnum):
    """Why a ticket refused a change; each code has its words in `words/refusal.txt`."""

    NOT_WORKABLE = "not_workable"  # data: status
    FINISHED = "finished"  # data: status
    CANNOT_RESOLVE = "cannot_resolve"  # data: status
    CANNOT_REOPEN = "cannot_reopen"  # data: status
    CANNOT_CLOSE = "cannot_close"  # data: status
    CANNOT_CANCEL = "cannot_cancel"  # data: status
    NOT_REPORTER = "not_reporter"  # data: action
    LEADS_ONLY_STEP = "leads_only_step"  # data: step
    STEP_NEEDS = "step_needs"  # data: step, fields (labels)
    STEP_DONE = "step_done"  # data: step
    STEPS_LEFT = "steps_left"  # data: steps (titles)
    NO_SUCH_FIELD = "no_such_field"  # data: name, fields (names a person may type)
    NEEDS_APPROVAL = "needs_approval"  # data: step, quorum: approved by decisions, not ticked
    STEP_WAITS = "step_waits"  # data: step, steps (titles of the steps it comes after)
    NOT_APPROVER = "not_approver"  # data: step
    OWN_TICKET = "own_ticket"  # data: step: the reporter never approves their own ticket
    ALREADY_DECIDED = "already_decided"  # data: step, decision
    NEEDS_REASON = "needs_reason"  # data: -: a rejection needs a reason
    LEADS_ONLY_REOPEN = "leads_only_reopen"  # data: status: a rejected ticket, by a lead
    UNKNOWN_PERSON = "unknown_person"  # data: who


@dataclass(frozen=True)
class Refusal:
    """A change the ticket will not make, and the facts the words need."""

    why: Why
    data: Mapping[str, Any] = field(default_factory=dict)


class Refused(Exception):
    """Raised by a ticket that refuses a change; nothing about the ticket changed."""

    def __init__(self, why: Why, **data: Any) -> None:
        super().__init__(why.value)
        self.refusal = Refusal(why, data)


@dataclass(frozen=True)
class Moved:
    """A status change, for the audit trail: from, to, and why when there is a reason."""

    old: str
    new: str
    reason: str | None = None


@dataclass(eq=False, kw_only=True)
class Ticket:
    """A ticket. Its attributes are its stored columns; its methods are its rules."""

    # The ticket number people use: 1, 2, 3 without gaps (from the `ticket` counter).
    id: int
    procedure_id: str
    procedure_version: str
    title: str
    description: str = ""
    status: str = lifecycle.WAITING
    # How a finished ticket ended: done, withdrawn, cancelled, self_served.
    close_reason: str | None = None
    reporter_id: int
    reporter_name: str
    chat_id: int
    chat_type: str
    message_id: int | None = None
    thread_id: int | None = None
    # The group chat where the ticket is announced and chased (its own group, or the default).
    home_chat_id: int | None = None
    assignee_id: int | None = None
    assignee_name: str | None = None
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None = None
    due_at: datetime | None = None
    # Set while an opened ticket waits for info again: the SLA clock is stopped from then.
    paused_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    questions_asked: int = 0
    invalid_answers: int = 0
    # The next moment the overdue sweep must look at this ticket (None: never).
    chase_at: datetime | None = None
    last_reminded_at: datetime | None = None
    remind_count: int = 0
    escalation_level: int = 0
    snoozed_until: datetime | None = None
    acknowledged_at: datetime | None = None

    # --- starting ---------------------------------------------------------------------------

    @classmethod
    def draft(
        cls,
        *,
        number: int,
        procedure_id: str,
        procedure_version: str,
        procedure_title: str,
        text: str,
        reporter: Actor,
        chat_id: int,
        chat_type: str,
        message_id: int | None,
        thread_id: int | None,
        home_chat_id: int | None,
        now: datetime,
    ) -> Ticket:
        """A new ticket waiting for information; titled by the first line of what was said."""
        # A title is shown inside other text (lists, digests): it may not turn that around.
        clean = without_direction_controls(text)
        first_line = next((line.strip() for line in clean.splitlines() if line.strip()), "")
        return cls(
            id=number,
            procedure_id=procedure_id,
            procedure_version=procedure_version,
            title=shorten(first_line, TITLE_LENGTH) if first_line else procedure_title,
            description=text,
            reporter_id=reporter.user_id or 0,
            reporter_name=reporter.name,
            chat_id=chat_id,
            chat_type=chat_type,
            message_id=message_id,
            thread_id=thread_id,
            home_chat_id=home_chat_id,
            created_at=now,
            updated_at=now,
        )

    # --- what it is -------------------------------------------------------------------------

    @property
    def is_draft(self) -> bool:
        """Never opened: still being filled in by its reporter."""
        return self.opened_at is None

    @property
    def is_workable(self) -> bool:
        """Steps, assignment and resolving may happen."""
        return self.status in lifecycle.WORKABLE

    @property
    def is_active(self) -> bool:
        """Work is still owed: listed by /open, chased when late."""
        return self.status in lifecycle.ACTIVE

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def due_in(self, now: datetime) -> timedelta | None:
        """Time left until due (negative when overdue); None without a due time."""
        return None if self.due_at is None else self.due_at - now

    def is_overdue(self, now: datetime) -> bool:
        return (
            self.due_at is not None and self.due_at < now and self.is_active and not self.is_paused
        )

    # --- who may do what --------------------------------------------------------------------

    def check_may_edit(self) -> None:
        """A finished ticket's fields are history: closed and cancelled tickets are not edited."""
        if self.status in (lifecycle.CLOSED, lifecycle.CANCELLED):
            raise Refused(Why.FINISHED, status=self.status)

    def check_may_cancel(self, actor: Actor, *, lead: bool) -> None:
        if self.reporter_id != actor.user_id and not lead:
            raise Refused(Why.NOT_REPORTER, action="cancel")

    def check_may_resolve(self) -> None:
        if not self.is_workable:
            raise Refused(Why.CANNOT_RESOLVE, status=self.status)

    def check_may_reopen(self, *, lead: bool = False) -> None:
        if self.status == lifecycle.REJECTED:
            if not lead:
                raise Refused(Why.LEADS_ONLY_REOPEN, status=self.status)
            return
        if self.status not in (lifecycle.RESOLVED, lifecycle.CLOSED) or self.is_draft:
            raise Refused(Why.CANNOT_REOPEN, status=self.status)

    def check_may_close(self, *, lead: bool) -> None:
        """A resolved ticket may be closed; one never resolved only by a lead."""
        if self.status != lifecycle.RESOLVED and not (lead and self.is_workable):
            raise Refused(Why.CANNOT_CLOSE, status=self.status)

    def check_step(
        self,
        step: Step,
        *,
        lead: bool,
        values: Mapping[str, Any],
        done: Collection[str],
        labels: Mapping[str, str],
        titles: Mapping[str, str] | None = None,
    ) -> None:
        """Whether `step` may be marked done now: workable, not an approval (decided by its
        approvers), the step's role, its `requires` (fields, and steps it comes after)."""
        titles = titles or {}
        if not self.is_workable:
            raise Refused(Why.NOT_WORKABLE, status=self.status)
        if step.id in done:
            raise Refused(Why.STEP_DONE, step=step.title)
        if step.approval is not None:
            raise Refused(Why.NEEDS_APPROVAL, step=step.title, quorum=step.approval.quorum)
        if step.role == "lead" and not lead:
            raise Refused(Why.LEADS_ONLY_STEP, step=step.title)
        missing = [labels.get(name, name) for name in step.requires if values.get(name) is None]
        if missing:
            raise Refused(Why.STEP_NEEDS, step=step.title, fields=missing)
        self.check_after(step, done=done, titles=titles)

    @staticmethod
    def check_after(step: Step, *, done: Collection[str], titles: Mapping[str, str]) -> None:
        """The steps `step` comes after (an approval, say) must be done first."""
        waiting = [titles.get(s, s) for s in step.after if s not in done]
        if waiting:
            raise Refused(Why.STEP_WAITS, step=step.title, steps=waiting)

    @staticmethod
    def steps_left(
        steps: tuple[Step, ...], values: Mapping[str, Any], done: Collection[str]
    ) -> list[Step]:
        """Required steps that apply to these values and are not done yet."""
        return [s for s in steps if not s.optional and s.applies(values) and s.id not in done]

    # --- changes ----------------------------------------------------------------------------

    def touch(self, now: datetime) -> None:
        """Something about the ticket changed (an answer, a comment, a field)."""
        self.updated_at = now

    def open(self, *, procedure_version: str, due_after: timedelta | None, now: datetime) -> Moved:
        """The reporter confirmed a complete draft: the SLA clock starts."""
        moved = self._move(lifecycle.OPEN, now)
        self.opened_at = now
        self.procedure_version = procedure_version
        self.due_at = now + due_after if due_after else None
        self._chase_from_due()
        return moved

    def pause_for_info(self, now: datetime) -> tuple[Moved, str]:
        """The procedure now wants more: wait for it with the SLA clock stopped. Returns the
        move and the status to come back to."""
        back_to = self.status
        moved = self._move(lifecycle.WAITING, now, "info_needed")
        self.paused_at = now
        self._chase_from_due()
        return moved, back_to

    def resume(self, back_to: str | None, now: datetime) -> Moved | None:
        """The missing information arrived: the SLA clock goes on where it stopped."""
        moved = None
        if self.status == lifecycle.WAITING:
            moved = self._move(back_to or lifecycle.OPEN, now, "info_complete")
        if self.paused_at is not None and self.due_at is not None:
            self.due_at = self.due_at + (now - self.paused_at)
        self.paused_at = None
        self._chase_from_due()
        return moved

    def assign(self, user_id: int, name: str, now: datetime) -> Moved | None:
        """Someone takes the ticket; an untouched ticket is then in progress."""
        if not self.is_workable:
            raise Refused(Why.NOT_WORKABLE, status=self.status)
        self.assignee_id, self.assignee_name = user_id, name
        self.touch(now)
        if self.status in (lifecycle.OPEN, lifecycle.REOPENED):
            return self._move(lifecycle.IN_PROGRESS, now, "assigned")
        return None

    def step_done(self, now: datetime) -> Moved | None:
        """A step of the checklist was done: work has started."""
        self.touch(now)
        if self.status in (lifecycle.OPEN, lifecycle.REOPENED):
            return self._move(lifecycle.IN_PROGRESS, now, "work_started")
        return None

    def resolve(self, now: datetime) -> Moved:
        """Every required step is done and the resolution fields are answered."""
        self.check_may_resolve()
        moved = self._move(lifecycle.RESOLVED, now)
        self.resolved_at = now
        self._chase_from_due()
        return moved

    def close(self, *, lead: bool, now: datetime) -> Moved:
        self.check_may_close(lead=lead)
        was_resolved = self.status == lifecycle.RESOLVED
        moved = self._move(lifecycle.CLOSED, now)
        self.closed_at = now
        self.close_reason = "done" if was_resolved else "withdrawn"
        self._chase_from_due()
        return moved

    def reject(self, now: datetime) -> Moved:
        """An approver said no: final, unless a lead reopens it."""
        if not self.is_workable:
            raise Refused(Why.NOT_WORKABLE, status=self.status)
        moved = self._move(lifecycle.REJECTED, now, "rejected")
        self.close_reason = "rejected"
        self.closed_at = now
        self._chase_from_due()
        return moved

    def reopen(
        self, *, due_after: timedelta | None, reason: str, now: datetime, lead: bool = False
    ) -> Moved:
        """Rework: counted in the metrics; the SLA clock and the chasing start again. A
        rejected ticket is reopened only by a lead (its approvals start again)."""
        self.check_may_reopen(lead=lead)
        moved = self._move(lifecycle.REOPENED, now, reason)
        self.reopen_count += 1
        self.closed_at = None
        self.close_reason = None
        self.due_at = now + due_after if due_after else None
        self.remind_count = 0
        self.escalation_level = 0
        self._chase_from_due()
        return moved

    def cancel(self, now: datetime) -> Moved:
        """A draft withdrawn by its reporter (nothing is deleted)."""
        if not (self.is_draft and self.status == lifecycle.WAITING):
            raise Refused(Why.CANNOT_CANCEL, status=self.status)
        moved = self._move(lifecycle.CANCELLED, now, "cancelled_by_reporter")
        self.close_reason = "cancelled"
        self.closed_at = now
        return moved

    def self_served(self, now: datetime) -> Moved:
        """The knowledge base answered the draft: it closes without work."""
        moved = self._move(lifecycle.CLOSED, now, "self_served")
        self.close_reason = "self_served"
        self.closed_at = now
        self._chase_from_due()
        return moved

    # --- chasing ----------------------------------------------------------------------------

    def snooze(self, until: datetime) -> None:
        """No reminder before `until` (a snooze is not progress)."""
        self.snoozed_until = until
        if self.chase_at is not None:
            self.chase_at = max(self.chase_at, until)

    def acknowledge(self, now: datetime) -> None:
        """Someone said they are on it: progress, so no escalation for what came before."""
        self.acknowledged_at = now

    def _chase_from_due(self) -> None:
        """Chase when due, never while paused, resolved or closed. The sweep moves `chase_at`
        on from there (see `bot.domain.reminders`)."""
        self.chase_at = self.due_at if is_chased(self) else None

    def _move(self, target: str, now: datetime, reason: str | None = None) -> Moved:
        check_transition(self.status, target)
        moved = Moved(self.status, target, reason)
        self.status = target
        self.touch(now)
        return moved


class Chaseable(Protocol):
    """What the chasing rules read of a ticket (the sweep and the daily plan pass the same)."""

    status: str
    paused_at: datetime | None
    due_at: datetime | None


def is_chased(t: Chaseable) -> bool:
    """Chased at all: work is still owed and its SLA clock is running (not paused)."""
    return t.status in lifecycle.ACTIVE and t.paused_at is None


def is_overdue(t: Chaseable, now: datetime) -> bool:
    """Chased and past its due time."""
    return is_chased(t) and t.due_at is not None and now > t.due_at
