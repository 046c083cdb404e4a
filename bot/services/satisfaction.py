"""The reporter's view: one tap (👍 / 👎) when their ticket is resolved, then an optional comment.

Asked once per resolution: the `satisfaction` row of (ticket, round) is made when they are asked,
and `round` is the ticket's reopen count, so a reopen alone never asks and a ticket resolved
again is asked again. Stored and audited with the ticket's procedure version. A reporter who
resolved their own ticket, or a program (an agent), is not asked.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db.models import PendingQuestion, Satisfaction
from bot.domain.question import Kind, Payload
from bot.domain.ticket import Ticket
from bot.render import render, speaking
from bot.services import buttons as data
from bot.services import records
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Button, Outcome, Reply

COMMENT_LIMIT = 2000
# A comment comes right after the tap; a message much later is about something else (a new
# ticket, say), so the offer lapses.
COMMENT_WAIT = timedelta(minutes=30)


def install(registry: Registry) -> None:
    registry.button(data.Rate, _rated)
    registry.button(data.NoComment, _no_comment)


def ask(ctx: Ctx, ticket: Ticket) -> None:
    """Ask the reporter, where they reported, once for this resolution."""
    if ticket.reporter_id <= 0 or ticket.reporter_id == ctx.actor.user_id:
        return
    key = (ticket.id, ticket.reopen_count)
    if ctx.session.get(Satisfaction, key) is not None:
        return
    ctx.session.add(
        Satisfaction(
            ticket_id=ticket.id,
            round=ticket.reopen_count,
            procedure_id=ticket.procedure_id,
            procedure_version=ticket.procedure_version,
            reporter_id=ticket.reporter_id,
            asked_at=ctx.now,
        )
    )
    ctx.audit_ticket("satisfaction.asked", ticket, {"round": ticket.reopen_count})
    with speaking(ctx.language_of_chat(ticket.chat_id)):  # the reporter's, not the resolver's
        buttons = (
            (
                Button(
                    data.label("happy"), data.Rate(ticket.id, ticket.reopen_count, "1").encode()
                ),
                Button(
                    data.label("unhappy"), data.Rate(ticket.id, ticket.reopen_count, "0").encode()
                ),
            ),
        )
        text = render("chat/satisfaction_ask.html", ticket=ticket)
    ctx.send(
        Reply(
            chat_id=ticket.chat_id,
            text=text,
            buttons=buttons,
            thread_id=ticket.thread_id,
            ticket_id=ticket.id,
            kind="satisfaction",
        )
    )


def _rated(ctx: Ctx, pressed: data.Rate) -> Outcome | None:
    """The tap: kept, and a comment offered (the next message, or "No comment")."""
    row = ctx.session.get(Satisfaction, (pressed.ticket, pressed.round), with_for_update=True)
    if row is None:
        return toast("gone")
    if row.reporter_id != ctx.actor.user_id:
        return toast("reporter_only", number=pressed.ticket)
    if row.happy is not None:
        return toast("already_rated")
    row.happy, row.answered_at = pressed.happy == "1", ctx.now
    ctx.audit(
        "satisfaction.given",
        ticket_id=row.ticket_id,
        details={"happy": row.happy, "round": row.round},
        procedure_id=row.procedure_id,
        procedure_version=row.procedure_version,
    )
    records.store_pending(
        ctx.session,
        chat_id=ctx.incoming.chat_id,
        user_id=ctx.actor.user_id,
        kind=Kind.SATISFACTION_COMMENT,
        payload=Payload(options=(str(row.ticket_id), str(row.round))),
        thread_id=ctx.incoming.thread_id,
        asked_at=ctx.now,
    )
    ctx.say(
        "chat/satisfaction_comment.html",
        number=row.ticket_id,
        happy=row.happy,
        buttons=(
            (Button(data.label("no_comment"), data.NoComment(row.ticket_id, row.round).encode()),),
        ),
    )
    return toast("thanks")


def lapsed(ctx: Ctx, pending: PendingQuestion) -> bool:
    """The offer of a comment ran out: dropped, and the message is read as any other."""
    if ctx.now - pending.asked_at <= COMMENT_WAIT:
        return False
    records.drop_pending(ctx.session, pending)
    return True


def comment_given(ctx: Ctx, pending: PendingQuestion, text: str) -> None:
    """The message after a tap is its comment."""
    records.drop_pending(ctx.session, pending)
    row = _row_of(ctx, pending)
    if row is None or not text.strip():
        ctx.say("chat/satisfaction_noted.html", commented=False)
        return
    row.comment = text.strip()[:COMMENT_LIMIT]
    ctx.audit(
        "satisfaction.commented",
        ticket_id=row.ticket_id,
        details={"comment": row.comment[:500], "round": row.round},
        procedure_id=row.procedure_id,
        procedure_version=row.procedure_version,
    )
    ctx.say("chat/satisfaction_noted.html", commented=True)


def _no_comment(ctx: Ctx, pressed: data.NoComment) -> Outcome | None:
    pending = records.latest_pending(ctx.session, ctx.incoming.chat_id, ctx.actor.user_id or 0)
    if (
        pending is not None
        and pending.kind == Kind.SATISFACTION_COMMENT
        and pending.payload.options == (str(pressed.ticket), str(pressed.round))
    ):
        records.drop_pending(ctx.session, pending)
    ctx.say("chat/satisfaction_noted.html", commented=False)
    return toast("thanks")


def _row_of(ctx: Ctx, pending: PendingQuestion) -> Satisfaction | None:
    ticket, round_ = (*pending.payload.options, "", "")[:2]
    if not (ticket.isdigit() and round_.isdigit()):
        return None
    return ctx.session.get(Satisfaction, (int(ticket), int(round_)), with_for_update=True)


def of_ticket(ctx: Ctx, ticket_id: int) -> list[Satisfaction]:
    """The reporter's taps on each resolution of a ticket, first first (untapped left out)."""
    return list(
        ctx.session.scalars(
            select(Satisfaction)
            .where(Satisfaction.ticket_id == ticket_id, Satisfaction.happy.is_not(None))
            .order_by(Satisfaction.round)
        )
    )
