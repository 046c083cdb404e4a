"""Escalation: tell the leads, in one message per recipient, about tickets owed a new level.

Owed in the claim's transaction, with the new levels, so the leads are told exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config import Config
from bot.domain.ticket import Ticket
from bot.render import render, speaking
from bot.services import buttons as data
from bot.services import outbox
from bot.services.languages import chat_language
from bot.services.messages import Button, Reply
from bot.services.sweep import queries
from bot.services.sweep.lines import line
from bot.services.sweep.report import Sent, SweepReport

log = logging.getLogger(__name__)

ESCALATION_BUTTONS = 30


@dataclass(frozen=True)
class Owed:
    """Ticket `ticket` is owed escalation `level` after `reminders` reminders in chat `chat_id`."""

    ticket: Ticket
    level: int
    chat_id: int
    reminders: int


def targets(config: Config) -> list[int]:
    """The leads: in the default team chat, else each lead privately."""
    return [config.chats[0].id] if config.chats else sorted(config.leads)


def escalate(
    session: Session,
    config: Config,
    now: datetime,
    dry_run: bool,
    owed: list[Owed],
    report: SweepReport,
) -> None:
    """Owe the leads one message per recipient about the tickets owed a new level, and record
    the levels, in the caller's transaction (or, in a dry run, only report it)."""
    if not owed:
        return
    recipients = targets(config)
    ticket_ids = tuple(o.ticket.id for o in owed)
    report.escalated += len(owed)
    # Each recipient reads it in its own language: composed once per language.
    language_of = {c: chat_language(session, config, c) for c in recipients}
    said = {
        lang: _compose(config, owed, ticket_ids, now, lang)
        for lang in {*language_of.values()} or {config.language}
    }
    if dry_run:
        report.sent += [
            Sent(c, "escalation", ticket_ids, said[language_of[c]][0]) for c in recipients
        ]
        return
    if not recipients:
        log.warning("escalation owed but no team chat or lead is configured; recorded only")
    rows = outbox.owe(
        session,
        [
            Reply(chat_id=c, text=text, buttons=buttons, kind="escalation")
            for c in recipients
            for text, buttons in [said[language_of[c]]]
        ],
        now,
    )
    session.flush()  # the outbox ids, so `sopbot sweep` can follow its messages
    report.sent += [
        Sent(chat, "escalation", ticket_ids, said[language_of[chat]][0], row.id)
        for chat, row in zip(recipients, rows, strict=True)
    ]
    told = sorted((o.ticket.id, o.level) for o in owed)
    queries.add_reminders(
        session,
        [
            {
                "chat_id": chat,
                "kind": "escalation",
                "ticket_ids": list(ticket_ids),
                "dedupe_key": queries.dedupe_key("escalation", chat, now, told),
                "sent_at": now,
            }
            for chat in recipients
        ],
    )
    by_level: dict[int, list[int]] = {}
    for o in owed:
        by_level.setdefault(o.level, []).append(o.ticket.id)
    for level, ids in by_level.items():
        queries.update_tickets(session, ids, escalation_level=level)
    queries.record_events(
        session,
        now,
        [
            queries.event(
                o.ticket,
                "reminder.escalated",
                level=o.level,
                reminders=o.reminders,
                chats=recipients,
            )
            for o in owed
        ],
    )


def _compose(
    config: Config, owed: list[Owed], ticket_ids: tuple[int, ...], now: datetime, language: str
) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The escalation's text and buttons in one language."""
    names = {c.id: c.name for c in config.chats}
    with speaking(language):
        items = [
            line(o.ticket, now)
            | {"level": o.level, "chat": names.get(o.chat_id), "reminders": o.reminders}
            for o in owed
        ]
        buttons = tuple(
            (Button(data.label("show_ticket", number=n), data.Chase("sh", n).encode()),)
            for n in ticket_ids[:ESCALATION_BUTTONS]
        )
        return render("reminders/escalation.html", tickets=items), buttons
