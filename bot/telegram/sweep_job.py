"""The overdue sweep on python-telegram-bot's JobQueue.

The sweep is synchronous (it owns a database transaction), so it runs in a worker thread. It
only owes its messages; the application's outbox sender delivers them, woken when a sweep owed
something, within the same rate limits and retries as every other message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from telegram.ext import Application, ContextTypes, Job

from bot.app import Services
from bot.services.sweep import SweepReport, sweep

log = logging.getLogger(__name__)

FIRST_SWEEP = 10.0  # seconds after start-up, so the bot is connected first
JOB_NAME = "overdue-sweep"


def schedule_sweeps(application: Application, services: Services) -> Job:
    """Run the sweep every `reminders.sweep_every` seconds on the application's JobQueue."""
    if application.job_queue is None:
        raise RuntimeError(
            'the overdue sweep needs python-telegram-bot\'s "job-queue" extra: '
            'pip install "python-telegram-bot[job-queue]"'
        )
    every = services.config.reminders.sweep_every
    return application.job_queue.run_repeating(
        run_sweep,
        interval=every,
        first=min(FIRST_SWEEP, every),
        name=JOB_NAME,
        data=services,
        # A sweep still running when the next is due: skip it rather than pile them up.
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


async def run_sweep(context: ContextTypes.DEFAULT_TYPE) -> SweepReport | None:
    """One sweep in a worker thread; a failure is logged and the next run tries again."""
    services: Services = context.job.data
    now = datetime.now(UTC)
    try:
        report = await asyncio.to_thread(
            sweep, services.db, services.config, services.procedures, now
        )
    except Exception:
        log.exception(
            "the overdue sweep failed; it runs again in %ss", services.config.reminders.sweep_every
        )
        return None
    if report.sent:
        sender = context.bot_data.get("sender")
        if sender is not None:
            sender.wake()
        log.info(
            "sweep: %d message(s) owed, %d ticket(s) reminded, %d escalated",
            len(report.sent),
            report.reminded,
            report.escalated,
        )
    return report
