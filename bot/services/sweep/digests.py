"""One digest per chat: compose it (within Telegram's limits), send it, record it.

Recording is batched (`Book`); a digest that could not be sent is released, due again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import reminders as rules
from bot.domain.ticket import Ticket
from bot.render import TELEGRAM_LIMIT, render
from bot.services import buttons as data
from bot.services.database import Database
from bot.services.messages import Button, Reply
from bot.services.sweep import queries
from bot.services.sweep.escalation import Owed
from bot.services.sweep.lines import line
from bot.services.sweep.report import Failed, Sender, Sent, SweepReport, phase

log = logging.getLogger(__name__)

SEND_BUDGET = rules.LEASE / 2  # stop sending (and release) well before a claim could expire
RECORD_EVERY = timedelta(milliseconds=200)  # sent digests are committed at least this often
DIGEST_LIMIT = 30  # tickets in one digest (3 buttons each; Telegram allows 100 buttons)


@dataclass
class Digest:
    """One chat's claimed tickets and the digest that lists them."""

    chat_id: int
    # Most late first; as claimed (what the sweep writes on them later is not reflected here).
    tickets: list[Ticket]
    plans: dict[int, rules.Plan]
    text: str
    late: dict[int, str]  # ticket id -> "2h 10m late", as the digest says it

    @property
    def ticket_ids(self) -> tuple[int, ...]:
        return tuple(t.id for t in self.tickets)

    def owed(self) -> list[Owed]:
        """The escalations its tickets are owed once it is sent."""
        return [
            Owed(t.id, level, self.chat_id)
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
            return Digest(chat_id, listed, {t.id: plans[t.id] for t in listed}, text, late)
        count -= 5
    return None


def _buttons(tickets: list[Ticket]) -> tuple[tuple[Button, ...], ...]:
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


def send(
    db: Database,
    sender: Sender,
    now: datetime,
    dry_run: bool,
    digests: list[Digest],
    report: SweepReport,
) -> list[Owed]:
    """Send each chat's digest; record the sent ones, release the others for the next sweep."""
    owed: list[Owed] = []
    if dry_run:
        for d in digests:
            report.sent.append(Sent(d.chat_id, "digest", d.ticket_ids, d.text))
            report.reminded += len(d.tickets)
            owed += d.owed()
        return owed
    book = Book(db, now, report)
    started = time.monotonic()
    position = 0
    try:
        for position, d in enumerate(digests):  # noqa: B007 (read in `finally`)
            if time.monotonic() - started > SEND_BUDGET.total_seconds():
                # Past half the lease another sweeper could take these over: leave them to it.
                report.failed.append(Failed(d.chat_id, "digest", d.ticket_ids, "out of time"))
                book.release(d)
                continue
            reply = Reply(
                chat_id=d.chat_id, text=d.text, buttons=_buttons(d.tickets), kind="digest"
            )
            try:
                message_id = sender.send(reply)
            except Exception as e:  # any failure of the transport: release, retry next sweep
                log.warning("digest to chat %s not sent, retried next sweep: %s", d.chat_id, e)
                report.failed.append(Failed(d.chat_id, "digest", d.ticket_ids, str(e)))
                book.release(d)
                continue
            book.sent(d, message_id)
            owed += d.owed()
        position = len(digests)
    finally:
        # Interrupted (shutdown, a crash in the sender): what was sent is recorded, what was
        # not tried yet is due again; the one in flight keeps its lease (it may have arrived).
        for d in digests[position + 1 :]:
            book.release(d)
        book.flush()
    return owed


class Book:
    """Records sent digests (state, Reminder row, audit) and releases unsent claims.

    Records are committed as soon as a send took longer than RECORD_EVERY, and otherwise in
    batches: when sends are quick (many chats), one transaction records many digests, so each
    ticket page is written once instead of once per chat.
    """

    def __init__(self, db: Database, now: datetime, report: SweepReport):
        self.db = db
        self.now = now
        self.report = report
        self.done: list[tuple[Digest, int]] = []
        self.released: list[Digest] = []
        self.since: float | None = None

    def sent(self, d: Digest, message_id: int) -> None:
        self.done.append((d, message_id))
        self.report.sent.append(Sent(d.chat_id, "digest", d.ticket_ids, d.text, message_id))
        self.report.reminded += len(d.tickets)
        self._maybe_flush()

    def release(self, d: Digest) -> None:
        self.released.append(d)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self.since is None:
            self.since = time.monotonic()
        if time.monotonic() - self.since >= RECORD_EVERY.total_seconds():
            self.flush()

    def flush(self) -> None:
        if not self.done and not self.released:
            return
        now = self.now
        with phase(self.report, "record"), self.db.transaction() as session:
            for d in self.released:
                queries.release(session, d.ticket_ids, now)
            changes: dict[rules.Reminded, list[int]] = {}
            reminders, events = [], []
            for d, message_id in self.done:
                for t in d.tickets:
                    p = d.plans[t.id]
                    changes.setdefault(rules.reminded(p, now), []).append(t.id)
                    events.append(
                        queries.event(
                            t,
                            "reminder.sent",
                            chat_id=d.chat_id,
                            message_id=message_id,
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
                        "message_id": message_id,
                        "sent_at": now,
                    }
                )
            for change, ids in changes.items():
                queries.update_tickets(session, ids, **change._asdict())
            queries.add_reminders(session, reminders)
            queries.record_events(session, now, events)
        self.done, self.released, self.since = [], [], None
