"""Approvals: approvers approve or reject a step in chat, with reasons, named approvers, a quorum
and an expiry.

A step with `approval:` is never ticked; it is done when `quorum` different approvers approved
it. Approvers are asked when the step can be decided (the ticket is open and the steps it comes
after are done): privately when the bot can write to them (they wrote to it before), otherwise
in the team's chat, with Approve and Reject buttons; `/approve N [note]` and `/reject N reason`
work too. A rejection needs a reason (asked for when the button is pressed); the ticket is then
`rejected`, and the reporter and the team chat are told who rejected it and why. The sweep
reminds approvers and, at expiry, tells the leads and escalates (`bot.services.sweep`).
Every decision is audited with the ticket's procedure version.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import ApprovalDecision, ApprovalRequest, PendingQuestion, Person
from bot.domain import approvals as rules
from bot.domain.procedure import Procedure, Step
from bot.domain.question import Kind, Payload
from bot.domain.reminders import DEFAULT_REMIND_EVERY
from bot.domain.ticket import Refused, Ticket
from bot.render import render, speaking
from bot.services import buttons as data
from bot.services import records, tickets
from bot.services.buttons import short_hash
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Button, Outcome, Reply


def install(registry: Registry) -> None:
    registry.command("approve", approve_command)
    registry.command("reject", reject_command)
    registry.button(data.Approve, _approve_button)
    registry.button(data.Reject, _reject_button)


# --- asking the approvers -------------------------------------------------------------------


@dataclass(frozen=True)
class Approver:
    """Someone who may decide: by id when known, else by @username only."""

    user_id: int | None
    name: str


def request(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> None:
    """Ask for every approval the ticket can be decided on now and was not asked for in this
    round (called when it opens, after each step, and when a lead reopens it)."""
    if not ticket.is_workable:
        return
    values = records.values_of(ctx.session, ticket.id)
    done = records.steps_done(ctx.session, ticket.id)
    for index, step in enumerate(procedure.steps):
        approval = step.approval
        if approval is None or step.id in done or not step.applies(values):
            continue
        if any(s not in done for s in step.after):
            continue
        if _request_of(ctx, ticket, step) is not None:
            continue
        cadence = procedure.sla.remind_every or DEFAULT_REMIND_EVERY
        ctx.session.add(
            ApprovalRequest(
                ticket_id=ticket.id,
                step_id=step.id,
                round=ticket.reopen_count,
                requested_at=ctx.now,
                expires_at=rules.expires_at(approval, ctx.now),
                remind_at=ctx.now + cadence,
                procedure_version=ticket.procedure_version,
            )
        )
        approvers = approvers_of(ctx.session, ctx.config, ticket, step, values)
        ctx.audit_ticket(
            "approval.requested",
            ticket,
            {
                "step": step.id,
                "quorum": approval.quorum,
                "approvers": [a.name for a in approvers],
                "expires_after_seconds": int(approval.expires_after.total_seconds())
                if approval.expires_after
                else None,
            },
        )
        _ask(ctx, ticket, index, step, approvers)


def approvers_of(
    session: Session, config: Config, ticket: Ticket, step: Step, values: dict
) -> list[Approver]:
    """Who may decide on `step`, the reporter left out (they never approve their own)."""
    approval = step.approval
    assert approval is not None
    found: list[Approver] = []
    if approval.by == "leads":
        for lead in sorted(config.leads):
            person = session.get(Person, lead)
            found.append(Approver(lead, person.name if person else str(lead)))
    else:
        ids, usernames = rules.named(approval, values)
        for user_id in sorted(ids):
            person = session.get(Person, user_id)
            found.append(Approver(user_id, person.name if person else str(user_id)))
        for username in sorted(usernames):
            person = records.person_by_username(session, username)
            found.append(Approver(person.user_id if person else None, f"@{username}"))
    return [a for a in found if a.user_id != ticket.reporter_id]


def reachable(session: Session, approver: Approver) -> bool:
    """Whether the bot can write to them privately: they wrote to it before."""
    return approver.user_id is not None and session.get(Person, approver.user_id) is not None


def _ask(ctx: Ctx, ticket: Ticket, index: int, step: Step, approvers: list[Approver]) -> None:
    """Buttons privately to each approver the bot can write to (they wrote to it before), and
    once in the team's chat for the others, naming them."""
    in_team: list[Approver] = []
    for a in approvers:
        if reachable(ctx.session, a) and a.user_id is not None:
            _tell(
                ctx, a.user_id, ticket, step, "chat/approval_request.html", index=index, others=[]
            )
        else:
            in_team.append(a)
    team = ticket.home_chat_id or (ctx.config.chats[0].id if ctx.config.chats else None)
    if in_team and team is not None:
        others = [a.name for a in in_team]
        _tell(ctx, team, ticket, step, "chat/approval_request.html", index=index, others=others)


