"""A ticket as one line of a digest, an escalation, the daily plan or the show button."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from bot.domain import reminders as rules
from bot.domain.durations import format_duration
from bot.domain.ticket import Ticket
from bot.render import render


def line(t: Ticket, now: datetime) -> dict[str, Any]:
    """The data a template needs to list the ticket; its words are the template's."""
    return {
        "id": t.id,
        "title": t.title,
        "assignee_id": t.assignee_id,
        "assignee_name": t.assignee_name,
        "late": late(t.due_at, now) if t.due_at else "",
        "reminders": t.remind_count,
        "level": t.escalation_level,
    }


def late(due_at: datetime, now: datetime) -> str:
    """How late, in words: `due now`, `45m late`, `2h 10m late` (from `reminders/late.txt`)."""
    by = rules.late_by(due_at, now)
    return _late_words(format_duration(by) if by is not None else None)


# A sweep says how late thousands of tickets are, mostly with the same few words: rendering
# each once keeps the template out of the sweep's time. Keyed by the words' data alone.
@lru_cache(maxsize=4096)
def _late_words(by: str | None) -> str:
    return render("reminders/late.txt", by=by)
