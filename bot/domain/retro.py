"""When a procedure's retrospective questions are asked at resolve, and why.

The reasons are codes (late, reopened, slow, always) stored with the answers, so the leads'
digest can say why a question was asked; `words/retro_reason.txt` says them.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.procedure import Retro
from bot.domain.ticket import Ticket

LATE, REOPENED, SLOW, ALWAYS = "late", "reopened", "slow", "always"


def reasons(retro: Retro, ticket: Ticket, now: datetime) -> tuple[str, ...]:
    """Why the questions of `retro` are asked as `ticket` is resolved at `now`; empty: not
    asked (or there are none to ask)."""
    if not retro.fields:
        return ()
    found: list[str] = []
    if "late" in retro.when and ticket.due_at is not None and now > ticket.due_at:
        found.append(LATE)
    if "reopened" in retro.when and ticket.reopen_count > 0:
        found.append(REOPENED)
    if (
        retro.longer_than is not None
        and ticket.opened_at is not None
        and now - ticket.opened_at > retro.longer_than
    ):
        found.append(SLOW)
    if not found and retro.always:
        found.append(ALWAYS)
    return tuple(found)
