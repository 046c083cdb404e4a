"""The digest's chat buttons: "On it", "Snooze 1 h" and "Show" (`buttons.Chase`)."""

from __future__ import annotations

from bot.domain import reminders as rules
from bot.domain.ticket import Ticket
from bot.services import buttons as data
from bot.services import records
from bot.services import tickets as ticket_commands
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Outcome
from bot.services.sweep.lines import line


def install(registry: Registry) -> None:
    """The digest's buttons: `r:on:<id>`, `r:sn:<id>`, `r:sh:<id>`."""
    registry.button(data.Chase, on_button)


def on_button(ctx: Ctx, pressed: data.Chase) -> Outcome | None:
    """A press of "On it", "Snooze 1 h" or "Show" under a digest."""
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return toast("gone")
    if pressed.action == "sh":
        show(ctx, ticket)
        return None
    if not ticket.is_active:
        return toast("not_chased", number=ticket.id, status=ticket.status)
    return on_it(ctx, ticket) if pressed.action == "on" else snooze(ctx, ticket)


def on_it(ctx: Ctx, ticket: Ticket) -> Outcome:
    """Acknowledge the ticket, and take it when nobody has: that is progress (no escalation)."""
    assigned = False
    if ticket.assignee_id is None:
        if not ticket_commands.assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name):
            return toast("cannot_take", number=ticket.id)
        assigned = True
    ticket.acknowledge(ctx.now)
    ctx.audit(
        "reminder.acknowledged",
        ticket_id=ticket.id,
        details={"assigned": assigned},
        procedure_id=ticket.procedure_id,
        procedure_version=ticket.procedure_version,
    )
    if assigned:
        return toast("taken", number=ticket.id)
    if ticket.assignee_id == ctx.actor.user_id:
        return toast("on_it", number=ticket.id)
    return toast("noted", number=ticket.id, assignee=ticket.assignee_name)


def snooze(ctx: Ctx, ticket: Ticket) -> Outcome:
    """No reminder for this ticket for a while (a snooze is not progress)."""
    until = ctx.now + rules.SNOOZE
    ticket.snooze(until)
    ctx.audit(
        "reminder.snoozed",
        ticket_id=ticket.id,
        details={"until": until.isoformat()},
        procedure_id=ticket.procedure_id,
        procedure_version=ticket.procedure_version,
    )
    return toast("snoozed", number=ticket.id, until=until.astimezone(ctx.config.tz))


def show(ctx: Ctx, ticket: Ticket) -> None:
    """The ticket in short: title, status, assignee, due."""
    now = ctx.now
    ctx.say(
        "reminders/show.html",
        ticket=line(ticket, now),
        status=ticket.status,
        due=ticket.due_at.astimezone(ctx.config.tz) if ticket.due_at is not None else None,
        overdue=ticket.is_overdue(now),
        paused=ticket.is_paused,
        ticket_id=ticket.id,
    )
