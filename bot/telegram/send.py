"""The engine's `Reply` to Bot API calls: split at 4,096 characters, keyboards, attachments.

`plan(reply)` is pure: it says which calls to make with which arguments, so it is tested
without a network. `deliver` makes the calls and tells the engine which message ids it got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.render import html_to_text, split_message
from bot.services.messages import Button, Delivered, Reply

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
NETWORK_RETRIES = 3
RETRY_DELAY = 0.5  # seconds, doubled at each retry


class MessageSink(Protocol):
    """What the engine offers to learn where the replies of one update landed."""

    def messages_sent(self, delivered: list[Delivered]) -> None: ...


@dataclass(frozen=True)
class Send:
    """One Bot API call: the `Bot` method's name and its keyword arguments."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """Some replies of one update could not be sent; the others were."""

    def __init__(self, failures: list[tuple[Reply, TelegramError]]):
        self.failures = failures
        detail = "; ".join(f"chat {r.chat_id}: {e.message}" for r, e in failures)
        super().__init__(f"{len(failures)} message(s) not delivered: {detail}")


def keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """Inline keyboard rows for the buttons; None when there are none."""
    rows = [
        [InlineKeyboardButton(b.label, callback_data=_checked_data(b.data)) for b in row]
        for row in buttons
        if row
    ]
    return InlineKeyboardMarkup(rows) if rows else None


# The Bot API method and its file argument for each kind of file sent again by its id.
SEND_FILE = {
    "photo": ("send_photo", "photo"),
    "document": ("send_document", "document"),
    "voice": ("send_voice", "voice"),
    "audio": ("send_audio", "audio"),
    "video": ("send_video", "video"),
    "video_note": ("send_video_note", "video_note"),
    "animation": ("send_animation", "animation"),
}


def plan(reply: Reply) -> list[Send]:
    """The calls that show `reply`: long text split in parts, buttons under the last one."""
    markup = keyboard(reply.buttons)
    parts = split_message(reply.text) if reply.text.strip() else []
    attachment = reply.attachment or reply.file
    caption = None
    if (
        attachment is not None
        and not (reply.file is not None and reply.file.kind == "video_note")  # takes none
        and reply.edit_message_id is None
        and len(parts) == 1
        and len(html_to_text(parts[0])) <= CAPTION_LIMIT
    ):
        caption, parts = parts[0], []  # short text travels as the attachment's caption

    sends: list[Send] = []
    if reply.edit_message_id is not None and parts:
        first = parts.pop(0)
        sends.append(
            Send(
                "edit_message_text",
                {
                    "chat_id": reply.chat_id,
                    "message_id": reply.edit_message_id,
                    "text": first,
                    "reply_markup": markup if not parts and attachment is None else None,
                },
            )
        )
    for i, part in enumerate(parts):
        last = i == len(parts) - 1 and attachment is None
        sends.append(
            Send(
                "send_message",
                _placed(reply, first=not sends)
                | {"text": part, "reply_markup": markup if last else None},
            )
        )
    if reply.file is not None:
        name, file_arg = SEND_FILE.get(reply.file.kind, SEND_FILE["document"])
        kwargs = _placed(reply, first=not sends) | {
            file_arg: reply.file.file_id,
            "reply_markup": markup,
        }
        if caption is not None:
            kwargs["caption"] = caption
        sends.append(Send(name, kwargs))
    elif reply.attachment is not None:
        name = "send_photo" if reply.attachment.is_photo else "send_document"
        file_arg = "photo" if reply.attachment.is_photo else "document"
        kwargs = _placed(reply, first=not sends) | {
            file_arg: InputFile(reply.attachment.content, filename=reply.attachment.filename),
            "caption": caption,
            "reply_markup": markup,
        }
        sends.append(Send(name, kwargs))
    return sends


def _placed(reply: Reply, *, first: bool) -> dict[str, Any]:
    """Chat, forum topic and, for the first message only, the message it answers."""
    kwargs: dict[str, Any] = {"chat_id": reply.chat_id}
    if reply.thread_id is not None:
        kwargs["message_thread_id"] = reply.thread_id
    if first and reply.reply_to is not None and reply.edit_message_id is None:
        # If the message it answers is gone, send anyway rather than lose the reply.
        kwargs["reply_parameters"] = ReplyParameters(
            message_id=reply.reply_to, allow_sending_without_reply=True
        )
    return kwargs


def _checked_data(data: str) -> str:
    if not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback data must be 1-64 bytes, got {data!r}")
    return data


async def send_reply(bot: Bot, reply: Reply) -> list[Message]:
    """Make the calls for one reply; returns the messages sent (an unchanged edit is fine)."""
    sent: list[Message] = []
    for call in plan(reply):
        try:
            result = await _call(bot, call)
        except BadRequest as e:
            if call.method == "edit_message_text" and "not modified" in e.message.lower():
                continue  # a button pressed twice: the message already shows the choice
            raise
        if isinstance(result, Message) and call.method != "edit_message_text":
            sent.append(result)
    return sent


async def _call(bot: Bot, call: Send) -> Any:
    """One call, tried again after a network error or a server error (5xx).

    The engine has already stored what the reply says, so a lost reply would leave a ticket
    waiting for an answer to a question nobody saw; a rare duplicate after a timeout is the
    smaller harm. Flood limits (429) are the rate limiter's to wait out.
    """
    for attempt in range(NETWORK_RETRIES + 1):
        try:
            return await getattr(bot, call.method)(**call.kwargs)
        except (BadRequest, Forbidden, RetryAfter, InvalidToken, ChatMigrated):
            raise
        except NetworkError as e:
            if attempt == NETWORK_RETRIES:
                raise
            delay = RETRY_DELAY * 2**attempt
            log.warning("%s failed (%s); trying again in %.1fs", call.method, e, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def deliver(bot: Bot, replies: Iterable[Reply], sink: MessageSink) -> None:
    """Send every reply, each on its own: one that fails does not keep back the others.

    Replies to one chat go in order; different chats (the person, the team's chat) are served
    at the same time. Where the ticket messages landed is stored once for the update.
    """
    # New messages to one chat go in order; an edit changes a message already there, so it
    # need not wait for them (nor they for it).
    edits: list[Reply] = []
    by_chat: dict[int, list[Reply]] = {}
    for reply in replies:
        if reply.edit_message_id is not None:
            edits.append(reply)
        else:
            by_chat.setdefault(reply.chat_id, []).append(reply)
    failures: list[tuple[Reply, TelegramError]] = []
    delivered: list[Delivered] = []

    async def one(reply: Reply) -> None:
        try:
            messages = await send_reply(bot, reply)
        except TelegramError as e:
            log.warning("could not send a %s to chat %s: %s", reply.kind, reply.chat_id, e)
            failures.append((reply, e))
            return
        if reply.ticket_id is not None:
            delivered.extend(Delivered(reply, m.chat_id, m.message_id, m.date) for m in messages)

    async def in_order(chat_replies: list[Reply]) -> None:
        for reply in chat_replies:
            await one(reply)

    try:
        await asyncio.gather(*map(one, edits), *map(in_order, by_chat.values()))
    finally:
        if delivered:  # even when cancelled mid-way: what was sent is known
            await asyncio.to_thread(sink.messages_sent, delivered)
    if failures:
        raise DeliveryError(failures) from failures[0][1]