def _tell(
    ctx: Ctx,
    chat_id: int,
    ticket: Ticket,
    step: Step,
    template: str,
    *,
    index: int | None = None,
    **context: object,
) -> None:
    """Send `template` to a chat other than the one being answered, in its readers' language:
    the words, the step's title (a procedure may say it in several) and, with `index`, the
    Approve and Reject buttons."""
    language = ctx.language_of_chat(chat_id)
    if language != ctx.lang:
        procedure = ctx.procedures.load_or_none(ticket.procedure_id, language)
        if procedure is not None:
            step = next((s for s in procedure.steps if s.id == step.id), step)
    with speaking(language):
        text = render(template, ticket=ticket, step=step, **context)
        buttons = decision_buttons(ticket, index, step) if index is not None else ()
    ctx.send(
        Reply(chat_id=chat_id, text=text, buttons=buttons, ticket_id=ticket.id, kind="approval")
    )


def decision_buttons(ticket: Ticket, index: int, step: Step) -> tuple[tuple[Button, ...], ...]:
    h = short_hash(step.id)
    return (
        (
            Button(
                data.label("approve", number=ticket.id), data.Approve(ticket.id, index, h).encode()
            ),
            Button(
                data.label("reject", number=ticket.id), data.Reject(ticket.id, index, h).encode()
            ),
        ),
    )


# --- deciding -------------------------------------------------------------------------------


def approve_command(ctx: Ctx, args: str) -> None:
    """`/approve N [note]`: approve the step of ticket N that waits for approval."""
    found = _waiting_step(ctx, args, "approve")
    if found is not None:
        ticket, procedure, step, note = found
        decide(ctx, ticket, procedure, step, rules.APPROVE, note)


def reject_command(ctx: Ctx, args: str) -> None:
    """`/reject N reason`: reject it; the reason is required."""
    found = _waiting_step(ctx, args, "reject")
    if found is None:
        return
    ticket, procedure, step, reason = found
    if not reason:
        ctx.say("chat/usage.html", command="reject")
        return
    decide(ctx, ticket, procedure, step, rules.REJECT, reason)


def _waiting_step(ctx: Ctx, args: str, command: str) -> tuple[Ticket, Procedure, Step, str] | None:
    ticket, rest = tickets.find(ctx, args, command)
    if ticket is None:
        return None
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return None
    done = records.steps_done(ctx.session, ticket.id)
    values = records.values_of(ctx.session, ticket.id)
    step = next(
        (
            s
            for s in procedure.steps
            if s.approval is not None
            and s.id not in done
            and s.applies(values)
            and _request_of(ctx, ticket, s) is not None
        ),
        None,
    )
    if step is None:
        ctx.say("chat/no_approval_waiting.html", ticket=ticket)
        return None
    return ticket, procedure, step, rest


