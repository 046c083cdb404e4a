"""A ticket as one line of a digest, an escalation, the daily plan or the show button."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.ticket import Ticket
from bot.words import lateness


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
    """How late, in words: `due now`, `45 minutes late` (`words/late.txt`)."""
    return lateness(due_at, now)
