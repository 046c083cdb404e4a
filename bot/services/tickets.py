"""Working a ticket from chat: set a field, assign, comment, watch, resolve, reopen, close.

Commands and buttons land in the same functions; the Ticket decides what is allowed, and a
refusal is audited and told in words. Lists and details are `ticket_views`; the checklist is
`steps`.
"""

from __future__ import annotations

import re

from bot.db.models import Comment, Watcher
from bot.domain.fields import Accepted, parse_answer
from bot.domain.procedure import FieldSpec, Procedure
from bot.domain.question import Phase
from bot.domain.ticket import Refused, Ticket, Why
from bot.services import asking, familiarity, intake, records, resolving
from bot.services import buttons as data
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Outcome
from bot.words import display

LIST_LIMIT = 30
_NUMBER = re.compile(r"^#?(\d{1,9})$")


def install(registry: Registry) -> None:
    registry.command("set", set_field)
    registry.command("assign", assign)
    registry.command("comment", comment)
    registry.command("resolve", resolve)
    registry.command("reopen", reopen)
    registry.command("close", close)
    registry.command("watch", watch)
    registry.button(data.AssignMe, _assign_me_button)


# --- finding tickets ------------------------------------------------------------------------


def split_number(args: str) -> tuple[int | None, str]:
    """`12 rest of text` or `#12 rest` -> (12, "rest of text")."""
    head, _, rest = args.strip().partition(" ")
    m = _NUMBER.match(head)
    return (int(m.group(1)), rest.strip()) if m else (None, args.strip())


def find(ctx: Ctx, args: str, command: str) -> tuple[Ticket | None, str]:
    """The ticket named first in `args`, locked; tells the person when it is missing (with how
    to write `command`)."""
    number, rest = split_number(args)
    if number is None:
        ctx.say("chat/usage.html", command=command)
        return None, rest
    ticket = records.lock_ticket(ctx.session, number)
    if ticket is None:
        ctx.say("chat/no_such_ticket.html", number=number)
    return ticket, rest


# --- editing --------------------------------------------------------------------------------


def set_field(ctx: Ctx, args: str) -> None:
    """`/set N field value`: validated like an answer; old and new value audited."""
    ticket, rest = find(ctx, args, "set")
    if ticket is None:
        return
    name, _, raw = rest.partition(" ")
    if not name or not raw.strip():
        ctx.say("chat/usage.html", command="set")
        return
    try:
        ticket.check_may_edit()
    except Refused as refused:
        ctx.refuse(ticket, "set", refused.refusal)
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    spec, name, raw = _field_and_value(procedure, rest)
    if spec is None or spec not in procedure.fields:
        refused = Refused(
            Why.NO_SUCH_FIELD,
            procedure=procedure.title,
            name=name,
            fields=[f.label for f in procedure.fields],
        )
        ctx.refuse(ticket, "set", refused.refusal)
        return
    outcome = parse_answer(spec, raw, ctx.config.tz, ctx.now)
    if not isinstance(outcome, Accepted):
        reason = asking.refuse_answer(ctx, ticket, procedure, spec, outcome, raw)
        ctx.say("chat/invalid_value.html", ticket=ticket, spec=spec, reason=reason)
        return
    old = records.set_value(
        ctx.session,
        ticket.id,
        spec.name,
        outcome.value,
        phase=Phase.INTAKE,
        by=ctx.actor.user_id,
        now=ctx.now,
    )
    ticket.touch(ctx.now)
    ctx.audit(
        "field.changed",
        ticket_id=ticket.id,
        details={"field": spec.name, "old": old, "new": outcome.value},
        procedure=procedure,
    )
    ctx.say(
        "chat/field_set.html",
        ticket=ticket,
        label=spec.label,
        old=display(spec, old, ctx.config.tz),
        new=display(spec, outcome.value, ctx.config.tz),
    )


def _field_and_value(procedure: Procedure, rest: str) -> tuple[FieldSpec | None, str, str]:
    """`access_level admin`, `Access level admin` or `access level: admin`: the field named by
    the longest run of leading words that is a field's name or label, and the value after it."""
    words = rest.split(" ")
    for n in range(len(words) - 1, 0, -1):
        spec = procedure.named(" ".join(words[:n]).rstrip(":"))
        if spec is not None:
            return spec, " ".join(words[:n]), " ".join(words[n:])
    name, _, raw = rest.partition(" ")
    return None, name, raw