def _pressed(ctx: Ctx, pressed: data.Approve) -> tuple[Ticket, Procedure, Step] | Outcome:
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return toast("gone")
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return Outcome()
    steps = procedure.steps
    if pressed.index >= len(steps) or short_hash(steps[pressed.index].id) != pressed.hash:
        return toast("checklist_changed")  # the procedure changed while the approval waited
    step = steps[pressed.index]
    if step.approval is None:
        return toast("checklist_changed")
    return ticket, procedure, step


def _approve_button(ctx: Ctx, pressed: data.Approve) -> Outcome | None:
    found = _pressed(ctx, pressed)
    if isinstance(found, Outcome):
        return found
    ticket, procedure, step = found
    return toast("done") if decide(ctx, ticket, procedure, step, rules.APPROVE, "") else None


def _reject_button(ctx: Ctx, pressed: data.Reject) -> Outcome | None:
    """A rejection needs a reason: ask for it (the next message), after checking that this
    person may decide at all."""
    found = _pressed(ctx, pressed)
    if isinstance(found, Outcome):
        return found
    ticket, procedure, step = found
    if not _may_decide(ctx, ticket, procedure, step):
        return None
    pending = records.store_pending(
        ctx.session,
        chat_id=ctx.incoming.chat_id,
        user_id=ctx.actor.user_id,
        kind=Kind.REJECT_REASON,
        payload=Payload(options=(str(ticket.id), step.id)),
        thread_id=ctx.incoming.thread_id,
        asked_at=ctx.now,
    )
    ctx.audit_ticket("question.asked", ticket, {"field": "rejection_reason", "step": step.id})
    reply = ctx.say("chat/reject_why.html", ticket=ticket, step=step, ticket_id=ticket.id)
    del pending, reply
    return None


def reason_given(ctx: Ctx, pending: PendingQuestion, text: str) -> None:
    """The answer to "why do you reject it?"."""
    records.drop_pending(ctx.session, pending)
    ticket_number, step_id = (*pending.payload.options, "", "")[:2]
    ticket = None
    if ticket_number.isdigit():
        ticket = records.lock_ticket(ctx.session, int(ticket_number))
    if ticket is None:
        ctx.say("chat/empty.html")
        return
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    step = procedure and next((s for s in procedure.steps if s.id == step_id), None)
    if procedure is None or step is None or step.approval is None:
        ctx.say("chat/no_approval_waiting.html", ticket=ticket)
        return
    if not text.strip():
        ctx.say("chat/reject_why.html", ticket=ticket, step=step, ticket_id=ticket.id)
        return
    decide(ctx, ticket, procedure, step, rules.REJECT, text.strip())


def _rows(ctx: Ctx, ticket: Ticket, step_id: str | None = None) -> list[ApprovalDecision]:
    """This round's decision rows on the ticket's approval steps (one step, or all)."""
    query = select(ApprovalDecision).where(
        ApprovalDecision.ticket_id == ticket.id, ApprovalDecision.round == ticket.reopen_count
    )
    if step_id is not None:
        query = query.where(ApprovalDecision.step_id == step_id)
    return list(ctx.session.scalars(query.order_by(ApprovalDecision.id)))


def _decision(d: ApprovalDecision) -> rules.Decision:
    return rules.Decision(d.approver_id, d.approver_name, d.decision, d.note, d.decided_at)


def decisions_of(ctx: Ctx, ticket: Ticket, step_id: str | None = None) -> list[rules.Decision]:
    """This round's decisions on the ticket's approval steps (one step, or all)."""
    return [_decision(d) for d in _rows(ctx, ticket, step_id)]


def shown(ctx: Ctx, ticket: Ticket) -> dict[str, list[rules.Decision]]:
    """Each approval step's decisions in this round, for /steps and /show."""
    found: dict[str, list[rules.Decision]] = {}
    for d in _rows(ctx, ticket):
        found.setdefault(d.step_id, []).append(_decision(d))
    return found


