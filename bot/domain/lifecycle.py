"""Ticket statuses and the transitions between them; every path (chat, button, CLI) obeys these."""

from __future__ import annotations

WAITING = "waiting_for_info"
OPEN = "open"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
REOPENED = "reopened"
CLOSED = "closed"
CANCELLED = "cancelled"

LABELS = {
    WAITING: "waiting for info",
    OPEN: "open",
    IN_PROGRESS: "in progress",
    RESOLVED: "resolved",
    REOPENED: "reopened",
    CLOSED: "closed",
    CANCELLED: "cancelled",
}

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
    """A status change the lifecycle does not allow; the message says why in plain words."""


def check_transition(current: str, target: str) -> None:
    if target not in _ALLOWED.get(current, set()):
        raise TransitionError(
            f"a ticket that is {LABELS.get(current, current)} cannot become "
            f"{LABELS.get(target, target)}"
        )


def label(status: str) -> str:
    return LABELS.get(status, status)
