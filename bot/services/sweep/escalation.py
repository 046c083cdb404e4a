"""Escalation: tell the leads, in one message per recipient, about tickets owed a new level."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.db.models import Reminder
from bot.domain import reminders as rules
from bot.render import render
from bot.services import buttons as data
from bot.services.database import Database
from bot.services.messages import Button, Reply
from bot.services.sweep import queries
from bot.services.sweep.lines import line
from bot.services.sweep.report import Failed, Sender, Sent, SweepReport

log = logging.getLogger(__name__)

ESCALATION_BUTTONS = 30


@dataclass(frozen=True)
class Owed:
    """A ticket owed escalation `level`, chased in chat `chat_id`."""

    ticket_id: int
    level: int
    chat_id: int


def targets(config: Config) -> list[int]:
    """The leads: in the default team chat, else each lead privately."""
    return [config.chats[0].id] if config.chats else sorted(config.leads)


def escalate(
    db: Database,
    config: Config,
    cadence_for: Callable[[str], rules.Cadence],
    sender: Sender,
    now: datetime,
    dry_run: bool,
    owed: list[Owed],
    report: SweepReport,
) -> None:
    """Tell the leads about tickets owed an escalation level, in one message per recipient."""
    recipients = targets(config)
    levels = {o.ticket_id: o for o in owed}
    names = {c.id: c.name for c in config.chats}
    with queries.unit(db, dry_run) as session:
        tickets = queries.tickets_by_id(session, list(levels), lock=not dry_run)
        if not dry_run:
            # Re-check on the locked rows: another sweeper or a person may have been first.
            checked = {
                t.id: rules.pending_escalation(t, cadence_for(t.procedure_id).escalate_after)
                for t in tickets
            }
            tickets = [t for t in tickets if checked[t.id] is not None]
            level_of = {t.id: level for t in tickets if (level := checked[t.id]) is not None}
        else:
            level_of = {t.id: levels[t.id].level for t in tickets}
        if not tickets:
            return
        items = [
            line(t, now) | {"level": level_of[t.id], "chat": names.get(levels[t.id].chat_id)}
            for t in tickets
        ]
        text = render("reminders/escalation.html", tickets=items)
        buttons = tuple(
            (Button(data.label("show_ticket", number=t.id), data.Chase("sh", t.id).encode()),)
            for t in tickets[:ESCALATION_BUTTONS]
        )
        ticket_ids = tuple(t.id for t in tickets)
        if dry_run:
            report.sent += [Sent(chat, "escalation", ticket_ids, text) for chat in recipients]
            report.escalated += len(tickets)
            return
        delivered: list[tuple[int, int]] = []
        for chat in recipients:
            try:
                message_id = sender.send(
                    Reply(chat_id=chat, text=text, buttons=buttons, kind="escalation")
                )
            except Exception as e:  # this recipient failed; the others may still be told
                log.warning("escalation to chat %s not sent: %s", chat, e)
                report.failed.append(Failed(chat, "escalation", ticket_ids, str(e)))
                continue
            delivered.append((chat, message_id))
            report.sent.append(Sent(chat, "escalation", ticket_ids, text, message_id))
        if recipients and not delivered:
            # Nobody was told: look at these tickets again at the next sweep.
            for t in tickets:
                t.chase_at = rules.chase_again(now)
            return
        if not recipients:
            log.warning("escalation owed but no team chat or lead is configured; recorded only")
        told = [(t.id, level_of[t.id]) for t in tickets]
        for chat, message_id in delivered:
            session.add(
                Reminder(
                    chat_id=chat,
                    kind="escalation",
                    ticket_ids=list(ticket_ids),
                    dedupe_key=queries.dedupe_key("escalation", chat, now, told),
                    message_id=message_id,
                    sent_at=now,
                )
            )
        events = []
        for t in tickets:
            t.escalation_level = level_of[t.id]
            events.append(
                queries.event(
                    t,
                    "reminder.escalated",
                    level=level_of[t.id],
                    reminders=t.remind_count,
                    chats=[chat for chat, _ in delivered],
                )
            )
        queries.record_events(session, now, events)
        report.escalated += len(tickets)
