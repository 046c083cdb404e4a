"""Compare a procedure's versions (`sopbot stats --compare-versions`, `/stats compare`): one row
per opened ticket of the procedure, its satisfaction taps and its decided approvals, read here
and handed to `bot.domain.comparison`, which does the figures and the bootstrap."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import ApprovalRequest, Satisfaction, Ticket
from bot.domain.comparison import Comparison, TicketFacts, VersionSample, compare


def versions(session: Session, procedure_id: str) -> Comparison:
    """Every version `procedure_id`'s tickets opened under, oldest first, and the difference
    between the last two."""
    t = Ticket
    samples: dict[str, VersionSample] = {}
    rows = session.execute(
        select(
            t.procedure_version,
            t.opened_at,
            t.status,
            t.close_reason,
            t.resolved_at,
            t.closed_at,
            t.reopen_count,
            t.questions_asked,
        ).where(t.procedure_id == procedure_id, t.opened_at.is_not(None))
    )
    for version, opened, status, reason, resolved_at, closed_at, reopens, questions in rows:
        sample = samples.get(version)
        if sample is None:
            sample = samples[version] = VersionSample(version, opened)
        sample.first_used = min(sample.first_used, opened)
        # As in `stats`: resolved, or closed as done; timed to the resolve (else the close).
        resolved = status == "resolved" or (status == "closed" and (reason or "done") == "done")
        end = resolved_at or closed_at
        seconds = max((end - opened).total_seconds(), 0.0) if resolved and end else None
        sample.tickets.append(TicketFacts(seconds, reopens > 0, questions or 0))
    taps = session.execute(
        select(Satisfaction.procedure_version, Satisfaction.happy).where(
            Satisfaction.procedure_id == procedure_id, Satisfaction.happy.is_not(None)
        )
    )
    for version, happy in taps:
        if version in samples:
            samples[version].satisfaction.append(bool(happy))
    decided = session.execute(
        select(
            ApprovalRequest.procedure_version,
            ApprovalRequest.requested_at,
            ApprovalRequest.decided_at,
        )
        .join(t, t.id == ApprovalRequest.ticket_id)
        .where(t.procedure_id == procedure_id, ApprovalRequest.decided_at.is_not(None))
    )
    for version, asked, answered in decided:
        if version in samples:
            samples[version].approval_seconds.append(max((answered - asked).total_seconds(), 0.0))
    return compare(procedure_id, list(samples.values()))
