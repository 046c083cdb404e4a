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
from bot.domain.actors import SYSTEM
from bot.domain.languages import reader_language
from bot.domain.question import Kind
from bot.domain.text import is_blank
from bot.domain.ticket import Ticket
from bot.procedures.store import ProcedureStore
from bot.render import render, speaking
from bot.services import (
    approvals,
    asking,
    attaching,
    audit,
    core_commands,
    inbox,
    intake,
    language_command,
    outbox,
    question_buttons,
    records,
    revising,
    satisfaction,
    starting,
    steps,
    ticket_views,
    tickets,
)
from bot.services.context import Ctx, Registry, toast
from bot.services.database import Database, DatabaseBusy
from bot.services.messages import Delivered, Incoming, Outcome, Reply

log = logging.getLogger(__name__)

MAX_TEXT = 4096
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.S)


class Conversation:
    """Routes people's messages and button presses to the gate and to feature handlers."""

    def __init__(
        self,
        db: Database,
        config: Config,
        procedures: ProcedureStore,
        registry: Registry | None = None,
    ):
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
        except inbox.AlreadyHandled:
            log.info("update %s was handled before; nothing to do", incoming.update_id)
            return Outcome(owed=True)
        except DatabaseBusy:
            if incoming.update_id is not None:
                # Stored in the inbox: it is handled again shortly, nothing for the person to do.
                log.warning("database busy; update %s will be tried again", incoming.update_id)
                return Outcome(
                    retry=True, toast=toast("busy").toast if incoming.callback_data else None
                )
            log.warning("database busy; told user %s to try again", incoming.user.user_id)
            return Outcome(
                replies=[
                    Reply(
                        chat_id=incoming.chat_id,
                        text=_busy_text(
                            reader_language(None, incoming.language_code, self.config.language)
                        ),
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

    def left_unknown_chat(self, chat_id: int, title: str | None, now: datetime) -> None:
        """The adapter left a group that is not the team's: the audit trail says so."""
        self.db.run(
            lambda session: audit.record(
                session,
                now=now,
                actor=SYSTEM,
                action="chat.left",
                details={
                    "chat_id": chat_id,
                    "title": (title or "")[:200],
                    "reason": "unknown chat",
                },
            )
        )

    def commands(self) -> list[tuple[str, str]]:
        """Command names and summaries, for the chat's command menu."""
        return self.registry.listed()

    def menu(self, *, lead: bool, group: bool) -> list[tuple[str, str]]:
        """The command menu of one kind of chat: a member's or a lead's, private or group."""
        return self.registry.menu(lead=lead, group=group)

    def _install_core(self) -> None:
        """What every team has: the core commands, the gate's buttons, working tickets."""
        core_commands.install(self.registry)
        attaching.install(self.registry)
        approvals.install(self.registry)
        satisfaction.install(self.registry)
        question_buttons.install(self.registry)
        tickets.install(self.registry)
        ticket_views.install(self.registry)
        steps.install(self.registry)
        language_command.install(self.registry)

    # --- routing ----------------------------------------------------------------------------

    def _handle(self, session: Session, incoming: Incoming) -> Outcome:
        if incoming.update_id is not None:  # first: a second try finds it taken and stops
            inbox.mark_handled(session, incoming.update_id, incoming.now)
        outcome = self._decide(session, incoming)
        # What the message makes the bot owe is stored with it: sent until sent.
        outbox.owe(session, outcome.replies, incoming.now)
        outcome.owed = True
        return outcome

    def _decide(self, session: Session, incoming: Incoming) -> Outcome:
        ctx = Ctx(
            session=session,
            incoming=incoming,
            config=self.config,
            procedures=self.procedures,
            knowledge_dir=self.knowledge_dir,
            lang=reader_language(None, incoming.language_code, self.config.language),
        )
        with speaking(ctx.lang):  # words rendered anywhere below are the reader's
            return self._decide_as(ctx)

    def _decide_as(self, ctx: Ctx) -> Outcome:
        incoming = ctx.incoming
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
                command = _COMMAND.match(incoming.text.strip())
                if command and command.group(1).lower() == "start":
                    ctx.say("chat/start.html", person=ctx.actor, role=self.config.role_of(user_id))
                else:
                    ctx.say("chat/not_member.html", user_id=user_id)
            return Outcome(
                replies=ctx.outbox,
                toast=render("chat/toast.txt", reason="not_member")
                if incoming.callback_data
                else None,
            )
        ctx.lang = self._remember(ctx)
        with speaking(ctx.lang):
            return self._route(ctx)

    def _route(self, ctx: Ctx) -> Outcome:
        incoming = ctx.incoming
        if incoming.callback_data is not None:
            outcome = self._callback(ctx, incoming.callback_data)
        else:
            outcome = self._message(ctx)
        if not isinstance(outcome, Outcome):  # handlers answer through ctx; a toast is optional
            outcome = Outcome()
        return Outcome(replies=[*ctx.outbox, *outcome.replies], toast=outcome.toast)

    def _remember(self, ctx: Ctx) -> str:
        """Who wrote, so `/assign N @them` knows them; returns the language they read. Stored in
        the message's own transaction: no process-wide memory that a rolled-back message could
        leave wrong."""
        user, code = ctx.actor, ctx.incoming.language_code
        person = records.remember_person(
            ctx.session, user.user_id, user.username, user.name, ctx.now, code
        )
        return reader_language(person.language, person.language_code, self.config.language)

    def _message(self, ctx: Ctx) -> Outcome | None:
        inc = ctx.incoming
        if inc.edited and revising.revise(ctx):  # an edited answer is answered again
            return None
        if inc.edited or inc.unread:  # never silence: say what the bot does take
            if inc.is_private or inc.reply_to_bot or inc.mentions_bot:
                ctx.say("chat/edited.html" if inc.edited else "chat/unread.html", holds=inc.unread)
            return None
        text = inc.text.strip()
        if len(text) > MAX_TEXT:
            ctx.say("chat/too_long.html", limit=MAX_TEXT, length=len(text))
            return None
        m = _COMMAND.match(text)
        if m:
            name, target, args = m.group(1).lower(), m.group(2), (m.group(3) or "").strip()
            if target and inc.bot_username and target.lower() != inc.bot_username.lower():
                return None  # a command for another bot in the same group
            if inc.files and name != "attach":
                attaching.before_command(ctx)  # for the ticket the command makes of them
            return self._command(ctx, name, args)
        if not inc.is_private and not (inc.reply_to_bot or inc.mentions_bot):
            return None  # group chatter that isn't addressed to the bot
        text = _strip_mention(text, inc.bot_username)
        if is_blank(text):  # zero-width spaces and fillers say nothing either
            text = ""
        if inc.files:
            attaching.receive(ctx, text)
            return None
        pending, ticket = asking.question_for_message(ctx)
        if (
            pending is not None
            and pending.kind == Kind.SATISFACTION_COMMENT
            and satisfaction.lapsed(ctx, pending)
        ):
            pending, ticket = asking.question_for_message(ctx)
        if pending is not None:
            return self._answer(ctx, pending, ticket, text)
        if not text:
            ctx.say("chat/empty.html")
            return None
        starting.start(ctx, text, None)
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
        found = self.registry.route(data) if len(data.encode()) <= 64 else None
        if found is None:  # forged or damaged, or made by a version with other buttons
            known = data.partition(":")[0] in self.registry.buttons
            return ctx.refuse_button("invalid" if known else "expired")
        route, pressed = found
        if route.lead_only and not ctx.is_lead:
            ctx.audit(
                "access.refused", details={"reason": "leads only", "button": route.codec.prefix}
            )
            return toast("leads_only")
        return route.handler(ctx, pressed)

    # --- the pending question ---------------------------------------------------------------

    def _answer(self, ctx: Ctx, pending: PendingQuestion, ticket: Ticket | None, text: str):
        if pending.kind == Kind.REJECT_REASON:
            approvals.reason_given(ctx, pending, text)
            return None
        if pending.kind == Kind.SATISFACTION_COMMENT:
            satisfaction.comment_given(ctx, pending, text)
            return None
        if ticket is None:
            if pending.ticket_id is not None:
                ctx.say("chat/empty.html")
                return None
            return starting.choose_typed(ctx, pending, text)
        if not text:
            ctx.say("chat/empty_answer.html")
            return None
        intake.answer(ctx, ticket, pending, text)
        return None


def _addressed(incoming: Incoming) -> bool:
    return incoming.reply_to_bot or incoming.mentions_bot or incoming.text.startswith("/")


def _strip_mention(text: str, username: str | None) -> str:
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", "", text, flags=re.IGNORECASE)
    return text.strip()


def _busy_text(lang: str) -> str:
    return render("chat/busy.html", lang)
