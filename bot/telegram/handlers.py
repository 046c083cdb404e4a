"""Thin handlers: Update -> Incoming -> the conversation engine -> replies sent.

Each callback is small and has no wiring of its own; `application.add_handlers` decides which
runs for what. The engine is synchronous (it owns the database transaction), so it runs in a
worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.app import Services
from bot.render import render
from bot.services.inbox import TryLater
from bot.services.messages import Incoming, Outcome
from bot.telegram import convert
from bot.telegram import files as telegram_files
from bot.telegram.send import deliver

log = logging.getLogger(__name__)

# Toast for a button press the engine could not handle.

TOAST_LIMIT = 200  # Telegram's limit for a callback answer


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The services built by the composition root (`bot.app.Services`)."""
    return context.bot_data["services"]


async def leave_unknown_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Leave a group that is not one of the team's chats, and stop handling its updates."""
    chat = update.effective_chat
    config = services_of(context).config
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    if any(c.id == chat.id for c in config.chats) or not config.telegram.leave_unknown_chats:
        return
    member = update.my_chat_member
    if member is not None and member.new_chat_member.status in (
        ChatMemberStatus.LEFT,
        ChatMemberStatus.BANNED,
    ):
        raise ApplicationHandlerStop  # the news that we left (or were removed)
    log.warning(
        "leaving chat %s (%r): it is not in `chats` of the configuration; add its id there "
        "to keep the bot in it",
        chat.id,
        chat.title,
    )
    await asyncio.to_thread(
        services_of(context).conversation.left_unknown_chat, chat.id, chat.title, _now()
    )
    with suppress(TelegramError):
        await context.bot.send_message(
            chat.id,
            render("telegram/unknown_chat.html", message=config.telegram.unknown_chat_message),
        )
    with suppress(TelegramError):
        await context.bot.leave_chat(chat.id)
    raise ApplicationHandlerStop


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pass a private message, or a group message addressed to the bot, to the engine."""
    message = update.effective_message
    bot = context.bot
    if message is None or not convert.is_addressed_to_bot(
        message, bot_id=bot.id, bot_username=bot.username
    ):
        return
    sender = message.from_user
    if sender is not None and sender.is_bot and sender.id not in services_of(context).config.agents:
        return  # another bot, not one of the team's agents: ignored, not even refused
    incoming = convert.from_message(message, bot_id=bot.id, bot_username=bot.username, now=_now())
    if incoming is None:
        return
    found = telegram_files.files_of(message)
    replied = message.reply_to_message
    if not found and replied is not None and incoming.text.lower().startswith("/attach"):
        found = telegram_files.files_of(replied)  # `/attach N` in reply to a file
    if found:  # on disk before the engine records them
        stored = await telegram_files.download(bot, found, services_of(context).files)
        incoming = replace(incoming, files=tuple(stored))
    await _converse(context, replace(incoming, update_id=update.update_id))


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message: the engine says how to change a field instead (never silence)."""
    await _pass_on(update, context, edited=True)


async def on_unread(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A sticker, location, poll, ...: the engine says what it can take (never silence)."""
    message = update.effective_message
    if message is not None:
        await _pass_on(update, context, unread=convert.unread_kind(message))


async def _pass_on(update: Update, context: ContextTypes.DEFAULT_TYPE, **what: bool | str) -> None:
    message = update.effective_message
    bot = context.bot
    if message is None or not convert.is_addressed_to_bot(
        message, bot_id=bot.id, bot_username=bot.username
    ):
        return
    incoming = convert.from_message(message, bot_id=bot.id, bot_username=bot.username, now=_now())
    if incoming is not None:
        await _converse(context, replace(incoming, update_id=update.update_id, **what))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press with the engine's toast and show the choice in the message."""
    query = update.callback_query
    if query is None:
        return
    incoming = convert.from_callback(query, bot_username=context.bot.username, now=_now())
    if incoming is None:
        await query.answer()
        return
    incoming = replace(incoming, update_id=update.update_id)
    services = services_of(context)
    try:
        outcome = await asyncio.to_thread(services.conversation.handle, incoming)
    except Exception:
        with suppress(TelegramError):
            await query.answer(render("telegram/button_failed.txt"))
        raise
    # The toast and the replies do not wait for each other: the person sees both sooner.
    results = await asyncio.gather(
        query.answer(outcome.toast[:TOAST_LIMIT] if outcome.toast else None),
        _send(context, outcome),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _converse(context: ContextTypes.DEFAULT_TYPE, incoming: Incoming) -> None:
    services = services_of(context)
    outcome = await asyncio.to_thread(services.conversation.handle, incoming)
    await _send(context, outcome)


async def _send(context: ContextTypes.DEFAULT_TYPE, outcome: Outcome) -> None:
    """Replies the engine stored as owed go out through the outbox's sender; others (nothing
    could be stored) are sent here, once. An update to try again is left in the inbox."""
    if outcome.retry:
        raise TryLater
    sender = context.bot_data.get("sender")
    if outcome.owed and sender is not None:
        sender.wake()
        return
    await deliver(context.bot, outcome.replies, services_of(context).conversation)


def _now() -> datetime:
    return datetime.now(UTC)
