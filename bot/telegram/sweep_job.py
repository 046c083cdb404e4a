"""The overdue sweep on python-telegram-bot's JobQueue, and the sender it sends through.

The sweep is synchronous (it owns database transactions), so it runs in a worker thread; its
messages still go through the application's one `Bot` on the event loop, so the rate limiter
and the retries apply to them like to every other message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from telegram import Bot
from telegram.ext import Application, ContextTypes, Job

from bot.app import Services
from bot.services.messages import Reply
from bot.services.sweep import SweepReport, sweep
from bot.telegram.send import send_reply

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0  # seconds one digest may take, retries included, before it counts as failed
FIRST_SWEEP = 10.0  # seconds after start-up, so the bot is connected first
JOB_NAME = "overdue-sweep"


class BotSender:
    """Sends a sweep's replies from a worker thread through `bot` on the event loop `loop`."""

    def __init__(self, bot: Bot, loop: asyncio.AbstractEventLoop, timeout: float = SEND_TIMEOUT):
        self.bot = bot
        self.loop = loop
        self.timeout = timeout

    def send(self, reply: Reply) -> int:
        """The id of the (last) message sent; raises when Telegram did not take it."""
        future = asyncio.run_coroutine_threadsafe(send_reply(self.bot, reply), self.loop)
        try:
            messages = future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            raise
        if not messages:
            raise RuntimeError(f"nothing was sent to chat {reply.chat_id}")
        return messages[-1].message_id


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
    sender = BotSender(context.bot, asyncio.get_running_loop())
    now = datetime.now(UTC)
    try:
        report = await asyncio.to_thread(
            sweep, services.db, services.config, services.procedures, sender, now
        )
    except Exception:
        log.exception(
            "the overdue sweep failed; it runs again in %ss", services.config.reminders.sweep_every
        )
        return None
    if report.sent or report.failed:
        log.info(
            "sweep: %d message(s) sent, %d failed, %d ticket(s) reminded, %d escalated",
            len(report.sent),
            len(report.failed),
            report.reminded,
            report.escalated,
        )
    return report
