"""The conversation engine: what a person said in, what the bot answers out.

It knows nothing of Telegram. Each incoming message or button press is handled in ONE
transaction: the change, its audit events and the pending question commit together or not at
all. Features plug their commands and buttons into the `Registry`.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import PendingQuestion
from bot.domain.question import Kind, Payload, Phase
from bot.domain.ticket import Refused, Ticket
from bot.procedures.errors import ProcedureError
from bot.render import render
from bot.services import asking, intake, records
from bot.services import buttons as data
from bot.services.context import Ctx, Registry, toast
from bot.services.database import Database, DatabaseBusy
from bot.services.messages import Button, Delivered, Incoming, Outcome, Reply

log = logging.getLogger(__name__)

MAX_TEXT = 4096
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.S)


class Conversation:
    """Routes people's messages and button presses to the gate and to feature handlers."""

    def __init__(self, db: Database, config: Config, procedures, registry: Registry | None = None):
        self.db = db
        self.config = config
        self.procedures = procedures
        self.registry = registry or Registry()
        self._install_core()

    @property
    def knowledge_dir(self) -> Path:
        return self.config.knowledge_dir

    # --- entry points -----------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome:
        """Handle one message or button press; returns the replies to send."""
        try:
            return self.db.run(lambda session: self._handle(session, incoming))
        except DatabaseBusy:
            log.warning("database busy; told user %s to try again", incoming.user.user_id)
            return Outcome(
                replies=[
                    Reply(
                        chat_id=incoming.chat_id,
                        text=_busy_text(),
                        reply_to=None if incoming.is_private else incoming.message_id,
                    )
                ],
                toast=toast("busy").toast if incoming.callback_data else None,
            )

    def message_sent(self, reply: Reply, chat_id: int, message_id: int, sent_at: datetime) -> None:
        """The adapter sent `reply` as `message_id` (see `messages_sent`)."""
        self.messages_sent([Delivered(reply, chat_id, message_id, sent_at)])

    def messages_sent(self, delivered: list[Delivered]) -> None:
        """Remember where the replies of one update landed, in one transaction: a reply to
        any of them finds its ticket, and a pending question knows its message."""
        about_tickets = [d for d in delivered if d.reply.ticket_id is not None]
        if about_tickets:
            self.db.run(lambda session: records.remember_sent(session, about_tickets))

    def commands(self) -> list[tuple[str, str]]:
        """Command names and summaries, for the chat's command menu."""
        return [(c.name, c.summary) for c in self.registry.commands.values() if c.summary]

    # --- routing ----------------------------------------------------------------------------

    def _handle(self, session: Session, incoming: Incoming) -> Outcome:
        ctx = Ctx(
            session=session,
            incoming=incoming,
            config=self.config,
            procedures=self.procedures,
            knowledge_dir=self.knowledge_dir,
        )
        user_id = incoming.user.user_id or 0
        if not self.config.is_member(user_id):
            if incoming.is_private or incoming.callback_data or _addressed(incoming):
                ctx.audit(
                    "access.refused",
                    details={
                        "reason": "not a member",
                        "chat_id": incoming.chat_id,
                        "text": incoming.text[:200],
                    },
                )
                ctx.say("chat/not_member.html")
            return Outcome(
                replies=ctx.outbox,
                toast=render("chat/toast.txt", reason="not_member")
                if incoming.callback_data
                else None,
            )
        self._remember(ctx)
        if incoming.callback_data is not None:
            outcome = self._callback(ctx, incoming.callback_data)
        else:
            outcome = self._message(ctx)
        if not isinstance(outcome, Outcome):  # handlers answer through ctx; a toast is optional
            outcome = Outcome()
        return Outcome(replies=[*ctx.outbox, *outcome.replies], toast=outcome.toast)

    def _remember(self, ctx: Ctx) -> None:
        """Who wrote, so `/assign N @them` knows them. Stored in the message's own transaction:
        no process-wide memory that a rolled-back message could leave wrong."""
        user = ctx.actor
        records.remember_person(ctx.session, user.user_id, user.username, user.name, ctx.now)

    def _message(self, ctx: Ctx) -> Outcome | None:
        inc = ctx.incoming
        text = inc.text.strip()
        if len(text) > MAX_TEXT:
            ctx.say("chat/too_long.html", limit=MAX_TEXT, length=len(text))
            return None
        m = _COMMAND.match(text)
        if m:
            name, target, args = m.group(1).lower(), m.group(2), (m.group(3) or "").strip()
            if target and inc.bot_username and target.lower() != inc.bot_username.lower():
                return None  # a command for another bot in the same group
            return self._command(ctx, name, args)
        if not inc.is_private and not (inc.reply_to_bot or inc.mentions_bot):
            return None  # group chatter that isn't addressed to the bot
        text = _strip_mention(text, inc.bot_username)
        pending, ticket = self._pending_for(ctx)
        if pending is not None:
            return self._answer(ctx, pending, ticket, text)
        if not text:
            ctx.say("chat/empty.html")
            return None
        self._start(ctx, text, None)
        return None

    def _command(self, ctx: Ctx, name: str, args: str) -> Outcome | None:
        command = self.registry.commands.get(name)
        if command is None:
            if ctx.incoming.is_private or ctx.incoming.mentions_bot:
                ctx.say("chat/unknown_command.html", name=name)
            return None
        if command.lead_only and not ctx.is_lead:
            ctx.audit("access.refused", details={"reason": "leads only", "command": name})
            ctx.say("chat/leads_only.html", name=name)
            return None
        return command.handler(ctx, args)

    def _callback(self, ctx: Ctx, data: str) -> Outcome | None:
        prefix, _, rest = data.partition(":")
        callback = self.registry.callbacks.get(prefix)
        if callback is None or len(data) > 64:
            ctx.audit("callback.refused", details={"data": data[:64], "reason": "unknown button"})
            return toast("expired")
        if callback.lead_only and not ctx.is_lead:
            ctx.audit("access.refused", details={"reason": "leads only", "button": prefix})
            return toast("leads_only")
        return callback.handler(ctx, rest.split(":") if rest else [])

    # --- the pending question ---------------------------------------------------------------

    def _pending_for(self, ctx: Ctx) -> tuple[PendingQuestion | None, Ticket | None]:
        """The question this message answers: the one replied to, else the newest here."""
        inc = ctx.incoming
        uid = inc.user.user_id
        pending = None
        if inc.reply_to_message_id is not None:
            ticket_id = records.ticket_for_message(
                ctx.session, inc.chat_id, inc.reply_to_message_id
            )
            if ticket_id is not None:
                candidate = records.pending_for_ticket(ctx.session, ticket_id)
                if candidate is not None and candidate.user_id == uid:
                    pending = candidate
        if pending is None:
            pending = records.latest_pending(ctx.session, inc.chat_id, uid)
        if pending is None:
            return None, None
        if pending.ticket_id is None:
            return records.pending_by_id(ctx.session, pending.id), None
        # Lock the ticket first, then re-read its question: a second message sent at the same
        # moment waits here and then answers whatever is asked next, losing nothing.
        ticket = records.lock_ticket(ctx.session, pending.ticket_id)
        fresh = records.pending_for_ticket(ctx.session, pending.ticket_id)
        if ticket is None or fresh is None or fresh.user_id != uid:
            return records.latest_pending(ctx.session, inc.chat_id, uid), None
        return fresh, ticket

    def _answer(self, ctx: Ctx, pending: PendingQuestion, ticket: Ticket | None, text: str):
        if ticket is None:
            if pending.ticket_id is not None:
                ctx.say("chat/empty.html")
                return None
            return self._choose_typed(ctx, pending, text)
        if not text:
            ctx.say("chat/empty_answer.html")
            return None
        intake.answer(ctx, ticket, pending, text)
        return None

    # --- starting tickets -------------------------------------------------------------------

    def _start(self, ctx: Ctx, text: str, command: str | None) -> None:
        """Open a draft: by `/new <command>`, by a single keyword match, or by asking."""
        if command:
            procedure = self._by_command(ctx, command)
            if procedure is not None:
                intake.create_ticket(ctx, procedure, text, ctx.incoming.message_id)
            return
        matches = self.procedures.match(text) if text else []
        if len(matches) == 1:
            procedure = ctx.procedure(matches[0].id)
            if procedure is not None:
                intake.create_ticket(ctx, procedure, text, ctx.incoming.message_id)
            return
        self._offer_procedures(ctx, text, [p.id for p in matches])

    def _by_command(self, ctx: Ctx, command: str):
        """The procedure `/new <command>` names; a broken one is reported like at any step."""
        try:
            return self.procedures.by_command(command)
        except ProcedureError as error:
            return ctx.procedure(error.procedure_id or command)

    def _names_a_procedure(self, command: str) -> bool:
        try:
            return self.procedures.by_command(command) is not None
        except ProcedureError:
            return True  # it exists but is broken: _start says so

    def _offer_procedures(self, ctx: Ctx, text: str, candidates: list[str]) -> None:
        options = candidates or [s.id for s in self.procedures.summaries() if s.valid]
        if not options:
            ctx.say("chat/no_procedures.html")
            ctx.notify_leads("chat/no_procedures_leads.html")
            return
        titles = {s.id: s.title for s in self.procedures.summaries()}
        offered = tuple(options[:20])
        pending = records.store_pending(
            ctx.session,
            chat_id=ctx.incoming.chat_id,
            user_id=ctx.actor.user_id,
            kind=Kind.CHOOSE,
            payload=Payload(text=text, message_id=ctx.incoming.message_id, options=offered),
            thread_id=ctx.incoming.thread_id,
            asked_at=ctx.now,
        )
        ctx.audit("question.asked", details={"field": "procedure", "options": list(offered)})
        buttons = tuple(
            (
                Button(
                    data.label("procedure", text=titles.get(pid, pid)),
                    data.ChooseProcedure(pending.id, i).encode(),
                ),
            )
            for i, pid in enumerate(offered)
        )
        ctx.say(
            "chat/choose_procedure.html",
            buttons=buttons,
            several=bool(candidates),
            options=[(i + 1, titles.get(pid, pid)) for i, pid in enumerate(offered)],
        )

    def _choose_typed(self, ctx: Ctx, pending: PendingQuestion, text: str) -> None:
        options = pending.payload.options
        word = text.strip().lower()
        titles = {s.id: s.title.lower() for s in self.procedures.summaries()}
        chosen = None
        if word.isascii() and word.isdigit() and 1 <= int(word) <= len(options):
            chosen = options[int(word) - 1]
        else:
            chosen = next((o for o in options if word in (o, titles.get(o))), None)
        if chosen is None:
            records.drop_pending(ctx.session, pending)
            self._offer_procedures(ctx, text, [])
            return
        self._create_from_choice(ctx, pending, chosen)

    def _create_from_choice(self, ctx: Ctx, pending: PendingQuestion, procedure_id: str) -> None:
        procedure = ctx.procedure(procedure_id)
        if procedure is None:
            return
        text, message_id = pending.payload.text, pending.payload.message_id
        records.drop_pending(ctx.session, pending)
        intake.create_ticket(ctx, procedure, text, message_id)

    # --- core commands and buttons ----------------------------------------------------------

    def _install_core(self) -> None:
        from bot.services import tickets

        r = self.registry
        r.command("start", self._help, listed=False)
        r.command("help", self._help)
        r.command("new", self._new)
        r.command("skip", self._skip)
        r.command("cancel", self._cancel)
        r.command("procedures", self._procedures)
        tickets.install(r)
        r.callback("p", self._choose_button)
        r.callback("c", self._choice_button)
        r.callback("x", self._skip_button)
        r.callback("y", self._confirm_button)
        r.callback("e", self._change_button)
        r.callback("f", self._field_button)

    def _help(self, ctx: Ctx, args: str) -> None:
        ctx.say("chat/help.html", commands=self.commands(), is_lead=ctx.is_lead)

    def _procedures(self, ctx: Ctx, args: str) -> None:
        ctx.say("chat/procedures.html", summaries=self.procedures.summaries())

    def _new(self, ctx: Ctx, args: str) -> None:
        head, _, rest = args.partition(" ")
        if head and self._names_a_procedure(head.lower()):
            self._start(ctx, rest.strip(), head.lower())
        else:
            self._start(ctx, args, None)

    def _skip(self, ctx: Ctx, args: str) -> None:
        pending, ticket = self._pending_for(ctx)
        if ticket is None or pending is None:
            ctx.say("chat/nothing_to_skip.html")
            return
        intake.skip(ctx, ticket, pending)

    def _cancel(self, ctx: Ctx, args: str) -> None:
        if args.strip():
            from bot.services.tickets import find

            ticket, _ = find(ctx, args, "/cancel N")
            if ticket is None:
                return
            try:
                ticket.check_may_cancel(ctx.actor, lead=ctx.is_lead)
            except Refused as refused:
                ctx.refuse(ticket, "cancel", refused.refusal)
                return
            intake.cancel(ctx, ticket, records.pending_for_ticket(ctx.session, ticket.id))
            return
        pending, ticket = self._pending_for(ctx)
        if pending is not None and ticket is None:
            records.drop_pending(ctx.session, pending)
            ctx.audit("draft.cancelled", details={"stage": "choosing a procedure"})
            ctx.say("chat/cancelled.html", ticket=None)
            return
        if ticket is None:
            ctx.say("chat/nothing_to_cancel.html")
            return
        intake.cancel(ctx, ticket, pending)

    def _question_of(
        self, ctx: Ctx, ticket_id: int, n: int, *kinds: Kind
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

    def _choose_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = data.ChooseProcedure.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        pending = records.pending_by_id(ctx.session, pressed.question)
        if pending is None or pending.kind != Kind.CHOOSE:
            return ctx.refuse_button("answered")
        if pending.user_id != ctx.actor.user_id:
            return ctx.refuse_button("not_yours")
        options = pending.payload.options
        if pressed.index >= len(options):
            return ctx.refuse_button("invalid")
        self._edit_pressed(ctx, "choice", options[pressed.index])
        self._create_from_choice(ctx, pending, options[pressed.index])
        return None

    def _choice_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = data.Choice.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        found = self._question_of(ctx, pressed.ticket, pressed.n, Kind.FIELD)
        if isinstance(found, Outcome):
            return found
        chosen = intake.choose(ctx, *found, pressed.index)
        if chosen is not None:
            self._edit_pressed(ctx, "choice", chosen)
        return None

    def _skip_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = data.Skip.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        found = self._question_of(ctx, pressed.ticket, pressed.n, Kind.FIELD)
        if isinstance(found, Outcome):
            return found
        self._edit_pressed(ctx, "skipped")
        intake.skip(ctx, *found)
        return None

    def _confirm_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = data.Confirm.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        found = self._question_of(ctx, pressed.ticket, pressed.n, Kind.CONFIRM)
        if isinstance(found, Outcome):
            return found
        ticket = found[0]
        procedure = ctx.procedure(ticket.procedure_id, ticket)
        if procedure is not None:
            self._edit_pressed(ctx, "confirmed")
            intake.confirm(ctx, ticket, procedure)
        return None

    def _change_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = data.Change.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        found = self._question_of(ctx, pressed.ticket, pressed.n, Kind.CONFIRM)
        if isinstance(found, Outcome):
            return found
        ticket = found[0]
        procedure = ctx.procedure(ticket.procedure_id, ticket)
        if procedure is not None:
            asking.offer_changes(ctx, ticket, procedure)
        return None

    def _field_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        pressed = data.PickField.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        found = self._question_of(ctx, pressed.ticket, pressed.n, Kind.PICK_CHANGE)
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

    def deflection_button(self, ctx: Ctx, parts: list[str]) -> Outcome | None:
        """ "Solved" (`k:<ticket>:s`) or "continue" (`k:<ticket>:c`) on offered articles; the
        knowledge feature owns the `k` prefix and hands these two over."""
        pressed = data.Deflected.parse(parts)
        if pressed is None:
            return ctx.refuse_button("invalid")
        ticket_id = pressed.ticket
        ticket = records.lock_ticket(ctx.session, ticket_id)
        pending = records.pending_for_ticket(ctx.session, ticket_id) if ticket else None
        if ticket is None or pending is None or pending.kind != Kind.DEFLECT:
            return ctx.refuse_button("answered")
        if pending.user_id != ctx.actor.user_id:
            return ctx.refuse_button("not_yours")
        if pressed.answer == "s":
            self._edit_pressed(ctx, "self_served")
            intake.self_served(ctx, ticket)
            return toast("glad")
        self._edit_pressed(ctx, "continuing")
        procedure = ctx.procedure(ticket.procedure_id, ticket)
        if procedure is not None:
            intake.advance(ctx, ticket, procedure, Phase.INTAKE)
        return None

    def _edit_pressed(self, ctx: Ctx, note: str, chosen: str = "") -> None:
        """Show the choice under the question whose button was pressed; its buttons go away."""
        inc = ctx.incoming
        if inc.callback_message_id is None:
            return
        text = render(
            "chat/pressed.html", original=inc.callback_message_html, note=note, chosen=chosen
        )
        edit = Reply(
            chat_id=inc.chat_id, text=text, edit_message_id=inc.callback_message_id, kind="edit"
        )
        ctx.outbox.insert(0, edit)  # the answered question first, then what follows from it


def _addressed(incoming: Incoming) -> bool:
    return incoming.reply_to_bot or incoming.mentions_bot or incoming.text.startswith("/")


def _strip_mention(text: str, username: str | None) -> str:
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", "", text, flags=re.IGNORECASE)
    return text.strip()


def _busy_text() -> str:
    return render("chat/busy.html")
