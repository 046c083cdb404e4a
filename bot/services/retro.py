"""Retrospectives: the answers to a procedure's `retro:` questions, kept with the ticket (one
row per question and resolve round) and audited; and what the leads' weekly digest reads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import RetroAnswer, Ticket
from bot.domain.procedure import Procedure
from bot.services.context import Ctx


def store(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    answers: dict[str, Any],
    reasons: tuple[str, ...],
) -> None:
    """Keep this round's retrospective answers (a skipped one as None), audited together."""
    if not answers:
        return
    for name, value in answers.items():
        ctx.session.add(
            RetroAnswer(
                ticket_id=ticket.id,
                round=ticket.reopen_count,
                procedure_id=ticket.procedure_id,
                procedure_version=procedure.version,
                name=name,
                value=value,
                reasons=list(reasons),
                answered_by_id=ctx.actor.user_id,
                answered_at=ctx.now,
            )
        )
    ctx.audit(
        "retro.answered",
        ticket_id=ticket.id,
        details={"answers": answers, "reasons": list(reasons), "round": ticket.reopen_count},
        procedure=procedure,
    )


@dataclass(frozen=True)
class Given:
    """One answer in a digest, with the ticket it came from."""

    ticket_id: int
    title: str
    value: Any
    reasons: tuple[str, ...]


def week_of_answers(
    session: Session, since: datetime, until: datetime
) -> dict[str, dict[str, list[Given]]]:
    """Answers given in [since, until): procedure -> question name -> answers, oldest first;
    skipped questions left out."""
    rows = session.execute(
        select(RetroAnswer, Ticket.title)
        .join(Ticket, Ticket.id == RetroAnswer.ticket_id)
        .where(
            RetroAnswer.answered_at >= since,
            RetroAnswer.answered_at < until,
            RetroAnswer.value.is_not(None),
        )
        .order_by(RetroAnswer.procedure_id, RetroAnswer.answered_at, RetroAnswer.id)
    )
    found: dict[str, dict[str, list[Given]]] = defaultdict(lambda: defaultdict(list))
    for answer, title in rows:
        found[answer.procedure_id][answer.name].append(
            Given(answer.ticket_id, title, answer.value, tuple(answer.reasons or ()))
        )
    return {pid: dict(by_name) for pid, by_name in found.items()}


def of_ticket(session: Session, ticket_id: int) -> list[RetroAnswer]:
    """A ticket's retro answers, every resolve round, in the order they were kept."""
    return list(
        session.scalars(
            select(RetroAnswer)
            .where(RetroAnswer.ticket_id == ticket_id)
            .order_by(RetroAnswer.round, RetroAnswer.id)
        )
    )
