"""The claim: take every due ticket (locked), decide for each, compose one digest per chat.

Deferred and finished tickets get their new chase time here; the reminded ones get theirs when
their digest is owed (`digests.owe`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config import Config
from bot.domain import reminders as rules
from bot.render import speaking
from bot.services.languages import chat_language
from bot.services.sweep import digests, queries
from bot.services.sweep.escalation import Owed
from bot.services.sweep.report import SweepReport

BATCH = 20_000  # due tickets looked at in one sweep; the rest wait for the next one


def claim_due(
    session: Session,
    config: Config,
    cadence_for: Callable[[str], rules.Cadence],
    now: datetime,
    dry_run: bool,
    report: SweepReport,
) -> tuple[list[digests.Digest], list[Owed]]:
    """The digests to owe and the escalations owed by deferred tickets."""
    default_chat = config.default_chat.id if config.default_chat else None
    due = queries.due_tickets(session, now, BATCH, lock=not dry_run)
    planner = rules.Planner(now, config.reminders, config.tz)
    plans = {t.id: planner.plan(t, cadence_for(t.procedure_id)) for t in due}
    moved: dict[datetime | None, list[int]] = {}
    owed: list[Owed] = []
    to_remind = []
    for t in due:
        p = plans[t.id]
        if p.action == rules.REMIND:
            to_remind.append(t)
            continue
        if p.action == rules.STOP:
            report.stopped += 1
        else:
            report.deferred += 1
            if p.escalate_to is not None:
                chat = rules.chased_in(t, default_chat)
                owed.append(Owed(t, p.escalate_to, chat, t.remind_count))
        moved.setdefault(p.chase_at, []).append(t.id)
    composed: list[digests.Digest] = []
    by_chat = rules.group_by(to_remind, lambda t: rules.chased_in(t, default_chat))
    for chat_id, tickets in by_chat.items():
        tickets.sort(key=lambda t: (t.due_at, t.id))
        # Tickets beyond one message stay due and lead the next sweep's digest.
        with speaking(chat_language(session, config, chat_id)):  # the chat's readers'
            digest = digests.compose(chat_id, tickets, plans, now)
        if digest is not None:
            composed.append(digest)
    if not dry_run:
        for chase_at, ids in moved.items():
            queries.update_tickets(session, ids, chase_at=chase_at)
    return composed, owed
