"""The overdue sweep: chase late tickets with one digest per chat, escalate, send the daily plan.

Exactly once, in three steps:

1. Claim (`claim`). One transaction takes every due ticket (`chase_at <= now`, through the
   partial index `ix_tickets_chase_at`; `FOR UPDATE SKIP LOCKED` on PostgreSQL, the writer lock
   taken at BEGIN on SQLite), plans each (remind, defer, stop: `bot.domain.reminders`) and
   leases the ones to remind by moving their `chase_at` to `now + LEASE`. Once that commits no
   other sweeper sees them as due.
2. Send one digest per chat (`digests`), holding no lock, so people pressing buttons never wait
   on Telegram.
3. Record (`digests.Book`). For each digest Telegram accepted: `last_reminded_at`,
   `remind_count`, the next `chase_at`, a `Reminder` row and one `reminder.sent` audit event per
   ticket, in one transaction. A digest that failed is released (due again), so the next sweep
   retries it.

The gap: a crash after Telegram took a digest and before its record committed sends that digest
again once the lease ends (records are committed at least every RECORD_EVERY, so that is the
digest in flight, or a fraction of a second's worth when sends are very fast). A crash before
sending only delays the claimed tickets by the lease; nothing is dropped.

Then the escalations owed (`escalation`) and each team chat's daily plan (`daily`, claimed by
its unique `dedupe_key`). `run.sweep` ties the phases together. The chat side (`install`, in
`buttons`) adds the digest's buttons: "On it", "Snooze 1 h" and "Show".
"""

from __future__ import annotations

from bot.domain.reminders import LEASE
from bot.services.sweep.buttons import install, on_button, on_it, show, snooze
from bot.services.sweep.report import Failed, ProcedureSource, Sender, Sent, SweepReport
from bot.services.sweep.run import sweep

__all__ = [
    "LEASE",
    "Failed",
    "ProcedureSource",
    "Sender",
    "Sent",
    "SweepReport",
    "install",
    "on_button",
    "on_it",
    "show",
    "snooze",
    "sweep",
]
