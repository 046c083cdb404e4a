"""The one place the Telegram application is put together and run.

`build_application(services)` makes a python-telegram-bot `Application` from the composition
root (`bot.app.Services`) and wires every handler in `add_handlers`;
`run(application, config)` long-polls, or serves the webhook when the configuration says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.app import Services
from bot.config import Config
from bot.http.server import ServerThread
from bot.telegram import handlers
from bot.telegram.commands import scoped_menus
from bot.telegram.concurrency import PerChatUpdateProcessor
from bot.telegram.errors import on_error, redact, secrets_of
from bot.telegram.inbox_queue import InboxApplication, InboxQueue, recover_now_and_then
from bot.telegram.sender import OutboxSender
from bot.telegram.sweep_job import schedule_sweeps

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3  # times a call is retried after Telegram's "retry after N seconds"
MAX_CONCURRENT_UPDATES = 32  # across chats; updates of one chat run one at a time
POLL_TIMEOUT = 30  # seconds a long poll waits for updates
BOOTSTRAP_RETRIES = 5  # getMe/deleteWebhook at start-up, one second apart
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER)
KNOWLEDGE_REFRESH = 300  # seconds between looks for hand-edited knowledge articles
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)
MAX_CONNECT_DELAY = 60.0  # seconds between tries to reach Telegram at start, at most

OnReady = Callable[[str], None]


def build_application(
    services: Services,
    *,
    on_ready: OnReady | None = None,
    rate_limiter: BaseRateLimiter | None = None,
) -> Application:
    """The Telegram application for `services`; `on_ready(username)` runs once it is connected.

    `rate_limiter` defaults to Telegram's flood limits (30 messages/s overall, 20 a minute per
    group, "retry after" waited out); benchmarks pass one without the proactive limits.
    """
    tg = services.config.telegram
    # Opt in to python-telegram-bot's coming time-period type now: otherwise every flood-limit
    # answer (RetryAfter) emits a deprecation warning. Nothing here reads those attributes.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    application = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(file_url(tg.base_url))
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        # Each update is stored in the inbox before Telegram is told it arrived.
        .update_queue(InboxQueue())
        .application_class(InboxApplication)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data["services"] = services
    application.bot_data["on_ready"] = on_ready
    queue = application.update_queue
    assert isinstance(queue, InboxQueue)
    queue.inbox = services.inbox
    add_handlers(application)
    # Both on python-telegram-bot's own JobQueue: never a second scheduler in the process.
    schedule_sweeps(application, services)
    application.job_queue.run_repeating(
        _refresh_knowledge,
        interval=KNOWLEDGE_REFRESH,
        first=0,
        name="knowledge-refresh",
        data=services,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )
    return application


# Everything a person may send as a file about a ticket (an album comes as one message each).
FILES = (
    filters.PHOTO
    | filters.Document.ALL
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
)


def add_handlers(application: Application) -> None:
    """All handler wiring: which callback runs for which update, in which order."""
    # Group -1 runs first, for every update (being added to a group too): updates from chats
    # that are not the team's stop there.
    application.add_handler(TypeHandler(Update, handlers.leave_unknown_chat), group=-1)
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & (filters.TEXT | filters.CAPTION | FILES),
            handlers.on_message,
        )
    )
    application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, handlers.on_edited))
    # Never silence: a message with nothing the bot reads (sticker, location, poll, dice, ...)
    # is answered too; service messages (someone joined) are not. Files are taken above.
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & ~(filters.TEXT | filters.CAPTION)
            & ~filters.StatusUpdate.ALL
            & ~filters.VIA_BOT,
            handlers.on_unread,
        )
    )
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_error_handler(on_error)


def run(
    application: Application,
    config: Config,
    *,
    stop_signals: Sequence[int] | None = STOP_SIGNALS,
) -> None:
    """Run until a stop signal: the webhook when configured, long polling otherwise.

    Pending updates are kept across restarts (`drop_pending_updates=False`): what people wrote
    while the bot was down is answered when it is back.
    """
    tg = config.telegram
    services: Services = application.bot_data["services"]
    serving = config.http.enabled or config.webhooks  # webhooks are sent from its loop
    http = ServerThread(config, services).start() if serving else None
    if config.http.enabled:
        log.info("change feed on http://%s:%d", config.http.listen, config.http.port)
    try:
        # On the loop python-telegram-bot goes on to use (asyncio.run would unset it).
        reached = _event_loop().run_until_complete(
            reach_telegram(tg.token, tg.base_url, stop_signals)
        )
        if not reached:
            return  # stopped while Telegram could not be reached
        _run(application, config, stop_signals)
    finally:
        if http is not None:
            http.stop()


class WebhookServerMissing(RuntimeError):
    """Webhook mode, but python-telegram-bot's web server (its `webhooks` extra, a dependency of
    sopbot) is not installed: a broken or hand-made virtualenv."""


def _run(application: Application, config: Config, stop_signals: Sequence[int] | None) -> None:
    tg = config.telegram
    if tg.mode == "webhook":
        if importlib.util.find_spec("tornado") is None:
            raise WebhookServerMissing
        wh = tg.webhook
        application.run_webhook(
            listen=wh.listen,
            port=wh.port,
            url_path=wh.path,
            webhook_url=wh.url,
            secret_token=wh.secret_token or None,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            bootstrap_retries=BOOTSTRAP_RETRIES,
            stop_signals=stop_signals,
        )
    else:
        application.run_polling(
            timeout=POLL_TIMEOUT,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            bootstrap_retries=BOOTSTRAP_RETRIES,
            stop_signals=stop_signals,
        )


async def reach_telegram(
    token: str, base_url: str, stop_signals: Sequence[int] | None = STOP_SIGNALS
) -> bool:
    """Wait until Telegram answers (False when stopped first). Each failed try is one line of
    the log with the next try's time; the token is never in it. A refused token is final."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in stop_signals or ():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    delay = 1.0
    try:
        while not stop.is_set():
            try:
                async with Bot(token, base_url=base_url) as bot:
                    await bot.get_me()
                return True
            except InvalidToken:
                raise
            except TelegramError as e:
                at = datetime.now(UTC) + timedelta(seconds=delay)
                log.warning(
                    "cannot reach Telegram at %s (%s); trying again at %s UTC",
                    base_url,
                    redact(str(e), secrets_of(token)),
                    at.strftime("%H:%M:%S"),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_CONNECT_DELAY)
        return False
    finally:
        for sig in stop_signals or ():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def _event_loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop, made when there is none (as python-telegram-bot does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            return loop


def file_url(base_url: str) -> str:
    """Where files are downloaded from: `.../bot` becomes `.../file/bot` (as on Telegram)."""
    if base_url.endswith("/bot"):
        return base_url[: -len("bot")] + "file/bot"
    return base_url


async def _post_init(application: Application) -> None:
    bot = application.bot
    services = application.bot_data["services"]
    for scoped in scoped_menus(services.conversation, services.config.leads):
        try:
            await bot.set_my_commands(
                scoped.commands, scope=scoped.scope, language_code=scoped.language_code
            )
        except TelegramError as e:  # a lead who never wrote to the bot has no chat yet
            log.warning("could not register the %s command list: %s", scoped.scope.type, e)
    log.info("connected to Telegram as @%s", bot.username)
    _start_sender(application, services)
    _start_recovery(application)
    on_ready = application.bot_data.get("on_ready")
    if on_ready is not None:
        on_ready(bot.username)


def _start_sender(application: Application, services: Services) -> None:
    """The outbox's sender: what the bot owes people goes out from here, until sent."""
    sender = OutboxSender(application.bot, services.outbox)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(sender.run(stop))
    task.add_done_callback(_report_end("the outbox's sender"))
    application.bot_data["sender"] = sender
    application.bot_data["sender_task"] = (stop, task)
    sender.wake()  # what was owed before a restart goes out now


def _start_recovery(application: Application) -> None:
    """Updates stored before a crash and never finished are handled now."""
    queue = application.update_queue
    if isinstance(queue, InboxQueue) and queue.inbox is not None:
        task = asyncio.get_running_loop().create_task(recover_now_and_then(application, queue))
        task.add_done_callback(_report_end("the inbox's recovery"))
        application.bot_data["recovery_task"] = task


def _report_end(what: str) -> Callable[[asyncio.Task], None]:
    def report(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %s", what, task.exception())

    return report


async def _refresh_knowledge(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Index articles added or edited by hand in knowledge/ (at start, then periodically)."""
    services: Services = context.job.data
    try:
        report = await asyncio.to_thread(services.refresh_knowledge, datetime.now(UTC))
    except Exception:
        log.exception("could not refresh the knowledge index; will try again")
        return
    if report is not None and report.changed:
        log.info("knowledge index refreshed: %s", report)


async def _post_stop(application: Application) -> None:
    recovery = application.bot_data.pop("recovery_task", None)
    if recovery is not None:
        recovery.cancel()
        with contextlib.suppress(BaseException):
            await recovery
    sending = application.bot_data.pop("sender_task", None)
    if sending is not None:
        stop, task = sending
        stop.set()
        with contextlib.suppress(Exception):
            await task


async def _post_shutdown(application: Application) -> None:
    services: Services | None = application.bot_data.get("services")
    if services is not None:
        services.close()
