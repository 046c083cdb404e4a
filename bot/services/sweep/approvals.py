"""Approvals waiting: approvers reminded on the procedure's cadence (one message each, naming
every ticket that waits for them), and at expiry the leads told and the ticket escalated. Owed
through the outbox in one transaction, like the digests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import ApprovalRequest
from bot.domain import reminders as rules
from bot.domain.actors import SYSTEM
from bot.domain.procedure import Procedure, Step
from bot.domain.ticket import Ticket
from bot.render import render, speaking
from bot.services import audit, outbox, records
from bot.services.approvals import approvers_of, decision_buttons, reachable
from bot.services.database import Database
from bot.services.languages import chat_language
from bot.services.messages import Button, Reply
from bot.services.sweep import queries
from bot.services.sweep.escalation import targets
from bot.services.sweep.report import ProcedureSource, Sent, SweepReport

LIMIT = 2_000  # approval requests looked at in one sweep
BUTTONS = 15  # tickets with buttons in one reminder (Telegram allows 100 buttons)

Waiting = tuple[Ticket, int, Step]  # a ticket, its approval step's place, the step


def chase_approvals(
    db: Database,
    config: Config,
    procedures: ProcedureSource | None,
    cadence_for: Callable[[str], rules.Cadence],
    now: datetime,
    dry_run: bool,
    report: SweepReport,
) -> None:
    """Remind approvers of what waits for them and expire what ran out of time."""
    if procedures is None:
        return
    with queries.unit(db, dry_run) as session:
        waiting: dict[int, list[Waiting]] = {}
        expired: list[Ticket] = []
        for req in _due(session, now, lock=not dry_run):
            found = _open_step(session, procedures, req)
            if found is None:
                if not dry_run:
                    req.decided_at, req.outcome = now, "dropped"  # nothing left to decide
                continue
            ticket, procedure, step = found
            if req.expires_at is not None and req.expires_at <= now and req.expired_at is None:
                expired.append(ticket)
                if not dry_run:
                    req.expired_at = now
                    ticket.escalation_level += 1
                    _audit_expiry(session, ticket, req, now)
            if req.remind_at is not None and req.remind_at <= now:
                values = records.values_of(session, ticket.id)
                for a in approvers_of(session, config, ticket, step, values):
                    if reachable(session, a) and a.user_id is not None:
                        waiting.setdefault(a.user_id, []).append(
                            (ticket, procedure.steps.index(step), step)
                        )
                if not dry_run:
                    req.remind_at = now + cadence_for(ticket.procedure_id).remind_every
        replies = [
            _reminder(chat_language(session, config, user_id), user_id, items, report)
            for user_id, items in waiting.items()
        ]
        if expired:
            for chat in targets(config):
                text = render(
                    "reminders/approvals_expired.html",
                    chat_language(session, config, chat),
                    tickets=expired,
                )
                replies.append(Reply(chat_id=chat, text=text, kind="escalation"))
                report.sent.append(Sent(chat, "escalation", tuple(t.id for t in expired), text))
            report.escalated += len(expired)
        if replies and not dry_run:
            outbox.owe(session, replies, now)


def _due(session: Session, now: datetime, *, lock: bool) -> list[ApprovalRequest]:
    query = (
        select(ApprovalRequest)
        .where(
            ApprovalRequest.decided_at.is_(None),
            or_(
                ApprovalRequest.remind_at <= now,
                and_(ApprovalRequest.expires_at <= now, ApprovalRequest.expired_at.is_(None)),
            ),
        )
        .order_by(ApprovalRequest.requested_at)
        .limit(LIMIT)
    )
    return list(session.scalars(queries.locked(query, lock)))


def _open_step(
    session: Session, procedures: ProcedureSource, req: ApprovalRequest
) -> tuple[Ticket, Procedure, Step] | None:
    """The ticket and its approval step, while it can still be decided."""
    ticket = session.get(Ticket, req.ticket_id)
    if ticket is None or not ticket.is_workable or ticket.reopen_count != req.round:
        return None
    try:
        procedure = procedures.load(ticket.procedure_id)
    except Exception:  # a broken procedure: its ticket is still chased by the digests
        return None
    step = next((s for s in procedure.steps if s.id == req.step_id), None)
    if step is None or step.approval is None:
        return None
    return ticket, procedure, step


def _audit_expiry(session: Session, ticket: Ticket, req: ApprovalRequest, now: datetime) -> None:
    audit.record(
        session,
        now=now,
        actor=SYSTEM,
        action="approval.expired",
        ticket_id=ticket.id,
        details={"step": req.step_id, "requested_at": req.requested_at.isoformat()},
        procedure_id=ticket.procedure_id,
        procedure_version=ticket.procedure_version,
    )


def _reminder(language: str, user_id: int, items: list[Waiting], report: SweepReport) -> Reply:
    """One message to one approver, in their language: how many tickets wait for them, with
    buttons for each."""
    with speaking(language):
        text = render("reminders/approvals.html", items=[(t, s) for t, _, s in items])
        buttons: tuple[tuple[Button, ...], ...] = tuple(
            row for t, index, step in items[:BUTTONS] for row in decision_buttons(t, index, step)
        )
    report.sent.append(Sent(user_id, "approval", tuple(t.id for t, _, _ in items), text))
    return Reply(chat_id=user_id, text=text, buttons=buttons, kind="approval")
