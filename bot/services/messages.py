"""What the conversation engine takes in and gives back; no Telegram types here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.actors import Actor


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data; at most 64 bytes (Telegram's limit)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    is_photo: bool = False


@dataclass(frozen=True)
class StoredFile:
    """A file Telegram already holds, sent again by its id (a ticket's attachment)."""

    file_id: str
    kind: str  # photo, document, voice, audio, video, video_note, animation


@dataclass(frozen=True)
class IncomingFile:
    """A file a person sent: what Telegram says of it and, once the adapter downloaded and
    stored it, the sha256 of its bytes (None when it was too big to download)."""

    kind: str  # photo, document, voice, audio, video, video_note, animation
    file_id: str
    file_unique_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    too_big: bool = False
    media_group_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message for the bot to send (or, with `edit_message_id`, to edit)."""

    chat_id: int
    text: str  # Telegram HTML; every piece of user text in it is already escaped
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to: int | None = None  # message id this answers (questions in groups)
    thread_id: int | None = None  # forum topic
    ticket_id: int | None = None  # lets a reply to this message reach the ticket
    kind: str = "message"  # question, confirm, announcement, digest, ...
    edit_message_id: int | None = None
    attachment: Attachment | None = None
    file: StoredFile | None = None


@dataclass(frozen=True)
class Delivered:
    """Where a reply landed: the adapter sent `reply` as `message_id` in `chat_id`."""

    reply: Reply
    chat_id: int
    message_id: int
    sent_at: datetime  # Telegram's date for it (the chat's clock, not ours)


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: a message, a command or a button press."""

    user: Actor
    chat_id: int
    chat_type: str  # private, group, supergroup
    now: datetime
    text: str = ""
    message_id: int | None = None
    thread_id: int | None = None
    reply_to_message_id: int | None = None  # the message it replies to, if any
    reply_to_bot: bool = False
    mentions_bot: bool = False
    callback_data: str | None = None  # set for button presses
    callback_message_id: int | None = None  # the message whose button was pressed
    callback_message_html: str | None = None  # its text, so an edit can keep it
    bot_username: str | None = None
    update_id: int | None = None  # the inbox's update this came in (handled once)
    files: tuple[IncomingFile, ...] = ()  # what was sent with it (an album: one at a time)
    edited: bool = False  # an edit of a message sent earlier (the bot reads each message once)
    # What the message holds instead of text (sticker, location, poll, ...), which the bot does
    # not read; it says what it can take rather than staying silent.
    unread: str | None = None
    # The person's app language as Telegram says it (`zh-hans`, `en`); the terminal's --language.
    language_code: str | None = None

    @property
    def is_private(self) -> bool:
        return self.chat_type == "private"


@dataclass
class Outcome:
    """The engine's answer: messages to send and, for a button press, a short toast."""

    replies: list[Reply] = field(default_factory=list)
    toast: str | None = None
    # The replies are stored in the outbox, to be sent by its sender; otherwise (nothing could
    # be stored: the database was busy) the adapter sends them itself, once.
    owed: bool = False
    # Nothing could be stored (the database was busy): the update stays in the inbox and is
    # handled again shortly.
    retry: bool = False
