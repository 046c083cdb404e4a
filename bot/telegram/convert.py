"""Telegram updates to the engine's `Incoming`: who, where, what they wrote or pressed.

The clock is read by the caller (the handler), not here and never in the domain; the update's
own date is not used because Telegram rounds it to the second and a redelivered update keeps it.
"""

from __future__ import annotations

from datetime import datetime

from telegram import CallbackQuery, Message, MessageEntity, User

from bot.domain.actors import Actor
from bot.services.messages import Incoming


def actor(user: User) -> Actor:
    """The person behind a Telegram user."""
    return Actor(user_id=user.id, name=user.full_name, username=user.username)


def from_message(
    message: Message, *, bot_id: int, bot_username: str, now: datetime
) -> Incoming | None:
    """A message as the engine sees it; None when it has no sender (channel posts)."""
    if message.from_user is None:
        return None
    replied = _replied_message(message)
    return Incoming(
        user=actor(message.from_user),
        chat_id=message.chat.id,
        chat_type=message.chat.type,
        now=now,
        text=clean_text(message, bot_username),
        message_id=message.message_id,
        thread_id=thread_id(message),
        reply_to_message_id=replied.message_id if replied else None,
        reply_to_bot=bool(replied and replied.from_user and replied.from_user.id == bot_id),
        mentions_bot=mentions_bot(message, bot_id=bot_id, bot_username=bot_username),
        bot_username=bot_username,
        language_code=message.from_user.language_code,
    )


def from_callback(query: CallbackQuery, *, bot_username: str, now: datetime) -> Incoming | None:
    """A button press as the engine sees it; None for a button with no chat (inline mode)."""
    message = query.message
    if message is None:
        return None
    return Incoming(
        user=actor(query.from_user),
        chat_id=message.chat.id,
        chat_type=message.chat.type,
        now=now,
        thread_id=thread_id(message) if isinstance(message, Message) else None,
        callback_data=query.data or "",
        callback_message_id=message.message_id,
        callback_message_html=message.text_html
        if isinstance(message, Message) and message.text
        else None,
        bot_username=bot_username,
        language_code=query.from_user.language_code,
    )


# What a message can hold instead of text, in the order Telegram's Message names them; the
# engine says what it takes instead (chat/unread.html). Anything else is "other".
UNREAD_KINDS = (
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "photo",
    "document",
    "voice",
    "video",
    "video_note",
    "audio",
    "animation",
    "story",
)


def unread_kind(message: Message) -> str:
    """What a message without text or caption holds, as a code of UNREAD_KINDS or "other"."""
    # A venue carries a location too, and an animation a document: the more precise first.
    for kind in ("venue", "animation", *UNREAD_KINDS):
        if getattr(message, kind, None):
            return kind
    return "other"


def thread_id(message: Message) -> int | None:
    """The forum topic of a message; replies in ordinary groups carry a thread id too."""
    return message.message_thread_id if message.is_topic_message else None


def is_addressed_to_bot(message: Message, *, bot_id: int, bot_username: str) -> bool:
    """In a group, the bot reads commands for it, mentions of it and replies to its messages."""
    if message.chat.type == "private":
        return True
    command = _command(message)
    if command is not None:
        _, _, target = command.partition("@")
        return not target or target.lower() == bot_username.lower()
    if mentions_bot(message, bot_id=bot_id, bot_username=bot_username):
        return True
    replied = _replied_message(message)
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def mentions_bot(message: Message, *, bot_id: int, bot_username: str) -> bool:
    return any(
        _is_bot_mention(entity, text, bot_id, bot_username)
        for entity, text in _entities(message).items()
    )


def clean_text(message: Message, bot_username: str) -> str:
    """The text or caption without the bot's own @mentions, and `/cmd@bot` as `/cmd`."""
    text = message.text or message.caption or ""
    cuts: list[tuple[int, int]] = []
    for entity, part in _entities(message).items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0 and "@" in part:
            at = part.index("@")
            cuts.append((entity.offset + _utf16_len(part[:at]), entity.offset + entity.length))
        elif entity.type == MessageEntity.MENTION and _same_name(part, bot_username):
            cuts.append((entity.offset, entity.offset + entity.length))
    if not cuts:
        return text.strip()
    units = text.encode("utf-16-le")
    kept, start = [], 0
    for begin, end in sorted(cuts):
        kept.append(units[start * 2 : begin * 2])
        start = end
    kept.append(units[start * 2 :])
    pieces = [p.decode("utf-16-le") for p in kept]
    # A removed mention leaves two spaces or a leading space; close the gap, keep newlines.
    joined = pieces[0]
    for piece in pieces[1:]:
        left, right = joined.rstrip(" "), piece.lstrip(" ")
        gap = left and right and not left.endswith("\n") and not right.startswith("\n")
        joined = left + (" " if gap else "") + right
    return joined.strip()


def _command(message: Message) -> str | None:
    """`/cmd` or `/cmd@bot` when the message starts with a command."""
    for entity, text in _entities(message).items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return text
    return None


def _replied_message(message: Message) -> Message | None:
    """The message this one answers; in forum topics, not the topic's own opening message."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    return replied


def _entities(message: Message) -> dict[MessageEntity, str]:
    if message.text is not None:
        return message.parse_entities()
    if message.caption is not None:
        return message.parse_caption_entities()
    return {}


def _is_bot_mention(entity: MessageEntity, text: str, bot_id: int, bot_username: str) -> bool:
    if entity.type == MessageEntity.MENTION:
        return _same_name(text, bot_username)
    if entity.type == MessageEntity.TEXT_MENTION:
        return entity.user is not None and entity.user.id == bot_id
    return False


def _same_name(mention: str, bot_username: str) -> bool:
    return mention.lstrip("@").lower() == bot_username.lower()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
