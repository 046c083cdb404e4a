"""The commands every team has, whatever features are installed: /start, /help, /new, /skip,
/cancel and /procedures."""

from __future__ import annotations

from bot.domain.ticket import Refused
from bot.services import asking, intake, records, starting, tickets
from bot.services.context import CommandHandler, Ctx, Registry


def install(registry: Registry) -> None:
    help = _help(registry)
    registry.command("start", start)
    registry.command("help", help)
    registry.command("new", new)
    registry.command("skip", skip)
    registry.command("cancel", cancel)
    registry.command("procedures", procedures)


def _help(registry: Registry) -> CommandHandler:
    def help(ctx: Ctx, args: str) -> None:
        """/help and /start: what the bot can do, as the registry knows it."""
        ctx.say("chat/help.html", commands=registry.listed(), is_lead=ctx.is_lead)

    return help


def start(ctx: Ctx, args: str) -> None:
    """/start: a greeting, what sopbot does, and who the person is to it (id and role)."""
    ctx.say("chat/start.html", person=ctx.actor, role=ctx.config.role_of(ctx.actor.user_id or 0))


def procedures(ctx: Ctx, args: str) -> None:
    ctx.say("chat/procedures.html", summaries=ctx.procedures.summaries(ctx.lang))


def new(ctx: Ctx, args: str) -> None:
    head, _, rest = args.partition(" ")
    if head and starting.names_a_procedure(ctx, head.lower()):
        starting.start(ctx, rest.strip(), head.lower())
    else:
        starting.start(ctx, args, None)


def skip(ctx: Ctx, args: str) -> None:
    pending, ticket = asking.question_for_message(ctx)
    if ticket is None or pending is None:
        ctx.say("chat/nothing_to_skip.html")
        return
    intake.skip(ctx, ticket, pending)


def cancel(ctx: Ctx, args: str) -> None:
    if args.strip():
        ticket, _ = tickets.find(ctx, args, "cancel")
        if ticket is None:
            return
        try:
            ticket.check_may_cancel(ctx.actor, lead=ctx.is_lead)
        except Refused as refused:
            ctx.refuse(ticket, "cancel", refused.refusal)
            return
        intake.cancel(ctx, ticket, records.pending_for_ticket(ctx.session, ticket.id))
        return
    pending, ticket = asking.question_for_message(ctx)
    if pending is not None and ticket is None:
        records.drop_pending(ctx.session, pending)
        ctx.audit("draft.cancelled", details={"stage": "choosing a procedure"})
        ctx.say("chat/cancelled.html", ticket=None)
        return
    if ticket is None:
        ctx.say("chat/nothing_to_cancel.html")
        return
    intake.cancel(ctx, ticket, pending)
