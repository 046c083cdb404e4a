"""Looking at tickets: /mine, /open, /show N and the "Show" button."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import or_, select

from bot.db.models import Comment
from bot.domain import lifecycle
from bot.domain.text import readable
from bot.domain.ticket import Ticket
from bot.services import approvals, asking, attachments, records, retro, satisfaction, tickets
from bot.services import buttons as data
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Button, Outcome
from bot.words import display, due_words, field_label, field_value

LIST_LIMIT = 30
_NUMBER = re.compile(r"^#?(\d{1,9})$")


def install(registry: Registry) -> None:
    registry.command("mine", mine)
    registry.command("open", open_tickets)
    registry.command("show", show)
    registry.button(data.ShowTicket, viewing(render_ticket))


def mine(ctx: Ctx, args: str) -> None:
    """Tickets the person reported or is assigned, still active."""
    uid = ctx.actor.user_id
    rows = (
        ctx.session.execute(
            select(Ticket)
            .where(Ticket.status.in_(lifecycle.ACTIVE))
            .where(or_(Ticket.reporter_id == uid, Ticket.assignee_id == uid))
            .order_by(Ticket.id.desc())
            .limit(LIST_LIMIT)
        )
        .scalars()
        .all()
    )
    ctx.say("chat/list.html", which="mine", tickets=rows, now=ctx.now)


def open_tickets(ctx: Ctx, args: str) -> None:
    """Active tickets; in a team chat only that chat's."""
    query = select(Ticket).where(Ticket.status.in_(lifecycle.ACTIVE))
    if not ctx.incoming.is_private:
        query = query.where(Ticket.home_chat_id == ctx.incoming.chat_id)
    rows = (
        ctx.session.execute(
            query.order_by(Ticket.due_at.is_(None), Ticket.due_at, Ticket.id).limit(LIST_LIMIT)
        )
        .scalars()
        .all()
    )
    ctx.say("chat/list.html", which="open", tickets=rows, now=ctx.now)


def show(ctx: Ctx, args: str) -> None:
    ticket, _ = tickets.find(ctx, args, "show")
    if ticket is not None:
        render_ticket(ctx, ticket)


def render_ticket(ctx: Ctx, ticket: Ticket) -> None:
    try:
        procedure = ctx.procedures.load(ticket.procedure_id, ctx.lang)
    except Exception:  # a broken procedure must not hide the ticket itself
        procedure = None
    values = records.values_of(ctx.session, ticket.id)
    rows = (
        asking.summary_rows(ctx, ticket, procedure)
        if procedure
        else [(readable(k), display(None, v)) for k, v in values.items()]
    )
    done = records.steps_done(ctx.session, ticket.id)
    step_rows = [
        (s, done.get(s.id)) for s in (procedure.steps if procedure else ()) if s.applies(values)
    ]
    comments = (
        ctx.session.execute(
            select(Comment)
            .where(Comment.ticket_id == ticket.id)
            .order_by(Comment.id.desc())
            .limit(5)
        )
        .scalars()
        .all()
    )
    files = attachments.of_ticket(ctx, ticket.id)
    retro_rows = [
        (field_label(procedure, a.name), field_value(procedure, a.name, a.value, ctx.config.tz))
        for a in retro.of_ticket(ctx.session, ticket.id)
        if a.value is not None
    ]
    ctx.say(
        "chat/ticket.html",
        retro=retro_rows,
        ratings=satisfaction.of_ticket(ctx, ticket.id),
        ticket=ticket,
        procedure=procedure,
        rows=rows,
        steps=step_rows,
        comments=list(reversed(comments)),
        attachments=files,
        decisions=approvals.shown(ctx, ticket),
        more_attachments=max(0, len(files) - attachments.SHOWN),
        tz=ctx.config.tz,
        status=ticket.status,
        # A finished ticket is owed nothing: no due time, nobody to take it.
        due=due_words(ticket.due_at, ctx.now) if ticket.is_active else "",
        buttons=(
            (
                Button(data.label("steps"), data.ShowSteps(ticket.id).encode()),
                *(
                    (Button(data.label("assign_me"), data.AssignMe(ticket.id).encode()),)
                    if ticket.is_active
                    else ()
                ),
            ),
            *attachments.buttons(files),
        ),
        ticket_id=ticket.id,
    )


def viewing(
    view: Callable[[Ctx, Ticket], None],
) -> Callable[[Ctx, data.ShowTicket | data.ShowSteps], Outcome | None]:
    """A button that shows something about the ticket it names (`sh:N`, `ss:N`)."""

    def handler(ctx: Ctx, pressed: data.ShowTicket | data.ShowSteps) -> Outcome | None:
        ticket = records.lock_ticket(ctx.session, pressed.ticket)
        if ticket is None:
            return toast("gone")
        view(ctx, ticket)
        return None

    return handler
