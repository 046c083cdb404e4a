"""Resolving: the required steps, then the resolution fields, then the article it leaves behind.

The resolution fields are asked through the same gate as intake (`services.intake.advance`
with the resolution phase); their answers wait on the pending question until the round is
complete, so a cancelled round leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from bot.domain.procedure import Procedure
from bot.domain.question import Phase
from bot.domain.ticket import Ticket
from bot.render import render, speaking
from bot.services import knowledge, records, retro, satisfaction
from bot.services.context import Ctx
from bot.services.messages import Reply


def steps_left(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> list[str]:
    """Titles of the required steps not done yet."""
    values = records.values_of(ctx.session, ticket.id)
    done = records.steps_done(ctx.session, ticket.id)
    return [s.title for s in Ticket.steps_left(procedure.steps, values, done)]


def finish(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> None:
    """Every resolution field is answered: store them, resolve, write the article."""
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    collected = dict(pending.payload.answers) if pending else {}
    reasons = pending.payload.retro if pending else ()
    asked_retro = {f.name for f in procedure.retro.fields}
    answers = {k: v for k, v in collected.items() if k not in asked_retro}
    for name, value in answers.items():
        records.set_value(
            ctx.session,
            ticket.id,
            name,
            value,
            phase=Phase.RESOLUTION,
            by=ctx.actor.user_id,
            now=ctx.now,
        )
    retro.store(
        ctx,
        ticket,
        procedure,
        {k: v for k, v in collected.items() if k in asked_retro},
        reasons,
    )
    ctx.moved(ticket, ticket.resolve(ctx.now), procedure)
    records.clear_pending(ctx.session, ticket.id)
    path = _write_article(ctx, ticket, procedure, answers)
    ctx.say("chat/resolved.html", ticket=ticket, path=path)
    if ticket.chat_id != ctx.incoming.chat_id:
        ctx.send(
            Reply(
                chat_id=ticket.chat_id,
                ticket_id=ticket.id,
                kind="notice",
                text=render(
                    "chat/resolved_for_reporter.html",
                    ctx.language_of_chat(ticket.chat_id),
                    ticket=ticket,
                ),
            )
        )
    satisfaction.ask(ctx, ticket)


def _write_article(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, answers: dict[str, Any]
) -> str | None:
    values = {
        k: v for k, v in records.values_of(ctx.session, ticket.id).items() if k not in answers
    }
    steps = sorted(records.steps_done(ctx.session, ticket.id).values(), key=lambda s: s.done_at)
    # An article is the team's: its headings, labels and values in the team's language.
    team = ctx.config.language
    procedure = ctx.procedures.load_or_none(ticket.procedure_id, team) or procedure
    with speaking(team):
        return knowledge.write_article(
            ctx, ticket=ticket, procedure=procedure, values=values, resolution=answers, steps=steps
        )
