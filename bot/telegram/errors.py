"""When an update fails: log it without the token, tell the person and, briefly, the leads
(through the outbox, like everything the bot owes).

Request URLs carry the bot token (`/bot<TOKEN>/sendMessage`), so every log record passes a
filter that blanks it, and the `httpx` logger, which logs each URL at INFO, is raised to WARNING.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot.config import Config
from bot.domain.languages import ENGLISH, reader_language
from bot.render import render
from bot.services.database import DatabaseBusy
from bot.services.inbox import TryLater
from bot.services.messages import Reply
from bot.telegram.inbox_queue import try_later
from bot.telegram.send import send_reply

log = logging.getLogger(__name__)

REDACTED = "<token>"
REPORT_INTERVAL = 60.0  # seconds between reports to the leads, so a failing loop cannot flood


class RedactSecrets(logging.Filter):
    """Replace the bot token in every record's message and traceback."""

    def __init__(self, *secrets: str):
        super().__init__()
        self.secrets = secrets_of(*secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not ours
            return True
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def secrets_of(*tokens: str) -> tuple[str, ...]:
    """The token and its secret half (after the colon), longest first."""
    found: set[str] = set()
    for token in tokens:
        if token:
            found.add(token)
            _, _, secret = token.partition(":")
            if len(secret) >= 8:
                found.add(secret)
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def install_log_redaction(token: str, logger: logging.Logger | None = None) -> RedactSecrets:
    """Put the token filter on every handler of `logger` (the root logger by default).

    Filters on a handler see the records of every logger that propagates to it; filters on a
    logger would not. Call after the handlers exist (after `logging.basicConfig`).
    """
    target = logger or logging.getLogger()
    redactor = RedactSecrets(token)
    for handler in target.handlers:
        handler.addFilter(redactor)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return redactor


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update and tell the person and the leads briefly."""
    error = context.error
    if update is None and isinstance(error, Conflict):
        log.error(
            "Telegram says another process polls with this token (%s); "
            "stop the other one or delete its webhook",
            error,
        )
        return
    if update is None and isinstance(error, NetworkError):
        log.warning("network problem while fetching updates, retrying: %s", error)
        return
    if isinstance(error, TryLater):
        await try_later(update, context)
        return
    log.error("update %s failed", _update_id(update), exc_info=error)
    if not isinstance(update, Update):
        return
    busy = isinstance(error, DatabaseBusy)
    await _tell_person(
        update,
        context,
        render("telegram/busy.html" if busy else "telegram/sorry.html", _language(update, context)),
    )
    if not isinstance(error, DatabaseBusy):
        await report_to_leads(context, _who(update), error)


async def _tell_person(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    message = update.effective_message
    if update.callback_query is not None or message is None:
        return  # a button press was already answered with a toast
    private = message.chat.type == "private"
    reply = Reply(
        chat_id=message.chat_id,
        text=text,
        reply_to=None if private else message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        kind="error",
    )
    await _owe(context, [reply])


async def report_to_leads(
    context: ContextTypes.DEFAULT_TYPE, who: str | None, error: BaseException | None
) -> None:
    """A short note in the leads' chat (the first team chat, else each lead privately)."""
    now = time.monotonic()
    last = context.bot_data.get("last_error_report")
    if last is not None and now - last < REPORT_INTERVAL:
        return
    context.bot_data["last_error_report"] = now
    services = context.bot_data.get("services")
    config: Config | None = getattr(services, "config", None)
    if config is None:
        return
    summary = f"{type(error).__name__}: {error}" if error else "unknown error"
    summary = redact(summary, secrets_of(config.telegram.token))
    if len(summary) > 300:
        summary = summary[:299] + "…"
    told = [
        Reply(
            chat_id=c,
            text=render("telegram/report.html", config.chat_language(c), who=who, error=summary),
            kind="leads",
        )
        for c in leads_chats(config)
    ]
    await _owe(context, told)


def _language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language of the person whose update failed, as their Telegram app says it (the
    database, which knows their choice, may be what failed)."""
    config: Config | None = getattr(context.bot_data.get("services"), "config", None)
    default = config.language if config is not None else ENGLISH
    user = update.effective_user
    return reader_language(None, user.language_code if user else None, default)


async def _owe(context: ContextTypes.DEFAULT_TYPE, replies: list[Reply]) -> None:
    """Through the outbox, so a 429 or an outage does not lose them; sent directly (once, at
    best) only when the database cannot even store them."""
    services = context.bot_data.get("services")
    try:
        await asyncio.to_thread(services.outbox.owe, replies, datetime.now(UTC))
    except Exception as e:
        log.warning("could not store a report in the outbox (%s); sending it directly", e)
        for reply in replies:
            try:
                await send_reply(context.bot, reply)
            except TelegramError as failed:
                log.warning("cannot tell chat %s: %s", reply.chat_id, failed)
        return
    sender = context.bot_data.get("sender")
    if sender is not None:
        sender.wake()


def leads_chats(config: Config) -> list[int]:
    """Where errors are reported: the first team chat, else each lead's private chat."""
    if config.default_chat is not None:
        return [config.default_chat.id]
    return sorted(config.leads)


def _update_id(update: object) -> str:
    return str(update.update_id) if isinstance(update, Update) else repr(update)


def _who(update: Update) -> str | None:
    user = update.effective_user
    if user is None:
        return None
    return f"@{user.username}" if user.username else user.full_name