def _may_decide(ctx: Ctx, ticket: Ticket, procedure: Procedure, step: Step) -> bool:
    try:
        rules.check_may_decide(
            ticket,
            step,
            ctx.actor,
            lead=ctx.is_lead,
            values=records.values_of(ctx.session, ticket.id),
            decisions=decisions_of(ctx, ticket, step.id),
        )
    except Refused as refused:
        ctx.refuse(ticket, "approve", refused.refusal)
        return False
    return True


def decide(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, step: Step, decision: str, note: str
) -> bool:
    """Record one approver's decision; complete the step at quorum, reject the ticket on a
    rejection. False when this person may not decide (said and audited)."""
    if not _may_decide(ctx, ticket, procedure, step):
        return False
    assert step.approval is not None
    ctx.session.add(
        ApprovalDecision(
            ticket_id=ticket.id,
            step_id=step.id,
            round=ticket.reopen_count,
            approver_id=ctx.actor.user_id,
            approver_name=ctx.actor.name,
            decision=decision,
            note=note[:1000],
            decided_at=ctx.now,
            procedure_version=ticket.procedure_version,
        )
    )
    ctx.session.flush()
    ticket.touch(ctx.now)
    tally = rules.tally(step.approval, decisions_of(ctx, ticket, step.id))
    request = _request_of(ctx, ticket, step)
    ctx.audit(
        "approval.approved" if decision == rules.APPROVE else "approval.rejected",
        ticket_id=ticket.id,
        details={
            "step": step.id,
            "note": note[:500],
            "approvals": tally.approvals,
            "quorum": tally.quorum,
            "waited_seconds": int(rules.waited(request.requested_at, ctx.now).total_seconds())
            if request
            else None,
        },
        procedure_id=ticket.procedure_id,
        procedure_version=ticket.procedure_version,
    )
    if tally.rejected is not None:
        _rejected(ctx, ticket, procedure, step, tally.rejected, request)
    elif tally.approved:
        _approved(ctx, ticket, procedure, step, request)
    else:
        ctx.say(
            "chat/approval_counted.html", ticket=ticket, step=step, tally=tally, ticket_id=ticket.id
        )
    return True


def _approved(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, step: Step, asked: ApprovalRequest | None
) -> None:
    decisions = decisions_of(ctx, ticket, step.id)
    names = [d.approver_name for d in decisions if d.decision == rules.APPROVE]
    records.mark_done(ctx.session, ticket.id, step.id, ctx.actor, ctx.now)
    if asked is not None:
        asked.decided_at, asked.outcome = ctx.now, "approved"
    ctx.audit(
        "step.done",
        ticket_id=ticket.id,
        details={"step": step.id, "title": step.title, "approved_by": names},
        procedure=procedure,
    )
    ctx.moved(ticket, ticket.step_done(ctx.now), procedure)
    ctx.say("chat/approved.html", ticket=ticket, step=step, names=names, ticket_id=ticket.id)
    if ticket.chat_id != ctx.incoming.chat_id:  # the reporter hears it where they wrote
        _tell(ctx, ticket.chat_id, ticket, step, "chat/approved.html", names=names)
    request(ctx, ticket, procedure)  # approvals that waited for this one


def _rejected(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    step: Step,
    decision: rules.Decision,
    request: ApprovalRequest | None,
) -> None:
    if request is not None:
        request.decided_at, request.outcome = ctx.now, "rejected"
    ctx.moved(ticket, ticket.reject(ctx.now), procedure)
    records.clear_pending(ctx.session, ticket.id)
    ctx.say("chat/rejected.html", ticket=ticket, step=step, decision=decision, ticket_id=ticket.id)
    told = {ctx.incoming.chat_id}
    for chat in (ticket.chat_id, ticket.home_chat_id):
        if chat is not None and chat not in told:
            told.add(chat)
            _tell(ctx, chat, ticket, step, "chat/rejected.html", decision=decision)


def _request_of(ctx: Ctx, ticket: Ticket, step: Step) -> ApprovalRequest | None:
    return ctx.session.get(ApprovalRequest, (ticket.id, step.id, ticket.reopen_count))
