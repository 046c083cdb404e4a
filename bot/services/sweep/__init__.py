"""The overdue sweep: chase late tickets with one digest per chat, escalate, owe the daily plan.

Exactly once, through the outbox (`bot.services.outbox`):

1. Claim (`claim`). One transaction takes every due ticket (`chase_at <= now`, through the
   partial index `ix_tickets_chase_at`; `FOR UPDATE SKIP LOCKED` on PostgreSQL, the writer lock
   taken at BEGIN on SQLite) and plans each (remind, defer, stop: `bot.domain.reminders`).
2. Owe (`digests`, `escalation`), in the same transaction: one digest per chat and one
   escalation message per recipient go into the outbox, and with them the tickets' new chasing
   state (`last_reminded_at`, `remind_count`, the next `chase_at`, the escalation level), a
   `Reminder` row per message and one audit event per ticket. Either all of it commits or none.
3. The outbox's sender delivers the messages within Telegram's limits, retrying until they are
   taken; a sweep never waits for Telegram and never holds a lock while sending.

A second sweeper at the same moment finds nothing due (every chase time planned is after
`now`), and one running meanwhile skips the locked tickets. The only repeat possible is the
outbox's own (a sender that dies between Telegram's answer and recording it).

Then each team chat's daily plan (`daily`, claimed by its unique `dedupe_key`, owed the same
way). `run.sweep` ties the phases together. The chat side (`install`, in `buttons`) adds the
digest's buttons: "On it", "Snooze 1 h" and "Show".
"""

from __future__ import annotations

from bot.services.sweep.buttons import install, on_button, on_it, show, snooze
from bot.services.sweep.report import ProcedureSource, Sent, SweepReport
from bot.services.sweep.run import sweep

__all__ = [
    "ProcedureSource",
    "Sent",
    "SweepReport",
    "install",
    "on_button",
    "on_it",
    "show",
    "snooze",
    "sweep",
]
