"""One digest per chat: composed within Telegram's limits, owed through the outbox, and recorded
(the tickets' chasing state, a `Reminder` row, one audit event per ticket) in the claim's
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.domain import reminders as rules
from bot.domain.languages import ENGLISH
from bot.domain.ticket import Ticket
from bot.render import TELEGRAM_LIMIT, current_language, render, speaking
from bot.services import buttons as data
from bot.services import outbox
from bot.services.messages import Button, Reply
from bot.services.sweep import queries
from bot.services.sweep.escalation import Owed
from bot.services.sweep.lines import line
from bot.services.sweep.report import Sent, SweepReport

DIGEST_LIMIT = 30  # tickets in one digest (3 buttons each; Telegram allows 100 buttons)


@dataclass
class Digest:
    """One chat's due tickets and the digest that lists them."""

    chat_id: int
    tickets: list[Ticket]  # most late first, as claimed
    plans: dict[int, rules.Plan]
    text: str
    late: dict[int, str]  # ticket id -> "2h 10m late", as the digest says it
    language: str = ENGLISH  # the chat's, which its buttons speak too

    @property
    def ticket_ids(self) -> tuple[int, ...]:
        return tuple(t.id for t in self.tickets)

    def owed(self) -> list[Owed]:
        """The escalations its tickets are owed once it is sent."""
        return [
            Owed(t, level, self.chat_id, self.plans[t.id].remind_count)
            for t in self.tickets
            if (level := self.plans[t.id].escalate_to) is not None
        ]


def compose(
    chat_id: int, due: list[Ticket], plans: dict[int, rules.Plan], now: datetime
) -> Digest | None:
    """The digest of a chat's due tickets (most late first), within Telegram's limit. Tickets
    left out stay due and lead the next sweep's digest; None when not even one fits."""
    count = min(len(due), DIGEST_LIMIT)
    lines = [line(t, now) for t in due[:count]]
    while count > 0:
        listed = due[:count]
        text = render("reminders/digest.html", tickets=lines[:count], more=len(due) - count)
        if len(text) <= TELEGRAM_LIMIT:
            late = {item["id"]: item["late"] for item in lines[:count]}
            return Digest(
                chat_id,
                listed,
                {t.id: plans[t.id] for t in listed},
                text,
                late,
                current_language(),
            )
        count -= 5
    return None


def _buttons(tickets: list[Ticket], language: str) -> tuple[tuple[Button, ...], ...]:
    with speaking(language):
        return _rows(tickets)


def _rows(tickets: list[Ticket]) -> tuple[tuple[Button, ...], ...]:
    # Two of the three labels are the same on every row: rendered once, not once a ticket.
    snooze, show = data.label("snooze"), data.label("show")
    return tuple(
        (
            Button(data.label("on_it", number=t.id), data.Chase("on", t.id).encode()),
            Button(snooze, data.Chase("sn", t.id).encode()),
            Button(show, data.Chase("sh", t.id).encode()),
        )
        for t in tickets
    )


def owe(
    session: Session, digests: list[Digest], now: datetime, dry_run: bool, report: SweepReport
) -> list[Owed]:
    """Owe each chat its digest and record it on the tickets, in the caller's transaction (or,
    in a dry run, only report it). Returns the escalations the reminded tickets are owed."""
    owed = [o for d in digests for o in d.owed()]
    report.reminded += sum(len(d.tickets) for d in digests)
    if dry_run or not digests:
        report.sent += [Sent(d.chat_id, "digest", d.ticket_ids, d.text) for d in digests]
        return owed
    rows = outbox.owe(
        session,
        [
            Reply(
                chat_id=d.chat_id,
                text=d.text,
                buttons=_buttons(d.tickets, d.language),
                kind="digest",
            )
            for d in digests
        ],
        now,
    )
    session.flush()  # the outbox ids, so `sopbot sweep` can follow its messages
    report.sent += [
        Sent(d.chat_id, "digest", d.ticket_ids, d.text, row.id)
        for d, row in zip(digests, rows, strict=True)
    ]
    changes: dict[rules.Reminded, list[int]] = {}
    reminders, events = [], []
    for d in digests:
        for t in d.tickets:
            p = d.plans[t.id]
            changes.setdefault(rules.reminded(p, now), []).append(t.id)
            events.append(
                queries.event(
                    t,
                    "reminder.sent",
                    chat_id=d.chat_id,
                    reminder=p.remind_count,
                    late=d.late[t.id],
                )
            )
        counts = [(t.id, d.plans[t.id].remind_count) for t in d.tickets]
        reminders.append(
            {
                "chat_id": d.chat_id,
                "kind": "digest",
                "ticket_ids": list(d.ticket_ids),
                "dedupe_key": queries.dedupe_key("digest", d.chat_id, now, counts),
                "sent_at": now,
            }
        )
    for change, ids in changes.items():
        queries.update_tickets(session, ids, **change._asdict())
    queries.add_reminders(session, reminders)
    queries.record_events(session, now, events)
    return owed
