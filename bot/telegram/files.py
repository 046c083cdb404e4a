"""Files in Telegram messages: what each is, and its bytes downloaded into the attachments
folder before the engine sees the message (so the engine records a file that is on disk).

Telegram lets a bot download files up to 20 MB; a larger one is recorded by its file id only,
and the person is told. A network failure while downloading leaves the update in the inbox to
be tried again: nothing a person sent is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError

from bot.services.file_store import DOWNLOAD_LIMIT, FileStore
from bot.services.inbox import TryLater
from bot.services.messages import IncomingFile

log = logging.getLogger(__name__)


# What Telegram sends without a MIME type of its own.
_DEFAULT_MIME = {"photo": "image/jpeg", "video_note": "video/mp4", "voice": "audio/ogg"}
KINDS = ("photo", "document", "voice", "audio", "video", "video_note", "animation")


def files_of(message: Message) -> list[IncomingFile]:
    """The files a message carries (a photo as its largest size); none for plain text."""
    found: list[IncomingFile] = []
    for kind in KINDS:
        value: Any = getattr(message, kind, None)
        if not value or (kind == "document" and message.animation is not None):
            continue  # an animation also comes as a document: one file, not two
        if kind == "photo":
            value = max(value, key=lambda p: (p.file_size or 0, p.width * p.height))
        found.append(
            IncomingFile(
                kind=kind,
                file_id=value.file_id,
                file_unique_id=value.file_unique_id,
                file_name=getattr(value, "file_name", None),
                mime_type=getattr(value, "mime_type", None) or _DEFAULT_MIME.get(kind),
                size=value.file_size,
                media_group_id=message.media_group_id,
            )
        )
    return found


async def download(bot: Bot, files: list[IncomingFile], store: FileStore) -> list[IncomingFile]:
    """Each file with the sha256 of its stored bytes, or marked too big to download."""
    done: list[IncomingFile] = []
    for f in files:
        if f.size is not None and f.size > DOWNLOAD_LIMIT:
            done.append(replace(f, too_big=True))
            continue
        try:
            handle = await bot.get_file(f.file_id)
            data = bytes(await handle.download_as_bytearray())
        except BadRequest as e:
            if "too big" in e.message.lower():
                done.append(replace(f, too_big=True))
                continue
            raise
        except NetworkError as e:
            log.warning("could not download a %s (%s); the message is tried again", f.kind, e)
            raise TryLater from e
        sha256 = await asyncio.to_thread(store.put, data)
        done.append(replace(f, sha256=sha256, size=len(data)))
    return done
