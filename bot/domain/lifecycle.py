"""Ticket statuses and the transitions between them; every path (chat, button, CLI) obeys these."""

from __future__ import annotations

WAITING = "waiting_for_info"
OPEN = "open"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
REOPENED = "reopened"
CLOSED = "closed"
CANCELLED = "cancelled"

# People read statuses through the `status` template filter (bot/templates/words/status.txt).
STATUSES = (WAITING, OPEN, IN_PROGRESS, RESOLVED, REOPENED, CLOSED, CANCELLED)

_ALLOWED: dict[str, set[str]] = {
    # CLOSED: a draft the knowledge base solved; IN_PROGRESS/REOPENED: an opened ticket that
    # had to wait for information again (its procedure changed) goes back to where it was.
    WAITING: {OPEN, IN_PROGRESS, REOPENED, CANCELLED, CLOSED},
    OPEN: {IN_PROGRESS, RESOLVED, CLOSED, WAITING},
    IN_PROGRESS: {RESOLVED, CLOSED, WAITING, OPEN},
    REOPENED: {IN_PROGRESS, RESOLVED, CLOSED, WAITING},
    RESOLVED: {CLOSED, REOPENED},
    CLOSED: {REOPENED},
    CANCELLED: set(),
}

# Statuses in which work is still owed (chased when late, listed by /open).
ACTIVE = (WAITING, OPEN, IN_PROGRESS, REOPENED)
# Statuses where work on the ticket (steps, assignment, resolving) may happen.
WORKABLE = (OPEN, IN_PROGRESS, REOPENED)


class TransitionError(Exception):
    """A status change the lifecycle does not allow: from `current` to `target` (codes);
    `bot/templates/words/transition.txt` says it in words."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(current, target)
        self.current = current
        self.target = target

    def __str__(self) -> str:  # for logs and tracebacks, which are read by developers
        return f"{self.current} -> {self.target} is not allowed"


def check_transition(current: str, target: str) -> None:
    if target not in _ALLOWED.get(current, set()):
        raise TransitionError(current, target)
