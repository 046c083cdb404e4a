"""An edited message (Telegram sends edits as updates of their own).

When the edited message was the answer to a question of a ticket that is still being filled in
(its person still has a question waiting), the new text is validated again for that field and,
if the field takes it, replaces the answer (audited as an `answer.accepted` marked `edited`).
Any other edit gets a reply saying how to change a field. Never silence, never a guess.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import AuditEvent
from bot.domain.fields import Accepted, parse_answer
from bot.domain.question import Kind, Phase
from bot.services import asking, records
from bot.services.context import Ctx
from bot.words import display, rejection


def revise(ctx: Ctx) -> bool:
    """Handle an edit of an answer; False when the edited message answered nothing revisable."""
    inc = ctx.incoming
    pending = records.latest_pending(ctx.session, inc.chat_id, inc.user.user_id or 0)
    if pending is None or pending.ticket_id is None or inc.message_id is None:
        return False
    ticket = records.lock_ticket(ctx.session, pending.ticket_id)
    if ticket is None:
        return False
    field = _answered_by(ctx, ticket.id, inc.message_id)
    procedure = ctx.procedure(ticket.procedure_id, ticket) if field else None
    spec = procedure.field(field) if procedure is not None and field else None
    if procedure is None or spec is None or spec not in procedure.fields:
        return False  # a resolution's answers and unknown fields are not revised by an edit
    values = records.values_of(ctx.session, ticket.id)
    outcome = parse_answer(spec, inc.text, ctx.config.tz, ctx.now)
    if not isinstance(outcome, Accepted):
        asking.refuse_answer(ctx, ticket, procedure, spec, outcome, inc.text)
        ctx.say(
            "chat/edit_refused.html",
            label=spec.label,
            error=rejection(outcome),
            kept=display(spec, values.get(spec.name), ctx.config.tz),
            ticket_id=ticket.id,
        )
        return True
    if outcome.value == values.get(spec.name):
        ctx.say("chat/edit_same.html", label=spec.label, ticket_id=ticket.id)
        return True
    asking.store_value(ctx, ticket, procedure, spec, outcome.value, Phase.INTAKE)
    ctx.say(
        "chat/edit_taken.html",
        ticket=ticket,
        label=spec.label,
        value=display(spec, outcome.value, ctx.config.tz),
        ticket_id=ticket.id,
    )
    if pending.kind == Kind.CONFIRM:  # the summary waiting for Confirm shows the new value
        asking.ask_confirm(ctx, ticket, procedure)
    return True


def _answered_by(ctx: Ctx, ticket_id: int, message_id: int) -> str | None:
    """The field the person's message `message_id` answered in this chat (its latest answer)."""
    events = ctx.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.ticket_id == ticket_id, AuditEvent.action == "answer.accepted")
        .order_by(AuditEvent.id.desc())
    )
    for event in events:
        d = event.details if isinstance(event.details, dict) else {}
        if (
            d.get("message_id") == message_id
            and d.get("phase", "intake") == "intake"
            and event.actor_id == ctx.actor.user_id
        ):
            return d.get("field")
    return None
