"""The buttons of the gate's questions: a procedure to choose, a choice or yes/no, skip,
confirm, change a field, and the answer to offered knowledge articles. A press counts only while
its question is the ticket's current one (the question's number `n` is in the button) and only
for the person asked; anything else is refused with a toast and an audit event."""

from __future__ import annotations

from bot.db.models import PendingQuestion
from bot.domain.procedure import Procedure
from bot.domain.question import Kind, Phase
from bot.domain.ticket import Ticket
from bot.render import render
from bot.services import asking, intake, records, starting
from bot.services import buttons as data
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Outcome, Reply


def install(registry: Registry) -> None:
    registry.button(data.ChooseProcedure, _choose_button)
    registry.button(data.Choice, _choice_button)
    registry.button(data.Skip, _skip_button)
    registry.button(data.Confirm, _confirm_button)
    registry.button(data.Change, _change_button)
    registry.button(data.PickField, _field_button)
    registry.button(data.Deflected, deflected)


def _question_of(
    ctx: Ctx, ticket_id: int, n: int, *kinds: Kind
) -> tuple[Ticket, PendingQuestion] | Outcome:
    """The ticket and question a button belongs to, if still current; else a toast."""
    ticket = records.lock_ticket(ctx.session, ticket_id)
    pending = records.pending_for_ticket(ctx.session, ticket_id) if ticket else None
    if ticket is None or pending is None or pending.kind not in kinds:
        return ctx.refuse_button("answered")
    if pending.payload.n != n:
        return ctx.refuse_button("answered")
    if pending.user_id != ctx.actor.user_id:
        return ctx.refuse_button("not_yours")
    return ticket, pending


def _choose_button(ctx: Ctx, pressed: data.ChooseProcedure) -> Outcome | None:
    pending = records.pending_by_id(ctx.session, pressed.question)
    if pending is None or pending.kind != Kind.CHOOSE:
        return ctx.refuse_button("answered")
    if pending.user_id != ctx.actor.user_id:
        return ctx.refuse_button("not_yours")
    options = pending.payload.options
    if pressed.index >= len(options):
        return ctx.refuse_button("invalid")
    _edit_pressed(ctx, "choice", options[pressed.index])
    starting.create_from_choice(ctx, pending, options[pressed.index])
    return None


def _choice_button(ctx: Ctx, pressed: data.Choice) -> Outcome | None:
    found = _question_of(ctx, pressed.ticket, pressed.n, Kind.FIELD)
    if isinstance(found, Outcome):
        return found
    chosen = intake.choose(ctx, *found, pressed.index)
    if chosen is not None:
        _edit_pressed(ctx, "choice", chosen)
    return None


def _skip_button(ctx: Ctx, pressed: data.Skip) -> Outcome | None:
    found = _question_of(ctx, pressed.ticket, pressed.n, Kind.FIELD)
    if isinstance(found, Outcome):
        return found
    _edit_pressed(ctx, "skipped")
    intake.skip(ctx, *found)
    return None


def _confirm_button(ctx: Ctx, pressed: data.Confirm) -> Outcome | None:
    found = _summary_of(ctx, pressed)
    if isinstance(found, tuple):
        _edit_pressed(ctx, "confirmed")
        intake.confirm(ctx, *found)
        return None
    return found


def _change_button(ctx: Ctx, pressed: data.Change) -> Outcome | None:
    found = _summary_of(ctx, pressed)
    if isinstance(found, tuple):
        asking.offer_changes(ctx, *found)
        return None
    return found


def _summary_of(
    ctx: Ctx, pressed: data.Confirm | data.Change
) -> tuple[Ticket, Procedure] | Outcome | None:
    """The ticket and its procedure (read now) under a still-current confirmation summary; a
    toast when the summary is stale, None when the procedure is broken (already said)."""
    found = _question_of(ctx, pressed.ticket, pressed.n, Kind.CONFIRM)
    if isinstance(found, Outcome):
        return found
    ticket = found[0]
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    return None if procedure is None else (ticket, procedure)


def _field_button(ctx: Ctx, pressed: data.PickField) -> Outcome | None:
    found = _question_of(ctx, pressed.ticket, pressed.n, Kind.PICK_CHANGE)
    if isinstance(found, Outcome):
        return found
    ticket = found[0]
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return None
    fields = asking.changeable_fields(ctx, ticket, procedure)
    if pressed.index >= len(fields):
        asking.offer_changes(ctx, ticket, procedure)
        return toast("fields_changed")
    asking.change_field(ctx, ticket, procedure, fields[pressed.index])
    return None


def deflected(ctx: Ctx, pressed: data.Deflected) -> Outcome | None:
    """ "Solved" or "continue" under offered knowledge articles: the draft closes as
    self-served, or its questions begin."""
    ticket_id = pressed.ticket
    ticket = records.lock_ticket(ctx.session, ticket_id)
    pending = records.pending_for_ticket(ctx.session, ticket_id) if ticket else None
    if ticket is None or pending is None or pending.kind != Kind.DEFLECT:
        return ctx.refuse_button("answered")
    if pending.user_id != ctx.actor.user_id:
        return ctx.refuse_button("not_yours")
    if pressed.answer == "s":
        _edit_pressed(ctx, "self_served")
        intake.self_served(ctx, ticket)
        return toast("glad")
    _edit_pressed(ctx, "continuing")
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is not None:
        intake.advance(ctx, ticket, procedure, Phase.INTAKE)
    return None


def _edit_pressed(ctx: Ctx, note: str, chosen: str = "") -> None:
    """Show the choice under the question whose button was pressed; its buttons go away."""
    inc = ctx.incoming
    if inc.callback_message_id is None:
        return
    text = render("chat/pressed.html", original=inc.callback_message_html, note=note, chosen=chosen)
    edit = Reply(
        chat_id=inc.chat_id, text=text, edit_message_id=inc.callback_message_id, kind="edit"
    )
    ctx.outbox.insert(0, edit)  # the answered question first, then what follows from it
