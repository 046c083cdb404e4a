"""The daily plan: each team chat's overview, once per local day, at `reminders.daily_digest`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import Reminder
from bot.domain import reminders as rules
from bot.render import render, speaking
from bot.services import outbox
from bot.services.database import Database
from bot.services.messages import Reply
from bot.services.sweep import queries
from bot.services.sweep.digests import DIGEST_LIMIT
from bot.services.sweep.lines import line
from bot.services.sweep.report import Sent, SweepReport


def owe_daily_plans(
    db: Database, config: Config, now: datetime, dry_run: bool, report: SweepReport
) -> None:
    """Owe each team chat its daily plan, once per local day, at `reminders.daily_digest`; each
    in its own transaction, claimed by the plan's `dedupe_key`."""
    tz = config.tz
    day = rules.daily_plan_day(now, config.reminders.daily_digest, config.reminders, tz)
    if day is None:
        return
    for index, chat in enumerate(config.chats):
        key = f"daily:{chat.id}:{day.isoformat()}"
        with queries.unit(db, dry_run) as session:
            if not claim(session, key, chat.id, now, dry_run):
                continue
            # The default chat also holds tickets started privately (no home chat).
            tickets = queries.active_tickets(session, chat.id, homeless=index == 0)
            daily = rules.daily_plan(tickets, now, tz)
            text = _plan(config.chat_language(chat.id), daily, now, tz)
            ticket_ids = tuple(t.id for t in tickets)
            ticket_ids = tuple(t.id for t in tickets)
            if dry_run:
                report.sent.append(Sent(chat.id, "daily", ticket_ids, text))
                continue
            (row,) = outbox.owe(session, [Reply(chat_id=chat.id, text=text, kind="daily")], now)
            session.execute(
                update(Reminder)
                .where(Reminder.dedupe_key == key)
                .values(ticket_ids=list(ticket_ids))
            )
            queries.record_events(
                session,
                now,
                [
                    {
                        "action": "reminder.daily_plan",
                        "ticket_id": None,
                        "details": {
                            "chat_id": chat.id,
                            "day": day.isoformat(),
                            "open": daily.total,
                            "overdue": len(daily.overdue),
                            "due_today": len(daily.due_today),
                        },
                    }
                ],
            )
            session.flush()
            report.sent.append(Sent(chat.id, "daily", ticket_ids, text, row.id))


def claim(
    session: Session,
    key: str,
    chat_id: int,
    now: datetime,
    dry_run: bool,
    *,
    kind: str = "daily",
    ids: tuple[int, ...] = (),
) -> bool:
    """Take a once-only message (the day's plan, a week's retro) for this chat; False when it
    was owed already.

    The unique `dedupe_key` is the claim: a second sweeper's insert waits for the first one's
    transaction and then does nothing.
    """
    if dry_run:
        exists = session.scalar(select(Reminder.id).where(Reminder.dedupe_key == key))
        return exists is None
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = session.execute(
        dialect.insert(Reminder)
        .values(chat_id=chat_id, kind=kind, ticket_ids=list(ids), dedupe_key=key, sent_at=now)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Reminder.id)
    ).scalar()
    return claimed is not None


def _plan(language: str, daily: rules.DailyPlan, now: datetime, tz: ZoneInfo) -> str:
    """The daily plan in the chat's language."""
    with speaking(language):
        return render(
            "reminders/daily_plan.html",
            plan=daily,
            overdue=[line(t, now) for t in daily.overdue[:DIGEST_LIMIT]],
            due_today=[
                line(t, now) | {"due": t.due_at.astimezone(tz)}
                for t in daily.due_today[:DIGEST_LIMIT]
            ],
            more_overdue=max(0, len(daily.overdue) - DIGEST_LIMIT),
            more_due_today=max(0, len(daily.due_today) - DIGEST_LIMIT),
        )
