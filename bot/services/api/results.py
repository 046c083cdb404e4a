"""A ticket as a program reads it after each call: its number and status, and what the gate
still asks (the questions as data: field, question, type, choices, example, error)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain import gate
from bot.domain.procedure import FieldSpec, Procedure
from bot.domain.question import Kind
from bot.domain.ticket import Ticket
from bot.services import asking, records
from bot.services.context import Ctx
from bot.services.feed import iso
from bot.words import expected_form

AWAITING_CONFIRMATION = "awaiting_confirmation"


@dataclass(frozen=True)
class FieldError:
    """A value the gate refused (or a name the procedure does not have), with its words."""

    field: str
    reason: str
    error: str


def question(spec: FieldSpec, values: dict[str, Any], error: FieldError | None) -> dict[str, Any]:
    q: dict[str, Any] = {
        "field": spec.name,
        "question": spec.question,
        "type": spec.type,
        "required": spec.is_required(values),
        "expected": expected_form(spec),
    }
    if spec.choices:
        q["choices"] = list(spec.choices)
    if spec.example:
        q["example"] = spec.example
    if error is not None:
        q["error"] = error.error
        q["reason"] = error.reason
    return q


def ticket_result(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure | None,
    errors: Sequence[FieldError] = (),
) -> dict[str, Any]:
    """The ticket now, with the gate's open questions when it waits on the caller."""
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    body: dict[str, Any] = {
        "number": ticket.id,
        "status": ticket.status,
        "title": ticket.title,
        "procedure": ticket.procedure_id,
        "chat_id": ticket.chat_id,
        "due_at": iso(ticket.due_at) if ticket.due_at else None,
    }
    by_field = {e.field: e for e in errors}
    waits_on_caller = pending is not None and pending.user_id == ctx.actor.user_id
    if pending is not None and procedure is not None and waits_on_caller:
        phase = pending.payload.phase
        if pending.kind in (Kind.CONFIRM, Kind.PICK_CHANGE) and ticket.is_draft:
            body["status"] = AWAITING_CONFIRMATION
            body["summary"] = [
                {"field": spec.name, "value": value}
                for spec, value in gate.visible_values(
                    procedure.fields, records.values_of(ctx.session, ticket.id)
                )
            ]
        else:
            values = asking.phase_values(ctx, ticket, phase)
            body["phase"] = phase.value
            body["questions"] = [
                question(spec, values, by_field.get(spec.name))
                for spec in gate.unanswered(asking.fields_for(procedure, phase), values)
            ]
    elif pending is not None and not waits_on_caller:
        body["waiting_on"] = {"user_id": pending.user_id, "chat_id": pending.chat_id}
    ignored = [e for e in errors if e.reason == "unknown_field"]
    if ignored:
        body["ignored"] = [
            {"field": e.field, "reason": e.reason, "error": e.error} for e in ignored
        ]
    body.setdefault("questions", [])
    return body
