"""Who may approve a step, and what the decisions so far add up to (pure; `now` passed in).

A step with `approval:` is done when `quorum` different approvers approved it, and the ticket is
rejected as soon as one approver rejects it (with a reason). The reporter never approves their
own ticket, even as a lead; each person counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.actors import Actor
from bot.domain.procedure import Approval, Step
from bot.domain.ticket import Refused, Ticket, Why

APPROVE = "approve"
REJECT = "reject"


@dataclass(frozen=True)
class Decision:
    """One approver's decision on one step, in one round (a reopen starts a new round)."""

    approver_id: int
    approver_name: str
    decision: str  # approve, reject
    note: str
    at: datetime


@dataclass(frozen=True)
class Tally:
    approvals: int
    quorum: int
    rejected: Decision | None

    @property
    def approved(self) -> bool:
        return self.rejected is None and self.approvals >= self.quorum

    @property
    def waiting(self) -> int:
        """Approvals still needed."""
        return max(0, self.quorum - self.approvals)


def named(approval: Approval, values: Mapping[str, Any]) -> tuple[set[int], set[str]]:
    """The approvers `approval` names by id and by @username (lower case, without the @);
    `by: leads` names nobody here (the team's leads are asked for by the caller)."""
    ids: set[int] = set()
    usernames: set[str] = set()
    wanted: Iterable[Any] = ()
    if approval.by == "people":
        wanted = approval.people
    elif approval.by == "field" and approval.field is not None:
        value = values.get(approval.field)
        wanted = value if isinstance(value, list | tuple) else ([value] if value else [])
    for who in wanted:
        text = str(who).strip()
        if text.lstrip("-").isdigit():
            ids.add(int(text))
        elif text.startswith("@") and len(text) > 1:
            usernames.add(text[1:].lower())
    return ids, usernames


def is_approver(approval: Approval, actor: Actor, *, lead: bool, values: Mapping[str, Any]) -> bool:
    if approval.by == "leads":
        return lead
    ids, usernames = named(approval, values)
    username = (actor.username or "").lower()
    return actor.user_id in ids or (bool(username) and username in usernames)


def check_may_decide(
    ticket: Ticket,
    step: Step,
    actor: Actor,
    *,
    lead: bool,
    values: Mapping[str, Any],
    decisions: Iterable[Decision],
) -> None:
    """Whether `actor` may decide on `step` now; raises Refused with the reason when not."""
    approval = step.approval
    assert approval is not None
    if not ticket.is_workable:
        raise Refused(Why.NOT_WORKABLE, status=ticket.status)
    if ticket.reporter_id == actor.user_id:
        raise Refused(Why.OWN_TICKET, step=step.title)
    if not is_approver(approval, actor, lead=lead, values=values):
        raise Refused(Why.NOT_APPROVER, step=step.title)
    earlier = next((d for d in decisions if d.approver_id == actor.user_id), None)
    if earlier is not None:
        raise Refused(Why.ALREADY_DECIDED, step=step.title, decision=earlier.decision)


def tally(approval: Approval, decisions: Iterable[Decision]) -> Tally:
    """What the decisions so far add up to (one vote a person, the first rejection counts)."""
    voters: set[int] = set()
    approvals = 0
    rejected = None
    for d in sorted(decisions, key=lambda d: d.at):
        if d.approver_id in voters:
            continue
        voters.add(d.approver_id)
        if d.decision == REJECT and rejected is None:
            rejected = d
        elif d.decision == APPROVE:
            approvals += 1
    return Tally(approvals, approval.quorum, rejected)


def expires_at(approval: Approval, requested_at: datetime) -> datetime | None:
    return requested_at + approval.expires_after if approval.expires_after else None


def is_expired(expires: datetime | None, now: datetime) -> bool:
    return expires is not None and now >= expires


def waited(requested_at: datetime, decided_at: datetime) -> timedelta:
    return max(timedelta(), decided_at - requested_at)
