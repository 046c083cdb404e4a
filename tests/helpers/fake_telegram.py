"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, the real protocol.

python-telegram-bot talks to it through `base_url`, exactly as it talks to api.telegram.org:
`POST /bot<TOKEN>/<method>` with a form-encoded, JSON or multipart body, answered with
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`.

The test side pushes what people do (`push_message`, `push_callback`), reads what the bot did
(`calls`, `sent`, `history`) and waits for it (`wait_for`, `wait_sent`). Like Telegram, the
server refuses what Telegram refuses: HTML it cannot parse, messages over 4,096 characters,
callback data over 64 bytes, editing a message into itself, writing to a user who never wrote
to the bot, and any method it does not know (404, so a test notices).

    with FakeTelegram() as server:
        app = Application.builder().token(server.token).base_url(server.base_url).build()
        server.push_message(alice, private_chat(alice), "/new")
        reply = server.wait_sent(alice["id"])
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TOKEN = "123456789:AAFakeTokenForTestsOnly-0123456789ab"
BOT_ID = 123456789
BOT_USERNAME = "sopbot_test_bot"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

JSONDict = dict[str, Any]

# Form-encoded values are JSON for everything but strings; these parameters are always strings,
# so "42" as a message text stays the text "42".
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "url",
        "secret_token",
        "parse_mode",
        "description",
        "short_description",
        "language_code",
        "title",
        "name",
        "action",
        "inline_message_id",
        "business_connection_id",
    }
)


# --- people and chats -----------------------------------------------------------------------


def user(id: int, username: str | None = None, first_name: str | None = None) -> JSONDict:
    """A Telegram User as the Bot API sends it."""
    data: JSONDict = {"id": id, "is_bot": False, "first_name": first_name or username or f"U{id}"}
    if username:
        data["username"] = username
    return data


def private_chat(person: JSONDict) -> JSONDict:
    """The private chat between `person` and the bot (its id is the user's id)."""
    data: JSONDict = {"id": person["id"], "type": "private", "first_name": person["first_name"]}
    if person.get("username"):
        data["username"] = person["username"]
    return data


def group_chat(id: int, title: str, is_forum: bool = False, type: str = "supergroup") -> JSONDict:
    """A group chat (a supergroup unless told otherwise; forums are always supergroups)."""
    if id >= 0:
        raise ValueError("group chat ids are negative")
    data: JSONDict = {"id": id, "type": "supergroup" if is_forum else type, "title": title}
    if is_forum:
        data["is_forum"] = True
    return data


# --- what the server records ----------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class Call:
    """One request the bot made; `status` and `result` are filled in when it is answered."""

    method: str
    params: JSONDict
    at: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None
    result: Any = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        return f"<{self.method} {self.status} {_short(shown)}>"


class ApiError(Exception):
    """An answer of `{"ok": false}`, raised inside a method and turned into the HTTP reply."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass
class _Fault:
    status: int
    description: str
    parameters: JSONDict | None


def _short(value: Any, width: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


# --- Telegram's HTML, checked as strictly as Telegram does ----------------------------------

_ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z][a-zA-Z0-9]*);")


def parse_html(markup: str) -> str:
    """The plain text a chat shows for Telegram HTML; raises ApiError where Telegram would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(markup):
        char = markup[i]
        if char == "<":
            end = markup.find(">", i)
            if end < 0:
                raise _bad_entities(f"Unclosed start tag at byte offset {_offset(markup, i)}")
            tag = markup[i + 1 : end].strip()
            if tag.startswith("/"):
                name = tag[1:].strip().lower()
                if not stack or stack[-1] != name:
                    raise _bad_entities(
                        f'Unexpected end tag "{name}" at byte offset {_offset(markup, i)}'
                    )
                stack.pop()
            else:
                name = tag.split(None, 1)[0].lower() if tag else ""
                if name not in _ALLOWED_TAGS:
                    raise _bad_entities(
                        f'Unsupported start tag "{name}" at byte offset {_offset(markup, i)}'
                    )
                stack.append(name)
            i = end + 1
        elif char == "&":
            m = _ENTITY.match(markup, i)
            if m is None:
                out.append("&")
                i += 1
                continue
            ref = m.group(1)
            if ref.startswith("#"):
                out.append(chr(int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])))
            elif ref in _NAMED_ENTITIES:
                out.append(_NAMED_ENTITIES[ref])
            else:
                raise _bad_entities(
                    f'Unsupported HTML entity "&{ref};" at byte offset {_offset(markup, i)}'
                )
            i = m.end()
        elif char == ">":
            # Telegram tolerates a bare ">" but the bot must escape user text; be strict.
            raise _bad_entities(f"Unexpected > at byte offset {_offset(markup, i)}")
        else:
            out.append(char)
            i += 1
    if stack:
        raise _bad_entities(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _bad_entities(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}")


def entities_for(text: str) -> list[JSONDict]:
    """The entities Telegram would attach: a leading /command and @mentions."""
    entities: list[JSONDict] = []
    m = _COMMAND.match(text)
    if m:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group())})
    for m in _MENTION.finditer(text):
        if entities and m.start() < entities[0]["length"] and entities[0]["offset"] == 0:
            continue  # the @bot part of /command@bot
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group()),
            }
        )
    return entities


# --- the server -----------------------------------------------------------------------------


class FakeTelegram:
    """A Bot API server on 127.0.0.1 with one bot; every call is recorded."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_id: int = BOT_ID,
        bot_username: str = BOT_USERNAME,
        bot_name: str = "SOP bot",
    ):
        self.token = token
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._cursor = 0  # calls recorded before the last push; wait_for looks after it
        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._pending_queries: set[str] = set()
        self._chats: dict[int, JSONDict] = {}
        self._left: set[int] = set()
        self._messages: dict[int, dict[int, JSONDict]] = defaultdict(dict)
        self._bot_messages: dict[int, list[int]] = defaultdict(list)
        self._message_ids: dict[int, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._commands: dict[str, list[JSONDict]] = {}
        # Files people sent: file_id -> (bytes, or None when too big to download; its size).
        self._files: dict[str, tuple[bytes | None, int]] = {}
        self._file_ids = itertools.count(1)
        self._poll_generation = 0
        self.webhook_url = ""
        self._closed = False
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> FakeTelegram:
        handler = type("_Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; long polls in flight return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What python-telegram-bot takes as `base_url` (it appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_username(self) -> str:
        return self.bot["username"]

    # -- what people do --

    def add_chat(self, chat: JSONDict) -> None:
        """Make a chat known, as if the bot had been added to it or the user had written."""
        with self._cond:
            self._chats[chat["id"]] = dict(chat)
            self._left.discard(chat["id"])

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue a raw update (an `update_id` is assigned); getUpdates delivers it."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._cursor = len(self._calls)
            self._cond.notify_all()
            return update

    def push_message(
        self,
        user: JSONDict,
        chat: JSONDict,
        text: str,
        reply_to_message_id: int | None = None,
        entities: list[JSONDict] | None = None,
        thread_id: int | None = None,
    ) -> JSONDict:
        """A person writes `text` in `chat`; returns the Message as the bot will receive it."""
        with self._cond:
            self.add_chat(chat)
            message = self._new_message(chat, user, thread_id)
            message["text"] = text
            found = entities if entities is not None else entities_for(text)
            if found:
                message["entities"] = found
            if reply_to_message_id is not None:
                original = self._messages[chat["id"]].get(reply_to_message_id)
                if original is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']}")
                message["reply_to_message"] = _without_reply(original)
            elif thread_id is not None and chat.get("is_forum"):
                # In a forum topic, a message that replies to nothing replies to the topic's
                # creation message, as Telegram sends it.
                message["reply_to_message"] = {
                    "message_id": thread_id,
                    "date": message["date"],
                    "chat": chat,
                    "from": user,
                    "message_thread_id": thread_id,
                    "is_topic_message": True,
                    "forum_topic_created": {"name": "Topic", "icon_color": 7322096},
                }
            self._messages[chat["id"]][message["message_id"]] = message
            self.push_update({"message": message})
            return message

    def push_file(
        self,
        user: JSONDict,
        chat: JSONDict,
        kind: str,
        content: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to_message_id: int | None = None,
        size: int | None = None,
    ) -> JSONDict:
        """A person sends a file of `kind` (photo, document, voice, audio, video, video_note,
        animation). `content=None` with a `size` stands for a file too big to download."""
        with self._cond:
            self.add_chat(chat)
            message = self._new_message(chat, user, None)
            size = len(content) if content is not None else (size or 0)
            message[kind] = self._file_object(kind, content, size, file_name, mime_type)
            if caption is not None:
                message["caption"] = caption
                found = entities_for(caption)
                if found:
                    message["caption_entities"] = found
            if media_group_id is not None:
                message["media_group_id"] = media_group_id
            if reply_to_message_id is not None:
                original = self._messages[chat["id"]].get(reply_to_message_id)
                if original is None:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']}")
                message["reply_to_message"] = _without_reply(original)
            self._messages[chat["id"]][message["message_id"]] = message
            self.push_update({"message": message})
            return message

    def push_edit(self, user: JSONDict, chat: JSONDict, message_id: int, text: str) -> JSONDict:
        """`user` edits their message `message_id` to read `text` (an `edited_message`)."""
        with self._cond:
            message = dict(self._messages[chat["id"]][message_id])
            if message.get("from", {}).get("id") != user["id"]:
                raise ValueError("only its sender can edit a message")
            message["text"] = text
            message["edit_date"] = int(time.time()) + len(self._updates)
            message.pop("entities", None)
            if found := entities_for(text):
                message["entities"] = found
            self._messages[chat["id"]][message_id] = message
            self.push_update({"edited_message": message})
            return message

    def push_content(
        self,
        user: JSONDict,
        chat: JSONDict,
        content: JSONDict,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A message holding `content` instead of text, e.g. {"sticker": {...}} or
        {"location": {"latitude": 52.5, "longitude": 13.4}}."""
        with self._cond:
            self.add_chat(chat)
            message = {**self._new_message(chat, user, None), **content}
            if reply_to_message_id is not None:
                message["reply_to_message"] = _without_reply(
                    self._messages[chat["id"]][reply_to_message_id]
                )
            self._messages[chat["id"]][message["message_id"]] = message
            self.push_update({"message": message})
            return message

    def _file_object(
        self, kind: str, content: bytes | None, size: int, name: str | None, mime: str | None
    ) -> Any:
        n = next(self._file_ids)
        file_id, unique = f"{kind}-file-{n}", f"u{kind}{n}"
        self._files[file_id] = (content, size)
        found: JSONDict = {"file_id": file_id, "file_unique_id": unique, "file_size": size}
        if kind == "photo":
            # Telegram sends several sizes, smallest first; the last one is the original.
            thumb_id = f"{file_id}-thumb"
            self._files[thumb_id] = ((content or b"")[:16], min(size, 16))
            thumb = {
                "file_id": thumb_id,
                "file_unique_id": unique + "t",
                "file_size": min(size, 16),
            }
            return [thumb | {"width": 90, "height": 90}, found | {"width": 1280, "height": 720}]
        if name is not None:
            found["file_name"] = name
        if mime is not None:
            found["mime_type"] = mime
        if kind in ("voice", "audio", "video", "video_note", "animation"):
            found["duration"] = 3
        if kind in ("video", "animation"):
            found |= {"width": 640, "height": 360}
        if kind == "video_note":
            found["length"] = 240
        return found

    def file_bytes(self, file_path: str) -> bytes | None:
        """What `GET /file/bot<token>/<file_path>` serves (the path getFile gave)."""
        with self._cond:
            found = self._files.get(file_path.removeprefix("files/"))
            return found[0] if found else None

    def push_callback(self, user: JSONDict, chat: JSONDict, message_id: int, data: str) -> JSONDict:
        """A person presses the button with `data` under message `message_id`."""
        with self._cond:
            message = self._messages[chat["id"]].get(message_id)
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat['id']}")
            query = {
                "id": str(next(self._callback_ids)),
                "from": user,
                "chat_instance": str(abs(chat["id"]) * 7 + 1),
                "message": message,
                "data": data,
            }
            self._pending_queries.add(query["id"])
            self.push_update({"callback_query": query})
            return query

    def push_bot_added(self, by: JSONDict, chat: JSONDict) -> JSONDict:
        """Someone adds the bot to a group (a my_chat_member update)."""
        with self._cond:
            self.add_chat(chat)
            return self.push_update(
                {
                    "my_chat_member": {
                        "chat": chat,
                        "from": by,
                        "date": int(time.time()),
                        "old_chat_member": {"status": "left", "user": self.bot},
                        "new_chat_member": {"status": "member", "user": self.bot},
                    }
                }
            )

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
    ) -> None:
        """The next call of `method` fails once with `status` (429 carries `retry_after`)."""
        parameters = {"retry_after": retry_after} if status == 429 and retry_after else None
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
                403: "Forbidden: bot was blocked by the user",
                409: "Conflict: terminated by other getUpdates request",
            }.get(status, HTTPStatus(status).phrase)
        with self._cond:
            self._faults[method].append(_Fault(status, description, parameters))

    # -- what the bot did --

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def sent(self, chat_id: int | None = None) -> list[JSONDict]:
        """The bot's messages as the chat shows them now (edits applied), oldest first."""
        with self._cond:
            chats = [chat_id] if chat_id is not None else list(self._bot_messages)
            return [dict(self._messages[c][mid]) for c in chats for mid in self._bot_messages[c]]

    def history(self, chat_id: int) -> list[JSONDict]:
        """Everything the chat shows: people's messages and the bot's, in order."""
        with self._cond:
            return [dict(m) for _, m in sorted(self._messages[chat_id].items())]

    def message(self, chat_id: int, message_id: int) -> JSONDict:
        with self._cond:
            return dict(self._messages[chat_id][message_id])

    def commands(self, scope: str = "default") -> list[JSONDict]:
        with self._cond:
            return list(self._commands.get(scope, []))

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return list(self._updates)

    def left_chats(self) -> set[int]:
        with self._cond:
            return set(self._left)

    def mark(self) -> int:
        """Move the point that `wait_for` looks after to now; returns it."""
        with self._cond:
            self._cursor = len(self._calls)
            return self._cursor

    def wait_for(
        self,
        match: str | Callable[[Call], bool],
        timeout: float = 5.0,
        since: int | None = None,
        answered: bool = True,
    ) -> Call:
        """Wait for an answered call matching a method name or predicate.

        Only calls after the last push (or `mark()`) count unless `since` says where to look
        from (0: all calls). `answered=False` also matches a call still in flight (a long poll).
        """
        predicate = (lambda c: c.method == match) if isinstance(match, str) else match
        deadline = time.monotonic() + timeout
        with self._cond:
            start = self._cursor if since is None else since
            while True:
                for call in self._calls[start:]:
                    if (call.status is not None or not answered) and predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n  ".join(repr(c) for c in self._calls[start:]) or "(none)"
                    raise AssertionError(f"no matching call within {timeout}s; calls:\n  {seen}")
                self._cond.wait(remaining)

    def wait_sent(
        self,
        chat_id: int | None = None,
        contains: str | None = None,
        timeout: float = 5.0,
        since: int | None = None,
    ) -> JSONDict:
        """Wait for a message the bot sends successfully; returns it as Telegram stored it."""

        def sent_here(call: Call) -> bool:
            return (
                call.method in _SENDS
                and call.ok
                and (chat_id is None or call.result["chat"]["id"] == chat_id)
                and (contains is None or contains in _visible_text(call.result))
            )

        return self.wait_for(sent_here, timeout=timeout, since=since).result

    # -- serving (runs in the server's threads) --

    def _handle(self, method: str, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        canonical = _METHODS.get(method.lower())
        call = Call(method=canonical or method, params=params, at=time.time(), files=files)
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        try:
            if canonical is None:
                raise ApiError(404, "Not Found")
            with self._cond:
                fault = self._faults[canonical].popleft() if self._faults[canonical] else None
            if fault is not None:
                raise ApiError(fault.status, fault.description, fault.parameters)
            result = getattr(self, "_api_" + canonical)(params, files)
        except ApiError as e:
            self._answer(call, e.status, None, e.description)
            raise
        self._answer(call, 200, result, None)
        return result

    def _answer(self, call: Call, status: int, result: Any, description: str | None) -> None:
        with self._cond:
            call.status, call.result, call.description = status, result, description
            self._cond.notify_all()

    def _new_message(self, chat: JSONDict, sender: JSONDict, thread_id: int | None) -> JSONDict:
        message: JSONDict = {
            "message_id": next(self._message_ids[chat["id"]]),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        return message

    def _writable_chat(self, chat_id: Any) -> JSONDict:
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._left:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")
        return chat

    def _bot_message(self, params: JSONDict) -> JSONDict:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._writable_chat(params.get("chat_id"))
        message = self._messages[chat["id"]].get(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _send(self, params: JSONDict, content: JSONDict) -> JSONDict:
        with self._cond:
            chat = self._writable_chat(params.get("chat_id"))
            markup = _checked_markup(params.get("reply_markup"))
            reply = params.get("reply_parameters") or {}
            reply_to = reply.get("message_id", params.get("reply_to_message_id"))
            original = self._messages[chat["id"]].get(reply_to) if reply_to else None
            if (
                reply_to is not None
                and original is None
                and not (
                    reply.get("allow_sending_without_reply")
                    or params.get("allow_sending_without_reply")
                )
            ):
                raise ApiError(400, "Bad Request: message to be replied not found")
            message = self._new_message(chat, self.bot, params.get("message_thread_id"))
            if original is not None:
                message["reply_to_message"] = _without_reply(original)
            message.update(content)
            if markup:
                message["reply_markup"] = markup
            self._messages[chat["id"]][message["message_id"]] = message
            self._bot_messages[chat["id"]].append(message["message_id"])
            return dict(message)

    # -- the Bot API methods: `_api_<name>(params, files)` --

    def _api_getMe(self, params: JSONDict, files: dict) -> JSONDict:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_logOut(self, params: JSONDict, files: dict) -> bool:
        return True

    def _api_close(self, params: JSONDict, files: dict) -> bool:
        return True

    def _api_deleteWebhook(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            self.webhook_url = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_setWebhook(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            self.webhook_url = params.get("url", "")
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._poll_generation += 1
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: JSONDict, files: dict) -> JSONDict:
        with self._cond:
            return {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _api_getUpdates(self, params: JSONDict, files: dict) -> list[JSONDict]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            # A new poll ends the one in flight, as Telegram does when two bots poll.
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            while True:
                if self._closed:
                    return []
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                ready = self._updates[:limit]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0:
                    return [dict(u) for u in ready]
                self._cond.wait(remaining)

    def _api_sendMessage(self, params: JSONDict, files: dict) -> JSONDict:
        markup = params.get("text")
        if not isinstance(markup, str) or not markup.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        text = _plain(markup, params.get("parse_mode"))
        if len(text) > MESSAGE_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._send(params, {"text": text, "html": markup})

    def _api_sendPhoto(self, params: JSONDict, files: dict[str, UploadedFile]) -> JSONDict:
        if isinstance(params.get("photo"), str) and not params["photo"].startswith("attach://"):
            return self._resent(params, "photo")
        upload = _upload(params, files, "photo")
        size = len(upload.content)
        photo = [{"file_id": f"photo-{size}", "file_unique_id": f"p{size}", "width": 1,
                  "height": 1, "file_size": size}]  # fmt: skip
        return self._send(params, {"photo": photo, **_caption(params)})

    def _api_getFile(self, params: JSONDict, files: dict) -> JSONDict:
        file_id = params.get("file_id")
        with self._cond:
            found = self._files.get(file_id) if isinstance(file_id, str) else None
        if found is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        content, size = found
        if content is None:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "file_size": size,
            "file_path": f"files/{file_id}",
        }

    def _resent(self, params: JSONDict, kind: str) -> JSONDict:
        """Sending a file again by its id, as the bot does to show an attachment."""
        file_id = params.get(kind)
        with self._cond:
            known = isinstance(file_id, str) and file_id in self._files
        if not known:
            raise ApiError(400, "Bad Request: wrong remote file identifier specified")
        _, size = self._files[file_id]
        sent: Any = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": size}
        return self._send(params, {kind: [sent] if kind == "photo" else sent, **_caption(params)})

    def _api_sendVoice(self, params: JSONDict, files: dict) -> JSONDict:
        return self._resent(params, "voice")

    def _api_sendAudio(self, params: JSONDict, files: dict) -> JSONDict:
        return self._resent(params, "audio")

    def _api_sendVideo(self, params: JSONDict, files: dict) -> JSONDict:
        return self._resent(params, "video")

    def _api_sendVideoNote(self, params: JSONDict, files: dict) -> JSONDict:
        return self._resent(params, "video_note")

    def _api_sendAnimation(self, params: JSONDict, files: dict) -> JSONDict:
        return self._resent(params, "animation")

    def _api_sendDocument(self, params: JSONDict, files: dict[str, UploadedFile]) -> JSONDict:
        value = params.get("document")
        if isinstance(value, str) and not value.startswith("attach://"):
            return self._resent(params, "document")
        upload = _upload(params, files, "document")
        document = {
            "file_id": f"doc-{len(upload.content)}",
            "file_unique_id": f"d{len(upload.content)}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }
        return self._send(params, {"document": document, **_caption(params)})

    def _api_editMessageText(self, params: JSONDict, files: dict) -> JSONDict:
        markup = params.get("text")
        if not isinstance(markup, str) or not markup.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        text = _plain(markup, params.get("parse_mode"))
        if len(text) > MESSAGE_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        keyboard = _checked_markup(params.get("reply_markup"))
        with self._cond:
            message = self._bot_message(params)
            if "text" not in message:
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            if message.get("html") == markup and message.get("reply_markup") == keyboard:
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            message.update(text=text, html=markup, edit_date=int(time.time()))
            # Like Telegram: an edit without a keyboard removes the keyboard.
            _set_markup(message, keyboard)
            return dict(message)

    def _api_editMessageReplyMarkup(self, params: JSONDict, files: dict) -> JSONDict:
        keyboard = _checked_markup(params.get("reply_markup"))
        with self._cond:
            message = self._bot_message(params)
            if message.get("reply_markup") == keyboard:
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            _set_markup(message, keyboard)
            message["edit_date"] = int(time.time())
            return dict(message)

    def _api_answerCallbackQuery(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            query_id = params.get("callback_query_id")
            if query_id not in self._pending_queries:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is "
                    "invalid",
                )
            self._pending_queries.discard(query_id)
        if len(params.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _api_setMyCommands(self, params: JSONDict, files: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be a list")
        for command in commands:
            name = command.get("command", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        with self._cond:
            self._commands[_scope(params)] = list(commands)
        return True

    def _api_deleteMyCommands(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            self._commands.pop(_scope(params), None)
        return True

    def _api_getMyCommands(self, params: JSONDict, files: dict) -> list[JSONDict]:
        return self.commands(_scope(params))

    def _api_leaveChat(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            chat = self._writable_chat(params.get("chat_id"))
            self._left.add(chat["id"])
        return True

    def _api_getChat(self, params: JSONDict, files: dict) -> JSONDict:
        with self._cond:
            chat = self._chats.get(params.get("chat_id"))
            if chat is None:
                raise ApiError(400, "Bad Request: chat not found")
            return {
                **chat,
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                },
            }

    def _api_sendChatAction(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            self._writable_chat(params.get("chat_id"))
        return True

    def _api_deleteMessage(self, params: JSONDict, files: dict) -> bool:
        with self._cond:
            chat = self._writable_chat(params.get("chat_id"))
            message_id = params.get("message_id")
            if self._messages[chat["id"]].pop(message_id, None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
            if message_id in self._bot_messages[chat["id"]]:
                self._bot_messages[chat["id"]].remove(message_id)
        return True


_SENDS = ("sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo",
          "sendVideoNote", "sendAnimation")  # fmt: skip
_METHODS = {name[len("_api_") :].lower(): name[len("_api_") :] for name in dir(FakeTelegram)
            if name.startswith("_api_")}  # fmt: skip


def _without_reply(message: JSONDict) -> JSONDict:
    """Telegram does not nest reply_to_message inside a reply_to_message."""
    return {k: v for k, v in message.items() if k not in ("reply_to_message", "html")}


def _visible_text(message: JSONDict) -> str:
    return message.get("text") or message.get("caption") or ""


def _plain(markup: str, parse_mode: Any) -> str:
    if parse_mode is None:
        return markup
    if str(parse_mode).upper() != "HTML":
        raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r} in the fake")
    return parse_html(markup)


def _caption(params: JSONDict) -> JSONDict:
    markup = params.get("caption")
    if not markup:
        return {}
    text = _plain(markup, params.get("parse_mode"))
    if len(text) > CAPTION_LIMIT:
        raise ApiError(400, "Bad Request: message caption is too long")
    return {"caption": text, "html": markup}


def _upload(params: JSONDict, files: dict[str, UploadedFile], name: str) -> UploadedFile:
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        upload = files.get(value[len("attach://") :])
    else:
        upload = files.get(name)
    if upload is None:
        raise ApiError(400, f"Bad Request: there is no {name} in the request")
    if not upload.content:
        raise ApiError(400, "Bad Request: file must be non-empty")
    return upload


def _checked_markup(markup: Any) -> JSONDict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _set_markup(message: JSONDict, markup: JSONDict | None) -> None:
    if markup and markup.get("inline_keyboard"):
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _scope(params: JSONDict) -> str:
    scope = params.get("scope") or {}
    kind = scope.get("type", "default")
    chat = scope.get("chat_id")
    language = params.get("language_code") or ""
    return ":".join(str(p) for p in (kind, chat, language) if p)


def _decode_form(pairs: list[tuple[str, str]]) -> JSONDict:
    params: JSONDict = {}
    for key, value in pairs:
        if key in _STRING_PARAMS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _parse_multipart(content_type: str, body: bytes) -> tuple[JSONDict, dict[str, UploadedFile]]:
    message = BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    pairs: list[tuple[str, str]] = []
    files: dict[str, UploadedFile] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(name, filename, part.get_content_type(), payload)
        else:
            pairs.append((name, payload.decode("utf-8")))
    return _decode_form(pairs), files


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        # A client that hung up (an abandoned long poll, a stopped bot) is not a test failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTelegram
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after close

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the calls are recorded instead

    def _serve(self) -> None:
        url = urlsplit(self.path)
        download = re.fullmatch(r"/file/bot([^/]+)/(.+)", unquote(url.path))
        if download is not None:
            self._download(*download.groups())
            return
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", url.path)
        if match is None:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = match.groups()
        if token != self.fake.token:
            self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        try:
            params, files = self._read_body()
            params.update(_decode_form(parse_qsl(url.query)))
        except (ValueError, UnicodeDecodeError):
            self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request"})
            return
        try:
            result = self.fake._handle(method, params, files)
        except ApiError as e:
            body: JSONDict = {"ok": False, "error_code": e.status, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
            self._reply(e.status, body)
            return
        self._reply(200, {"ok": True, "result": result})

    def _download(self, token: str, file_path: str) -> None:
        content = self.fake.file_bytes(file_path) if token == self.fake.token else None
        if content is None:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass

    def _read_body(self) -> tuple[JSONDict, dict[str, UploadedFile]]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if not body:
            return {}, {}
        if content_type.startswith("application/json"):
            return json.loads(body), {}
        if content_type.startswith("multipart/form-data"):
            return _parse_multipart(content_type, body)
        return _decode_form(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}

    def _reply(self, status: int, body: JSONDict) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client gave up waiting (a cancelled long poll)


# --- running a python-telegram-bot Application against the server ---------------------------


class _PollingLoop(asyncio.SelectorEventLoop):
    """An event loop that says when `run_polling` has reached its own `run_forever`.

    `run_polling` starts the application with `run_until_complete`, which runs the loop too;
    `Application.stop_running` (a `loop.stop()`) that lands there is spent ending that call, and
    the `run_forever` after it never ends. So the bot counts as started only from here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.serving = threading.Event()
        self._completing = 0

    def run_until_complete(self, future: Any) -> Any:
        self._completing += 1
        try:
            return super().run_until_complete(future)
        finally:
            self._completing -= 1

    def run_forever(self) -> None:
        if self._completing:
            super().run_forever()
            return
        self.serving.set()
        try:
            super().run_forever()
        finally:
            self.serving.clear()


class BotThread:
    """Run an Application's polling loop in a thread with its own event loop.

    `run` is what the thread calls (default: `application.run_polling(stop_signals=None)`); it
    must use `stop_signals=None`, as only the main thread may install signal handlers.
    """

    def __init__(self, application: Any, run: Callable[[], None] | None = None):
        self.application = application
        self._run = run or (lambda: application.run_polling(stop_signals=None, timeout=5))
        self._loop: _PollingLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="bot-under-test", daemon=True)

    def _main(self) -> None:
        self._loop = _PollingLoop()
        asyncio.set_event_loop(self._loop)
        try:
            self._run()
        except BaseException as e:  # reported by stop()/start() in the test's thread
            self._error = e
        finally:
            if not self._loop.is_closed():
                self._loop.close()
            asyncio.set_event_loop(None)

    def start(self, timeout: float = 10.0) -> BotThread:
        """Start, and wait until the bot polls (or its start-up failed)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not (self._loop and self._loop.serving.is_set() and self.application.updater.running):
            if not self._thread.is_alive():
                raise RuntimeError("the bot stopped while starting") from self._error
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not start polling in time")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop as a signal would: updater, application, shutdown hooks; re-raise a crash."""
        loop = self._loop
        if self._thread.is_alive() and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.application.stop_running)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the bot did not stop in time")
        if self._error is not None:
            raise RuntimeError("the bot crashed") from self._error

    def __enter__(self) -> BotThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