def assign(ctx: Ctx, args: str) -> None:
    """`/assign N @user` (or `me`): the person must have written to the bot before."""
    ticket, rest = find(ctx, args, "assign")
    if ticket is None:
        return
    who = rest.split()[0] if rest.split() else ""
    if who.lower() in ("", "me"):
        assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name)
        return
    person = records.person_by_username(ctx.session, who)
    if person is None:
        ctx.refuse(ticket, "assign", Refused(Why.UNKNOWN_PERSON, who=who).refusal)
        return
    assign_to(ctx, ticket, person.user_id, person.name)


def assign_to(ctx: Ctx, ticket: Ticket, user_id: int, name: str) -> bool:
    old = ticket.assignee_name
    try:
        moved = ticket.assign(user_id, name, ctx.now)
    except Refused as refused:
        ctx.refuse(ticket, "assign", refused.refusal)
        return False
    ctx.audit_ticket("ticket.assigned", ticket, {"old": old, "new": name, "user_id": user_id})
    ctx.moved(ticket, moved)
    ctx.say("chat/assigned.html", ticket=ticket)
    return True


def comment(ctx: Ctx, args: str) -> None:
    ticket, text = find(ctx, args, "comment")
    if ticket is None:
        return
    if not text:
        ctx.say("chat/usage.html", command="comment")
        return
    ctx.session.add(
        Comment(
            ticket_id=ticket.id,
            author_id=ctx.actor.user_id,
            author_name=ctx.actor.name,
            text=text,
            created_at=ctx.now,
        )
    )
    ticket.touch(ctx.now)
    ctx.audit_ticket("comment.added", ticket, {"text": text})
    ctx.say("chat/commented.html", ticket=ticket)


def watch(ctx: Ctx, args: str) -> None:
    ticket, _ = find(ctx, args, "watch")
    if ticket is None:
        return
    if ctx.session.get(Watcher, (ticket.id, ctx.actor.user_id)) is None:
        ctx.session.add(Watcher(ticket_id=ticket.id, user_id=ctx.actor.user_id))
        ctx.audit_ticket("ticket.watched", ticket)
    ctx.say("chat/watching.html", ticket=ticket)


# --- resolve, reopen, close -----------------------------------------------------------------


def resolve(ctx: Ctx, args: str) -> None:
    """Resolution goes through the gate: required steps done, then the resolution fields."""
    ticket, _ = find(ctx, args, "resolve")
    if ticket is None:
        return
    try:
        ticket.check_may_resolve()
    except Refused as refused:
        ctx.refuse(ticket, "resolve", refused.refusal)
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    familiarity.worked(ctx, procedure)
    if not intake.ensure_complete(ctx, ticket, procedure):
        return
    missing = resolving.steps_left(ctx, ticket, procedure)
    if missing:
        ctx.refuse(ticket, "resolve", Refused(Why.STEPS_LEFT, steps=missing).refusal)
        return
    intake.start_resolution(ctx, ticket, procedure)


def reopen(ctx: Ctx, args: str) -> None:
    """Rework: a resolved or closed ticket comes back, with a reason, counted in metrics; a
    rejected one, when a lead reopens it (its approvals are asked for again)."""
    ticket, reason = find(ctx, args, "reopen")
    if ticket is None:
        return
    if not reason:
        ctx.say("chat/usage.html", command="reopen")
        return
    try:
        ticket.check_may_reopen(lead=ctx.is_lead)
    except Refused as refused:
        ctx.refuse(ticket, "reopen", refused.refusal)
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    due_after = procedure.sla.due_after(records.values_of(ctx.session, ticket.id))
    moved = ticket.reopen(due_after=due_after, reason=reason, now=ctx.now, lead=ctx.is_lead)
    ctx.moved(ticket, moved, procedure)
    ctx.say("chat/reopened.html", ticket=ticket, reason=reason)
    from bot.services import approvals

    approvals.request(ctx, ticket, procedure)  # a rejected ticket's approvals start again


def close(ctx: Ctx, args: str) -> None:
    """Close a resolved ticket; closing one that was never resolved is for leads only."""
    ticket, _ = find(ctx, args, "close")
    if ticket is None:
        return
    try:
        moved = ticket.close(lead=ctx.is_lead, now=ctx.now)
    except Refused as refused:
        ctx.refuse(ticket, "close", refused.refusal)
        return
    ctx.moved(ticket, moved)
    records.clear_pending(ctx.session, ticket.id)
    ctx.say("chat/closed.html", ticket=ticket)


# --- buttons --------------------------------------------------------------------------------


def _assign_me_button(ctx: Ctx, pressed: data.AssignMe) -> Outcome | None:
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return toast("gone")
    if ticket.assignee_id == ctx.actor.user_id:
        return toast("already_yours", number=ticket.id)
    return toast("assigned") if assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name) else None
