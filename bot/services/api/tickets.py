"""What a program may do to tickets, each call one transaction through the same gate as chat:
valid fields are kept, nothing is guessed, and what is still missing comes back as questions.

Every write may carry an idempotency key: the first answer is stored with the change it made,
and the same key again returns it (never a second ticket). Refusals by the ticket are audited
and answered as a 409 problem; the engine's words to the program are not sent anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import ClientConfig, Config, ConsumerConfig
from bot.db.models import ApiRequest, Ticket
from bot.domain import gate, lifecycle
from bot.domain.fields import Rejected, parse_answer
from bot.domain.procedure import Procedure
from bot.domain.question import Kind, Phase
from bot.domain.ticket import Refused
from bot.procedures.errors import ProcedureError
from bot.procedures.store import ProcedureStore
from bot.render import render
from bot.services import (
    asking,
    feed,
    intake,
    knowledge,
    outbox,
    records,
    starting,
    steps,
    tickets,
)
from bot.services.api.context import CHAT_TYPE, ApiCtx, agent, may_see, require
from bot.services.api.problems import Problem
from bot.services.api.results import FieldError, ticket_result
from bot.services.database import Database, DatabaseBusy
from bot.services.messages import Incoming

_CONTEXTS = "sopbot.api_contexts"  # in `session.info`: whose owed messages to store
KEY_LIMIT = 200
LIST_LIMIT = 100
Value = str | int | float | bool | None


@dataclass(frozen=True)
class Answer:
    """What a call answers: an HTTP-like status and a JSON body; `replayed` when the same
    idempotency key was used before."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Write:
    """Who writes, when, with which idempotency key, and a fingerprint of the request."""

    client: ClientConfig
    now: datetime
    key: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        data = json.dumps(self.request, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(data.encode()).hexdigest()


class TicketApi:
    """The use cases behind `/api/v1` and the MCP tools."""

    def __init__(self, db: Database, config: Config, procedures: ProcedureStore):
        self.db = db
        self.config = config
        self.procedures = procedures

    # --- writes ---------------------------------------------------------------------------

    def open(
        self,
        w: Write,
        *,
        text: str,
        procedure: str | None = None,
        fields: Mapping[str, Value] | None = None,
        chat_id: int | None = None,
        confirm: bool = False,
    ) -> Answer:
        """A new ticket through the gate; it opens only with `confirm` once complete."""
        chat = self._chat_for(w.client, chat_id)

        def work(session: Session) -> Answer:
            ctx = self._ctx(session, w, chat, text)
            chosen = self._procedure(ctx, procedure, text)
            ticket = intake.draft_ticket(ctx, chosen, text, None)
            named = asking.apply_named_values(ctx, ticket, chosen, text, Phase.INTAKE)
            errors = apply_fields(ctx, ticket, chosen, fields or {}, Phase.INTAKE)
            if (
                confirm
                and not named
                and gate.is_complete(chosen.fields, records.values_of(session, ticket.id))
            ):
                intake.confirm(ctx, ticket, chosen)
            else:
                intake.advance(ctx, ticket, chosen, Phase.INTAKE)
            return Answer(201, ticket_result(ctx, ticket, chosen, errors))

        return self._write(w, work)

    def answer(
        self, w: Write, number: int, fields: Mapping[str, Value], *, confirm: bool = False
    ) -> Answer:
        """Answers to the questions the ticket waits on (intake or resolution)."""

        def work(session: Session) -> Answer:
            ctx, ticket = self._ticket_ctx(session, w, number)
            pending = records.pending_for_ticket(session, ticket.id)
            if pending is None or pending.user_id != ctx.actor.user_id:
                raise Problem(409, "no_question", data={"number": number})
            procedure = self._load(ctx, ticket)
            phase = pending.payload.phase
            errors = apply_fields(ctx, ticket, procedure, fields, phase)
            complete = gate.is_complete(
                asking.fields_for(procedure, phase), asking.phase_values(ctx, ticket, phase)
            )
            if confirm and ticket.is_draft and complete and not _rejected(errors):
                intake.confirm(ctx, ticket, procedure)
            elif pending.kind == Kind.CONFIRM and not fields:
                asking.ask_confirm(ctx, ticket, procedure)
            else:
                intake.advance(ctx, ticket, procedure, phase)
            return Answer(200, ticket_result(ctx, ticket, procedure, errors))

        return self._write(w, work)

    def confirm(self, w: Write, number: int) -> Answer:
        """Open a complete draft (the gate is asked again first)."""

        def work(session: Session) -> Answer:
            ctx, ticket = self._ticket_ctx(session, w, number)
            if not ticket.is_draft or ticket.status != lifecycle.WAITING:
                raise Problem(409, "not_a_draft", data={"number": number, "status": ticket.status})
            procedure = self._load(ctx, ticket)
            intake.confirm(ctx, ticket, procedure)
            return Answer(200, ticket_result(ctx, ticket, procedure))

        return self._write(w, work)

    def step(self, w: Write, number: int, step_id: str) -> Answer:
        """Mark a checklist step done (the ticket checks role and required fields)."""

        def work(session: Session) -> Answer | Problem:
            ctx, ticket = self._ticket_ctx(session, w, number)
            procedure = self._load(ctx, ticket)
            step = next((s for s in procedure.steps if s.id == step_id), None)
            if step is None:
                raise Problem(404, "unknown_step", data={"number": number, "step": step_id})
            try:
                ticket.check_step(
                    step,
                    lead=ctx.is_lead,
                    values=records.values_of(session, ticket.id),
                    done=records.steps_done(session, ticket.id),
                    labels={},
                    titles={s.id: s.title for s in procedure.steps},
                )
            except Refused as refused:
                ctx.refuse(ticket, "step", refused.refusal)
                return ctx.refused()  # type: ignore[return-value]
            steps.mark_step(ctx, ticket, procedure, step)
            return Answer(200, ticket_result(ctx, ticket, procedure))

        return self._write(w, work)

    def comment(self, w: Write, number: int, text: str) -> Answer:
        if not text.strip():
            raise Problem(422, "empty_comment", field="text")

        def work(session: Session) -> Answer:
            ctx, ticket = self._ticket_ctx(session, w, number)
            tickets.comment(ctx, f"{number} {text.strip()}")
            return Answer(201, ticket_result(ctx, ticket, self._quiet_load(ctx, ticket)))

        return self._write(w, work)

    def resolve(self, w: Write, number: int, fields: Mapping[str, Value] | None = None) -> Answer:
        """Resolve: required steps done, then the resolution fields through the gate."""

        def work(session: Session) -> Answer | Problem:
            ctx, ticket = self._ticket_ctx(session, w, number)
            tickets.resolve(ctx, str(number))
            refused = ctx.refused()
            if refused is not None:
                return refused
            procedure = self._load(ctx, ticket)
            errors: list[FieldError] = []
            pending = records.pending_for_ticket(session, ticket.id)
            if fields and pending is not None and pending.payload.phase.resolving:
                errors = _resolve_fields(ctx, ticket, procedure, fields)
            return Answer(200, ticket_result(ctx, ticket, procedure, errors))

        return self._write(w, work)

    # --- reads ----------------------------------------------------------------------------

    def show(self, client: ClientConfig, number: int, now: datetime) -> Answer:
        require(client, "read")
        with self.db.reading() as session:
            ctx, ticket = self._ticket_ctx(session, Write(client, now), number, lock=False)
            state = feed.ticket_state(session, ConsumerConfig(client.name, ""), number) or {}
            body = ticket_result(ctx, ticket, self._quiet_load(ctx, ticket))
            return Answer(200, {**state, **body})

    def list(
        self, client: ClientConfig, *, status: str | None = None, mine: bool = False
    ) -> Answer:
        require(client, "read")
        query = select(Ticket).order_by(Ticket.id.desc()).limit(LIST_LIMIT)
        if status:
            query = query.where(Ticket.status == status)
        else:
            query = query.where(Ticket.status.in_(lifecycle.ACTIVE))
        if client.chats:
            chats = list(client.chats)
            query = query.where(or_(Ticket.chat_id.in_(chats), Ticket.home_chat_id.in_(chats)))
        if mine:
            me = agent(client).user_id
            query = query.where(or_(Ticket.reporter_id == me, Ticket.assignee_id == me))
        with self.db.reading() as session:
            found = session.scalars(query).all()
            items = [
                {
                    "number": t.id,
                    "status": t.status,
                    "title": t.title,
                    "procedure": t.procedure_id,
                    "chat_id": t.chat_id,
                    "assignee": t.assignee_name,
                    "due_at": feed.iso(t.due_at) if t.due_at else None,
                }
                for t in found
            ]
        return Answer(200, {"items": items})

    def search(self, client: ClientConfig, query: str, limit: int = 10) -> Answer:
        require(client, "read")
        with self.db.reading() as session:
            matches = knowledge.search(session, query, limit=limit)
        return Answer(
            200,
            {
                "items": [
                    {"path": m.path, "title": m.title, "score": m.score, "snippet": m.snippet}
                    for m in matches
                ]
            },
        )

    def changes(self, client: ClientConfig, cursor: str | None, limit: int = 100) -> Answer:
        """What changed in the client's chats since `cursor` (the change feed's page)."""
        require(client, "read")
        consumer = ConsumerConfig(client.name, "", client.chats)
        with self.db.reading() as session:
            try:
                page = feed.changes(session, consumer=consumer, cursor=cursor, limit=limit)
            except (feed.BadCursor, feed.UnknownCursor):
                raise Problem(400, "bad_request", field="cursor", data=_bad("cursor")) from None
        return Answer(200, page.as_json())

    # --- the machinery --------------------------------------------------------------------

    def _write(self, w: Write, work: Callable[[Session], Answer | Problem]) -> Answer:
        require(w.client, "write")
        if w.key is not None and len(w.key) > KEY_LIMIT:
            raise Problem(400, "idempotency_key_too_long", data={"limit": KEY_LIMIT})

        def unit(session: Session) -> Answer | Problem:
            row = None
            if w.key is not None:
                row = session.get(ApiRequest, (w.client.name, w.key))
                if row is not None:
                    return _replay(row, w)
                row = ApiRequest(
                    client=w.client.name, key=w.key, fingerprint=w.fingerprint, created_at=w.now
                )
                session.add(row)
                # Now, before any work: a concurrent request with this key waits here for
                # this one to commit and then fails on the key (replayed below).
                session.flush()
            result = work(session)
            # What the change owes others (the team chat's announcement, the reporter's
            # question, the leads' notice) is stored with it, as the chat engine does.
            for ctx in session.info.pop(_CONTEXTS, []):
                outbox.owe(session, ctx.outbox, w.now)
            if row is not None:
                if isinstance(result, Answer):
                    row.status, row.body = result.status, result.body
                else:  # a refusal is audited, but the key stays free to try again
                    session.delete(row)
            return result

        try:
            result = self.db.run(unit)
        except IntegrityError:
            if w.key is None:
                raise
            result = self.db.run(lambda s: _replay(s.get(ApiRequest, (w.client.name, w.key)), w))
        except DatabaseBusy:
            raise Problem(503, "busy") from None
        if isinstance(result, Problem):
            raise result
        return result

    def _ctx(self, session: Session, w: Write, chat_id: int, text: str = "") -> ApiCtx:
        incoming = Incoming(
            user=agent(w.client), chat_id=chat_id, chat_type=CHAT_TYPE, now=w.now, text=text
        )
        ctx = ApiCtx(
            session=session,
            incoming=incoming,
            config=self.config,
            procedures=self.procedures,
            knowledge_dir=self.config.knowledge_dir,
            client=w.client,
        )
        session.info.setdefault(_CONTEXTS, []).append(ctx)
        return ctx

    def _ticket_ctx(
        self, session: Session, w: Write, number: int, *, lock: bool = True
    ) -> tuple[ApiCtx, Ticket]:
        ticket = records.lock_ticket(session, number) if lock else session.get(Ticket, number)
        if ticket is None:
            raise Problem(404, "not_found", data={"number": number})
        if not may_see(w.client, ticket):
            raise Problem(403, "chat_not_allowed", data={"chat_id": ticket.chat_id})
        # The program's own ticket: what the engine asks it is kept for the answer. Someone
        # else's: a question for its reporter goes to the reporter's chat, as in chat.
        mine = ticket.reporter_id == agent(w.client).user_id
        return self._ctx(session, w, ticket.chat_id if mine else 0), ticket

    def _chat_for(self, client: ClientConfig, chat_id: int | None) -> int:
        if chat_id is None:
            if client.chats:
                return client.chats[0]
            if self.config.default_chat is None:
                raise Problem(422, "chat_required", field="chat_id")
            return self.config.default_chat.id
        if client.chats and chat_id not in client.chats:
            raise Problem(403, "chat_not_allowed", field="chat_id", data={"chat_id": chat_id})
        return chat_id

    def _procedure(self, ctx: ApiCtx, wanted: str | None, text: str) -> Procedure:
        if wanted:
            ids = self.procedures.ids()
            if wanted not in ids:
                found = starting.by_command(ctx, wanted)
                if found is None:
                    if ctx.said:  # it exists but cannot be read: audited, leads told
                        raise _broken(wanted)
                    raise Problem(
                        422, "unknown_procedure", field="procedure", data={"procedure": wanted}
                    )
                return found
            chosen = ctx.procedure(wanted)
            if chosen is None:
                raise _broken(wanted)
            return chosen
        matches = self.procedures.match(text) if text.strip() else []
        if len(matches) == 1:
            return matches[0]
        choices = [m.id for m in matches] or [s.id for s in self.procedures.summaries() if s.valid]
        raise Problem(422, "procedure_required", field="procedure", data={"choices": choices})

    def _load(self, ctx: ApiCtx, ticket: Ticket) -> Procedure:
        procedure = ctx.procedure(ticket.procedure_id, ticket)
        if procedure is None:
            raise _broken(ticket.procedure_id)
        return procedure

    def _quiet_load(self, ctx: ApiCtx, ticket: Ticket) -> Procedure | None:
        """The procedure for showing the ticket; a broken one shows no questions."""
        try:
            return self.procedures.load(ticket.procedure_id)
        except ProcedureError:
            return None


def _resolve_fields(
    ctx: ApiCtx, ticket: Ticket, procedure: Procedure, fields: Mapping[str, Value]
) -> list[FieldError]:
    """The resolution fields, then (when this round asks them) the retrospective questions,
    from one request: each phase takes the names it asks."""
    errors: list[FieldError] = []
    rest = dict(fields)
    for phase in (Phase.RESOLUTION, Phase.RETRO):
        pending = records.pending_for_ticket(ctx.session, ticket.id)
        if pending is None or pending.payload.phase != phase:
            continue
        names = {f.name for f in asking.fields_for(procedure, phase)}
        mine = {k: v for k, v in rest.items() if k in names or phase == Phase.RETRO}
        rest = {k: v for k, v in rest.items() if k not in mine}
        errors += apply_fields(ctx, ticket, procedure, mine, phase)
        intake.advance(ctx, ticket, procedure, phase)
    retro_names = {f.name for f in procedure.retro.fields}
    errors += [_error(name, "unknown_field") for name in rest if name not in retro_names]
    return errors


def apply_fields(
    ctx: ApiCtx,
    ticket: Ticket,
    procedure: Procedure,
    fields: Mapping[str, Value],
    phase: Phase,
) -> list[FieldError]:
    """Each value through its field's validation, as an answer in chat would be: accepted ones
    are stored (audited), refused ones come back with the reason code and its words."""
    specs = {f.name: f for f in asking.fields_for(procedure, phase)}
    errors: list[FieldError] = []
    for name, value in fields.items():
        spec = specs.get(name)
        if spec is None:
            errors.append(_error(name, "unknown_field"))
            continue
        if value is None:
            if not gate.can_skip(spec, asking.phase_values(ctx, ticket, phase)):
                errors.append(_error(name, "required"))
                continue
            _skip(ctx, ticket, procedure, name, phase)
            continue
        if not isinstance(value, str | int | float | bool):
            errors.append(_error(name, "not_a_value"))
            continue
        raw = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        outcome = parse_answer(spec, raw, ctx.config.tz)
        if isinstance(outcome, Rejected):
            ticket.invalid_answers += 1
            words = asking.refuse_answer(ctx, ticket, procedure, spec, outcome, raw)
            errors.append(FieldError(name, str(outcome.code), words))
            continue
        asking.accept_value(ctx, ticket, procedure, spec, raw, phase)
    return errors


def _skip(ctx: ApiCtx, ticket: Ticket, procedure: Procedure, name: str, phase: Phase) -> None:
    if phase.resolving:
        pending = records.pending_for_ticket(ctx.session, ticket.id)
        if pending is not None:
            pending.payload = pending.payload.with_answer(name, None)
    else:
        records.set_value(
            ctx.session, ticket.id, name, None, phase=phase, by=ctx.actor.user_id, now=ctx.now
        )
    ctx.audit("field.skipped", ticket_id=ticket.id, details={"field": name}, procedure=procedure)


def _error(name: str, reason: str) -> FieldError:
    return FieldError(name, reason, render("api/problem.txt", code=reason, d={"field": name}))


def _rejected(errors: list[FieldError]) -> bool:
    return any(e.reason != "unknown_field" for e in errors)


def _replay(row: ApiRequest | None, w: Write) -> Answer:
    if row is None or row.status is None:  # cannot happen once the first has committed
        raise Problem(503, "busy")
    if row.fingerprint != w.fingerprint:
        raise Problem(422, "idempotency_key_reused", field="Idempotency-Key")
    return Answer(row.status, dict(row.body), replayed=True)


def _broken(procedure_id: str) -> Problem:
    return Problem(503, "procedure_broken", field="procedure", data={"procedure": procedure_id})


def _bad(name: str) -> dict[str, str]:
    return {"name": name, "expected": render("api/expected.txt", name=name)}
