"""The claim: in one transaction, take every due ticket, decide for each, lease those to remind.

The lease (`chase_at` moved to `reminders.leased(now)`) is the claim: once it commits, no other
sweeper sees those tickets as due. Deferred and finished tickets get their new chase time here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.config import Config
from bot.domain import reminders as rules
from bot.services.database import Database
from bot.services.sweep import digests, queries
from bot.services.sweep.escalation import Owed
from bot.services.sweep.report import SweepReport

BATCH = 20_000  # due tickets looked at in one sweep; the rest wait for the next one


def claim_due(
    db: Database,
    config: Config,
    cadence_for: Callable[[str], rules.Cadence],
    now: datetime,
    dry_run: bool,
    report: SweepReport,
) -> tuple[list[digests.Digest], list[Owed]]:
    """The digests to send (their tickets leased) and the escalations owed by deferred tickets."""
    default_chat = config.default_chat.id if config.default_chat else None
    composed: list[digests.Digest] = []
    owed: list[Owed] = []
    with queries.unit(db, dry_run) as session:
        due = queries.due_tickets(session, now, BATCH, lock=not dry_run)
        planner = rules.Planner(now, config.reminders, config.tz)
        plans = {t.id: planner.plan(t, cadence_for(t.procedure_id)) for t in due}
        moved: dict[datetime | None, list[int]] = {}
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
                    owed.append(Owed(t.id, p.escalate_to, rules.chased_in(t, default_chat)))
            moved.setdefault(p.chase_at, []).append(t.id)
        leased: list[int] = []
        by_chat = rules.group_by(to_remind, lambda t: rules.chased_in(t, default_chat))
        for chat_id, tickets in by_chat.items():
            tickets.sort(key=lambda t: (t.due_at, t.id))
            digest = digests.compose(chat_id, tickets, plans, now)
            # Tickets beyond one message stay due and lead the next sweep's digest.
            if digest is not None:
                composed.append(digest)
                leased += digest.ticket_ids
        if not dry_run:
            for chase_at, ids in moved.items():
                queries.update_tickets(session, ids, chase_at=chase_at)
            queries.update_tickets(session, leased, chase_at=rules.leased(now))
    return composed, owed
