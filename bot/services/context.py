"""The context a command or button handler runs in: one transaction, one person, one clock.

The conversation engine opens the transaction, builds a `Ctx`, and calls the handler that a
feature registered with `Registry.command` / `Registry.button`. Everything the handler writes,
audit events included, commits or rolls back together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from bot.config import Config
from bot.domain.actors import Actor
from bot.domain.languages import ENGLISH
from bot.domain.procedure import Procedure
from bot.domain.ticket import Moved, Refusal, Ticket
from bot.procedures.errors import ProcedureError
from bot.procedures.store import ProcedureStore
from bot.render import render
from bot.services import audit
from bot.services.buttons import Codec
from bot.services.languages import chat_language
from bot.services.messages import Button, Incoming, Outcome, Reply
from bot.words import refusal as refusal_words


@dataclass
class Ctx:
    session: Session
    incoming: Incoming
    config: Config
    procedures: ProcedureStore
    knowledge_dir: Path
    outbox: list[Reply] = field(default_factory=list)
    # The language of the person acting: what `say` answers them in.
    lang: str = ENGLISH

    @property
    def now(self) -> datetime:
        return self.incoming.now

    @property
    def actor(self) -> Actor:
        return self.incoming.user

    @property
    def is_lead(self) -> bool:
        return self.config.is_lead(self.actor.user_id or 0)

    def audit(
        self,
        action: str,
        *,
        ticket_id: int | None = None,
        details: dict[str, Any] | None = None,
        procedure: Procedure | None = None,
        procedure_id: str | None = None,
        procedure_version: str | None = None,
    ) -> None:
        """Append an audit event in this transaction, as the person who is acting."""
        audit.defer(
            self.session,
            now=self.now,
            actor=self.actor,
            action=action,
            ticket_id=ticket_id,
            details=details,
            procedure=procedure,
            procedure_id=procedure_id,
            procedure_version=procedure_version,
        )

    def audit_ticket(
        self, action: str, ticket: Ticket, details: dict[str, Any] | None = None
    ) -> None:
        """An audit event about `ticket`, under the procedure version the ticket carries."""
        self.audit(
            action,
            ticket_id=ticket.id,
            details=details,
            procedure_id=ticket.procedure_id,
            procedure_version=ticket.procedure_version,
        )

    def moved(
        self, ticket: Ticket, moved: Moved | None, procedure: Procedure | None = None
    ) -> None:
        """Audit a status change, under the procedure version that governed it: the one just
        read, else the one the ticket carries."""
        if moved is None:
            return
        details: dict[str, Any] = {"from": moved.old, "to": moved.new}
        if moved.reason:
            details["reason"] = moved.reason
        if procedure is not None:
            self.audit("status.changed", ticket_id=ticket.id, details=details, procedure=procedure)
        else:
            self.audit_ticket("status.changed", ticket, details)

    def refuse(self, ticket: Ticket, action: str, refusal: Refusal) -> None:
        """The ticket said no: audit it and tell the person why, in words."""
        self.audit_ticket(
            "action.refused",
            ticket,
            {"action": action, "reason": refusal.why.value, **refusal.data},
        )
        self.say("chat/refused.html", reason=refusal_words(refusal, ticket.id, self.lang))

    def refuse_button(self, reason: str) -> Outcome:
        """A button press that cannot be acted on: audited, and a short toast says why."""
        data = self.incoming.callback_data
        self.audit("callback.refused", details={"data": (data or "")[:64], "reason": reason})
        return toast(reason)

    def procedure(self, procedure_id: str, ticket: Ticket | None = None) -> Procedure | None:
        """Read the procedure file afresh; when it is broken, say so, tell the leads, keep
        the ticket as it is."""
        try:
            return self.procedures.load(procedure_id, self.lang)
        except ProcedureError as error:
            problems = [str(p) for p in getattr(error, "problems", [])] or [str(error)]
            self.audit(
                "procedure.invalid",
                ticket_id=ticket.id if ticket else None,
                details={"problems": problems[:20], "held_text": self.incoming.text[:2000]},
                procedure_id=procedure_id,
            )
            self.say("chat/procedure_broken.html", ticket=ticket)
            self.notify_leads(
                "chat/procedure_broken_leads.html",
                procedure_id=procedure_id,
                ticket=ticket,
                problems=problems[:10],
            )
            return None

    def say(
        self,
        template: str,
        *,
        buttons: tuple[tuple[Button, ...], ...] = (),
        ticket_id: int | None = None,
        kind: str = "message",
        reply_to: int | None = None,
        **context: Any,
    ) -> Reply:
        """Render `template` as an answer in the chat the person wrote in; queue and return it.

        In a group the answer replies to the person's message so the thread stays readable.
        """
        if reply_to is None and not self.incoming.is_private:
            reply_to = self.incoming.message_id
        reply = Reply(
            chat_id=self.incoming.chat_id,
            text=render(template, self.lang, **context),
            buttons=buttons,
            reply_to=reply_to,
            thread_id=self.incoming.thread_id,
            ticket_id=ticket_id,
            kind=kind,
        )
        self.outbox.append(reply)
        return reply

    def send(self, reply: Reply) -> Reply:
        """Queue a message to another chat (announcements, leads' notices)."""
        self.outbox.append(reply)
        return reply

    def notify_leads(self, template: str, **context: Any) -> None:
        """Tell the leads: in the default team chat, else each lead privately; each in the
        language of the chat it goes to."""
        targets = [self.config.chats[0].id] if self.config.chats else sorted(self.config.leads)
        for chat_id in targets:
            text = render(template, self.language_of_chat(chat_id), **context)
            self.outbox.append(Reply(chat_id=chat_id, text=text, kind="leads"))

    def language_of_chat(self, chat_id: int) -> str:
        """Who reads a message sent to `chat_id`: a private chat is its person, in their
        language; a team chat reads its own or the team's."""
        return chat_language(self.session, self.config, chat_id)


def toast(reason: str, **context: Any) -> Outcome:
    """A short answer to a button press, from `chat/toast.txt`."""
    return Outcome(toast=render("chat/toast.txt", reason=reason, **context))


# A command handler gets the context and the text after the command; a button handler gets
# the context and the button, parsed by its codec. Both answer through `ctx.say` / `ctx.send`,
# and may return an Outcome to set a toast for a button press.
CommandHandler = Callable[[Ctx, str], Outcome | None]
C = TypeVar("C", bound=Codec)
ButtonHandler = Callable[[Ctx, C], Outcome | None]


@dataclass(frozen=True)
class Command:
    name: str
    handler: CommandHandler
    lead_only: bool = False
    listed: bool = True  # in /help and the chat's command menu, with words from chat/commands.txt

    @property
    def summary(self) -> str:
        return render("chat/commands.txt", name=self.name) if self.listed else ""


@dataclass(frozen=True)
class Route:
    """A kind of button and what handles it."""

    codec: type[Codec]
    handler: ButtonHandler[Any]
    lead_only: bool = False


PRIVATE_ONLY = frozenset({"start"})  # commands a group's menu leaves out


class Registry:
    """Where each feature plugs in its chat commands and button handlers."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        # Kinds of button by prefix: several kinds may share one (their parts tell them apart).
        self.buttons: dict[str, list[Route]] = {}

    def command(
        self, name: str, handler: CommandHandler, *, lead_only: bool = False, listed: bool = True
    ) -> None:
        if name in self.commands:
            raise ValueError(f"command /{name} is registered twice")
        self.commands[name] = Command(name, handler, lead_only, listed)

    def listed(self) -> list[tuple[str, str]]:
        """Command names and what each does, for /help and the chat's command menu."""
        return [(c.name, c.summary) for c in self.commands.values() if c.listed]

    def menu(self, *, lead: bool, group: bool) -> list[tuple[str, str]]:
        """The listed commands one kind of chat offers: lead-only ones to leads; in a group,
        not /start, which is about the person and answered in private."""
        return [
            (c.name, c.summary)
            for c in self.commands.values()
            if c.listed and (lead or not c.lead_only) and not (group and c.name in PRIVATE_ONLY)
        ]

    def button(self, codec: type[C], handler: ButtonHandler[C], *, lead_only: bool = False) -> None:
        """Handle presses of buttons made by `codec`; data it cannot parse never reaches
        `handler`."""
        routes = self.buttons.setdefault(codec.prefix, [])
        if ":" in codec.prefix or any(r.codec is codec for r in routes):
            raise ValueError(f"button {codec.__name__} is registered twice or its prefix has ':'")
        routes.append(Route(codec, handler, lead_only))

    def route(self, data: str) -> tuple[Route, Codec] | None:
        """The kind of button `data` is and the button itself; None for data no kind made."""
        prefix, _, rest = data.partition(":")
        parts = rest.split(":") if rest else []
        for route in self.buttons.get(prefix, ()):
            pressed = route.codec.parse(parts)
            if pressed is not None:
                return route, pressed
        return None
