"""Working tickets from chat: list, show, set, assign, steps, comment, resolve, reopen, close.

The same rules hold for commands and buttons: both land in these functions, which check the
lifecycle, the step's role and `requires`, and audit what they do or refuse.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import or_, select

from bot.db.models import Comment, Watcher
from bot.domain import lifecycle
from bot.domain.fields import Accepted, parse_answer
from bot.domain.procedure import Procedure, Step
from bot.domain.question import Phase
from bot.domain.ticket import Refused, Ticket, Why
from bot.services import asking, intake, records, resolving
from bot.services import buttons as data
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Button, Outcome
from bot.words import display, due_words, rejection
from bot.words import refusal as refusal_words

LIST_LIMIT = 30
_NUMBER = re.compile(r"^#?(\d{1,9})$")


def install(registry: Registry) -> None:
    registry.command("mine", mine)
    registry.command("open", open_tickets)
    registry.command("show", show)
    registry.command("set", set_field)
    registry.command("assign", assign)
    registry.command("steps", steps)
    registry.command("comment", comment)
    registry.command("resolve", resolve)
    registry.command("reopen", reopen)
    registry.command("close", close)
    registry.command("watch", watch)
    registry.callback(data.AssignMe.prefix, _assign_me_button)
    registry.callback(data.ShowTicket.prefix, _viewing(data.ShowTicket, render_ticket))
    registry.callback(data.ShowSteps.prefix, _viewing(data.ShowSteps, show_steps))
    registry.callback(data.StepDone.prefix, _step_done_button)


# --- finding tickets ------------------------------------------------------------------------


def split_number(args: str) -> tuple[int | None, str]:
    """`12 rest of text` or `#12 rest` -> (12, "rest of text")."""
    head, _, rest = args.strip().partition(" ")
    m = _NUMBER.match(head)
    return (int(m.group(1)), rest.strip()) if m else (None, args.strip())


def find(ctx: Ctx, args: str, usage: str) -> tuple[Ticket | None, str]:
    """The ticket named first in `args`, locked; tells the person when it is missing."""
    number, rest = split_number(args)
    if number is None:
        ctx.say("chat/usage.html", usage=usage)
        return None, rest
    ticket = records.lock_ticket(ctx.session, number)
    if ticket is None:
        ctx.say("chat/no_such_ticket.html", number=number)
    return ticket, rest


# --- lists and details ----------------------------------------------------------------------


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
    ctx.say("chat/list.html", title="Your tickets", tickets=rows, now=ctx.now)


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
    ctx.say("chat/list.html", title="Open tickets", tickets=rows, now=ctx.now)


def show(ctx: Ctx, args: str) -> None:
    ticket, _ = find(ctx, args, "/show N")
    if ticket is not None:
        render_ticket(ctx, ticket)


def render_ticket(ctx: Ctx, ticket: Ticket) -> None:
    try:
        procedure = ctx.procedures.load(ticket.procedure_id)
    except Exception:  # a broken procedure must not hide the ticket itself
        procedure = None
    values = records.values_of(ctx.session, ticket.id)
    rows = (
        asking.summary_rows(ctx, ticket, procedure)
        if procedure
        else [(k, display(None, v)) for k, v in values.items()]
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
    ctx.say(
        "chat/ticket.html",
        ticket=ticket,
        procedure=procedure,
        rows=rows,
        steps=step_rows,
        comments=list(reversed(comments)),
        status=ticket.status,
        due=due_words(ticket.due_at, ctx.now),
        buttons=(
            (
                Button(data.label("steps"), data.ShowSteps(ticket.id).encode()),
                Button(data.label("assign_me"), data.AssignMe(ticket.id).encode()),
            ),
        ),
        ticket_id=ticket.id,
    )


# --- editing --------------------------------------------------------------------------------


def set_field(ctx: Ctx, args: str) -> None:
    """`/set N field value`: validated like an answer; old and new value audited."""
    ticket, rest = find(ctx, args, "/set N field value")
    if ticket is None:
        return
    name, _, raw = rest.partition(" ")
    if not name or not raw.strip():
        ctx.say("chat/usage.html", usage="/set N field value")
        return
    try:
        ticket.check_may_edit()
    except Refused as refused:
        ctx.refuse(ticket, "set", refused.refusal)
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    spec = next((f for f in procedure.fields if f.name == name.lower()), None)
    if spec is None:
        refused = Refused(
            Why.NO_SUCH_FIELD,
            procedure=procedure.title,
            name=name,
            fields=[f.name for f in procedure.fields],
        )
        ctx.refuse(ticket, "set", refused.refusal)
        return
    outcome = parse_answer(spec, raw, ctx.config.tz)
    if not isinstance(outcome, Accepted):
        ctx.audit(
            "answer.rejected",
            ticket_id=ticket.id,
            details={
                "field": spec.name,
                "reason": str(outcome.code),
                "data": outcome.data,
                "text": raw[:500],
            },
            procedure=procedure,
        )
        reason = rejection(outcome)
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
        name=spec.name,
        old=display(spec, old),
        new=display(spec, outcome.value),
    )


def assign(ctx: Ctx, args: str) -> None:
    """`/assign N @user` (or `me`): the person must have written to the bot before."""
    ticket, rest = find(ctx, args, "/assign N @user")
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
    ticket, text = find(ctx, args, "/comment N text")
    if ticket is None:
        return
    if not text:
        ctx.say("chat/usage.html", usage="/comment N text")
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
    ticket, _ = find(ctx, args, "/watch N")
    if ticket is None:
        return
    if ctx.session.get(Watcher, (ticket.id, ctx.actor.user_id)) is None:
        ctx.session.add(Watcher(ticket_id=ticket.id, user_id=ctx.actor.user_id))
        ctx.audit_ticket("ticket.watched", ticket)
    ctx.say("chat/watching.html", ticket=ticket)


# --- steps ----------------------------------------------------------------------------------


def steps(ctx: Ctx, args: str) -> None:
    ticket, _ = find(ctx, args, "/steps N")
    if ticket is not None:
        show_steps(ctx, ticket)


def show_steps(ctx: Ctx, ticket: Ticket, just_done: Step | None = None) -> None:
    """The checklist, re-read from the procedure, with a button for each step not yet done;
    headed by the step just marked done, if any (one message rather than two)."""
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    values = records.values_of(ctx.session, ticket.id)
    done = records.steps_done(ctx.session, ticket.id)
    applicable = [(i, s) for i, s in enumerate(procedure.steps) if s.applies(values)]
    buttons = tuple(
        (
            Button(
                data.label("step_done", text=s.title),
                data.StepDone(ticket.id, i, short_hash(s.id)).encode(),
            ),
        )
        for i, s in applicable
        if s.id not in done and ticket.is_workable
    )
    ctx.say(
        "chat/steps.html",
        ticket=ticket,
        just_done=just_done,
        steps=[(s, done.get(s.id)) for _, s in applicable],
        buttons=buttons,
        ticket_id=ticket.id,
    )


def short_hash(text: str) -> str:
    """Four hex digits tying a button to the step it was made for (spots an edited list)."""
    return hashlib.sha256(text.encode()).hexdigest()[:4]


def mark_step(ctx: Ctx, ticket: Ticket, procedure: Procedure, step: Step) -> bool:
    """Mark a step done if its role and required fields allow it; audit either way."""
    try:
        ticket.check_step(
            step,
            lead=ctx.is_lead,
            values=records.values_of(ctx.session, ticket.id),
            done=records.steps_done(ctx.session, ticket.id),
            labels={},
        )
    except Refused as refused:
        ctx.audit(
            "step.refused",
            ticket_id=ticket.id,
            details={
                **refused.refusal.data,
                "step": step.id,
                "reason": refused.refusal.why.value,
            },
            procedure=procedure,
        )
        ctx.say("chat/refused.html", reason=refusal_words(refused.refusal, ticket.id))
        return False
    if not intake.ensure_complete(ctx, ticket, procedure):
        return False
    records.mark_done(ctx.session, ticket.id, step.id, ctx.actor, ctx.now)
    ctx.audit(
        "step.done",
        ticket_id=ticket.id,
        details={"step": step.id, "title": step.title},
        procedure=procedure,
    )
    ctx.moved(ticket, ticket.step_done(ctx.now), procedure)
    return True


# --- resolve, reopen, close -----------------------------------------------------------------


def resolve(ctx: Ctx, args: str) -> None:
    """Resolution goes through the gate: required steps done, then the resolution fields."""
    ticket, _ = find(ctx, args, "/resolve N")
    if ticket is None:
        return
    try:
        ticket.check_may_resolve()
    except Refused as refused:
        ctx.refuse(ticket, "resolve", refused.refusal)
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None or not intake.ensure_complete(ctx, ticket, procedure):
        return
    missing = resolving.steps_left(ctx, ticket, procedure)
    if missing:
        ctx.refuse(ticket, "resolve", Refused(Why.STEPS_LEFT, steps=missing).refusal)
        return
    intake.start_resolution(ctx, ticket, procedure)


def reopen(ctx: Ctx, args: str) -> None:
    """Rework: a resolved or closed ticket comes back, with a reason, counted in metrics."""
    ticket, reason = find(ctx, args, "/reopen N reason")
    if ticket is None:
        return
    if not reason:
        ctx.say("chat/usage.html", usage="/reopen N reason (say why it needs more work)")
        return
    try:
        ticket.check_may_reopen()
    except Refused as refused:
        ctx.refuse(ticket, "reopen", refused.refusal)
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    due_after = procedure.sla.due_after(records.values_of(ctx.session, ticket.id))
    ctx.moved(ticket, ticket.reopen(due_after=due_after, reason=reason, now=ctx.now), procedure)
    ctx.say("chat/reopened.html", ticket=ticket, reason=reason)


def close(ctx: Ctx, args: str) -> None:
    """Close a resolved ticket; closing one that was never resolved is for leads only."""
    ticket, _ = find(ctx, args, "/close N")
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


def _assign_me_button(ctx: Ctx, parts: list[str]) -> Outcome | None:
    pressed = data.AssignMe.parse(parts)
    if pressed is None:
        return ctx.refuse_button("invalid")
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return toast("gone")
    if ticket.assignee_id == ctx.actor.user_id:
        return toast("already_yours", number=ticket.id)
    return toast("assigned") if assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name) else None


def _viewing(codec: type[data.ShowTicket] | type[data.ShowSteps], view):
    """A button that shows something about the ticket it names (`sh:N`, `ss:N`)."""

    def handler(ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = codec.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        ticket = records.lock_ticket(ctx.session, pressed.ticket)
        if ticket is None:
            return toast("gone")
        view(ctx, ticket)
        return None

    return handler


def _step_done_button(ctx: Ctx, parts: list[str]) -> Outcome | None:
    pressed = data.StepDone.parse(parts)
    if pressed is None:
        return ctx.refuse_button("invalid")
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return toast("gone")
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return None
    steps = procedure.steps
    if pressed.index >= len(steps) or short_hash(steps[pressed.index].id) != pressed.hash:
        show_steps(ctx, ticket)
        return toast("checklist_changed")
    step = steps[pressed.index]
    if not mark_step(ctx, ticket, procedure, step):
        return None
    show_steps(ctx, ticket, just_done=step)  # what is left, with its buttons
    return toast("done")
