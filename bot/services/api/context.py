"""A program as the one acting: its actor (`agent:NAME`), its scopes and chats, and a `Ctx`
that keeps what the engine says to it instead of queueing it for Telegram."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from bot.config import ClientConfig, Config
from bot.domain.actors import Actor
from bot.domain.ticket import Refusal, Ticket
from bot.render import render
from bot.services.api.problems import Problem
from bot.services.context import Ctx
from bot.services.messages import Button, Reply
from bot.words import refusal as refusal_words

CHAT_TYPE = "api"  # tickets a program opened; not private, so they have a team chat


def agent_id(name: str) -> int:
    """A stable user id for client `name`: negative, so it never meets a Telegram user's."""
    digest = hashlib.sha256(f"agent:{name}".encode()).digest()
    return -(int.from_bytes(digest[:6], "big") + 1)


def agent(client: ClientConfig) -> Actor:
    """The audited actor for a client: `agent:NAME`."""
    return Actor(agent_id(client.name), f"agent:{client.name}")


def authenticate(config: Config, token: str) -> ClientConfig | None:
    """The client whose token this is; compared with every token, no early exit to time."""
    given = token.encode()
    found = None
    for client in config.http.clients:
        if hmac.compare_digest(given, client.token.encode()):
            found = client
    return found


def require(client: ClientConfig, scope: str) -> None:
    if not client.may(scope):
        raise Problem(403, "missing_scope", data={"scope": scope, "scopes": sorted(client.scopes)})


def may_see(client: ClientConfig, ticket: Ticket) -> bool:
    """A client with chats sees the tickets whose chat or home chat is one of them."""
    return not client.chats or bool({ticket.chat_id, ticket.home_chat_id} & set(client.chats))


@dataclass
class ApiCtx(Ctx):
    """The engine's context for a program: what it says is kept here (the program reads the
    result as data), what it sends to others (announcements, the leads) still goes out, and a
    ticket's refusal is kept as a reason code."""

    client: ClientConfig | None = None
    said: list[Reply] = field(default_factory=list)
    refusals: list[tuple[Refusal, int]] = field(default_factory=list)

    @property
    def is_lead(self) -> bool:
        return self.client is not None and self.client.may("lead")

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
        reply = Reply(
            chat_id=self.incoming.chat_id,
            text=render(template, **context),
            ticket_id=ticket_id,
            kind=kind,
        )
        self.said.append(reply)
        return reply

    def refuse(self, ticket: Ticket, action: str, refusal: Refusal) -> None:
        self.audit_ticket(
            "action.refused",
            ticket,
            {"action": action, "reason": refusal.why.value, **refusal.data},
        )
        self.refusals.append((refusal, ticket.id))

    def refused(self) -> Problem | None:
        """The first refusal as a problem (409), if the ticket said no."""
        if not self.refusals:
            return None
        refusal, number = self.refusals[0]
        return Problem(
            409,
            "refused",
            data={"reason": refusal.why.value, "number": number},
            words=refusal_words(refusal, number),
        )
