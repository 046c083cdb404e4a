"""The names of a ticket's statuses, and the groups the rules speak of. Which moves between
them are allowed is a rule of the Ticket (`bot.domain.ticket`)."""

from __future__ import annotations

WAITING = "waiting_for_info"
OPEN = "open"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
REOPENED = "reopened"
CLOSED = "closed"
CANCELLED = "cancelled"
REJECTED = "rejected"  # an approver said no, with a reason; final, unless a lead reopens it

# People read statuses through the `status` template filter (bot/templates/words/status.txt).
STATUSES = (WAITING, OPEN, IN_PROGRESS, RESOLVED, REOPENED, CLOSED, CANCELLED, REJECTED)

# Statuses in which work is still owed (chased when late, listed by /open).
ACTIVE = (WAITING, OPEN, IN_PROGRESS, REOPENED)
# Statuses where work on the ticket (steps, assignment, resolving) may happen.
WORKABLE = (OPEN, IN_PROGRESS, REOPENED)
