"""The terminal chat: the same engine, procedures and database, driven from stdin.

Buttons are shown as numbered options; type the number or the label (for a step, its title).
A line with only `\"\"\"` starts a multi-line answer and another such line ends it. `/send PATH
[caption]` sends a file from this machine, as Telegram's paperclip does. Several people
can be played by separate runs with `--user` and `--chat`. End of input ends the chat (exit 0).
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.app import Services
from bot.config import Config
from bot.domain.actors import Actor
from bot.domain.languages import ENGLISH, language_of
from bot.render import environment, html_to_text
from bot.services.file_store import DOWNLOAD_LIMIT
from bot.services.messages import Button, Incoming, IncomingFile, Reply
from bot.services.outbox import Sent

BOT_USERNAME = "sopbot"
DEFAULT_USER = "you"
_SIGNS = re.compile(r"^\W+|\W+$")
BLOCK = '"""'  # a line with only this opens, and closes, a multi-line answer
_SEND = re.compile(r"^/send\s+(\S+)(?:\s+(.*))?$", re.S)  # `/send PATH [caption]`: a file


def user_id_for(name: str) -> int:
    """A numeric --user is a Telegram id; a name maps to a stable id of its own."""
    if name.lstrip("-").isdigit():
        return int(name)
    return 10_000_000 + zlib.crc32(name.encode()) % 10_000_000


def terminal_user(config: Config, user: str | None) -> str:
    """Who types when `--user` is not given: the first lead, else "you"."""
    if user is not None:
        return user
    return str(min(config.leads)) if config.leads else DEFAULT_USER


def terminal_config(config: Config, user: str) -> Config:
    """With no leads configured, the person at the terminal is one: a newcomer can take every
    shipped procedure to the end, lead-only steps included. A team's own leads stay as they are."""
    if config.leads:
        return config
    return replace(config, leads=frozenset({user_id_for(user)}))


class Screen:
    """The buttons on screen, numbered. A button keeps its number while it is on screen: a
    message that shows some of the same buttons again (the checklist after a step is ticked, the
    next page of the audit) keeps their numbers and gives new ones numbers not used before, so a
    number typed twice never presses a different button."""

    def __init__(self) -> None:
        self.numbered: dict[int, Button] = {}
        self.message_id: int | None = None

    def show(self, buttons: list[Button], message_id: int) -> list[tuple[int, Button]]:
        """Put `buttons` on screen (they replace the ones there); returns them numbered.

        A button already on screen is known by its label in an edit of the same message (the
        pager's "Later" leads to another page each time) and by what it does in a new message
        (the checklist sent again after a step is done; a "Skip" of another question is not
        the same button)."""
        same = message_id == self.message_id

        def key(b: Button) -> str:
            return b.label if same else b.data

        known = {key(b): n for n, b in self.numbered.items()}
        if not any(key(b) in known for b in buttons):
            known = {}
        fresh = iter(range(max(self.numbered, default=0) + 1 if known else 1, sys.maxsize))
        placed = [(known.get(key(b)) or next(fresh), b) for b in buttons]
        self.numbered = dict(placed)
        self.message_id = message_id
        return placed

    def clear(self) -> None:
        self.numbered = {}
        self.message_id = None

    def find(self, text: str) -> Button | None:
        """The button `text` names: its number, its label, or what the label is about (a step's
        title for "Done: <title>")."""
        word = text.strip()
        if not word:
            return None
        if word.isdigit():
            return self.numbered.get(int(word))
        wanted = word.casefold()
        return next((b for b in self.numbered.values() if _names(b.label, wanted)), None)


def _names(label: str, wanted: str) -> bool:
    """Whether typed words name a button: its label, without the signs around it ("Later" for
    "Later ▶", "Continue" for "➡️ Continue"), or what follows "Done: " (a step's title)."""
    label = label.casefold().strip()
    bare = _SIGNS.sub("", label)
    return wanted in (label, bare, bare.partition(": ")[2])


class TerminalChat:
    def __init__(
        self,
        services: Services,
        *,
        user: str,
        chat_id: int | None,
        out: TextIO,
        clock: Callable[[], datetime],
        language: str | None = None,
    ):
        self.services = services
        self.config: Config = services.config
        # As a Telegram app says its language: the engine decides what the person reads.
        self.language = language
        uid = user_id_for(user)
        self.actor = Actor(uid, user, None if user.lstrip("-").isdigit() else user)
        self.chat_id = chat_id if chat_id is not None else uid
        self.chat_type = "private" if self.chat_id == uid else "group"
        self.out = out
        self.clock = clock
        self.next_message_id = 1
        self.screen = Screen()

    def welcome(self, *, leads_given: bool) -> None:
        """Who is typing, as the bot sees them, and how the terminal takes input."""
        uid = self.actor.user_id or 0
        self._say(
            "welcome",
            user=self.actor.name,
            user_id=uid,
            role=self.config.role_of(uid),
            made_lead=not leads_given,
            config=self.config.source.name if self.config.source else "config.yaml",
            block=BLOCK,
        )

    def say(self, line: str) -> None:
        """One message typed by the person (a line, or a multi-line block)."""
        text = line.rstrip("\n")
        files: tuple[IncomingFile, ...] = ()
        sent = _SEND.match(text)
        if sent is not None:  # `/send PATH [caption]`: a file, as Telegram's paperclip sends one
            found = self._file(sent.group(1))
            if found is None:
                return
            files, text = (found,), (sent.group(2) or "").strip()
        button = self.screen.find(text) if "\n" not in text and not files else None
        message_id = self._take_id()
        if button is not None:
            incoming = Incoming(
                user=self.actor,
                chat_id=self.chat_id,
                chat_type=self.chat_type,
                now=self.clock(),
                callback_data=button.data,
                callback_message_id=self.screen.message_id,
                bot_username=BOT_USERNAME,
                language_code=self.language,
            )
        else:
            incoming = Incoming(
                user=self.actor,
                chat_id=self.chat_id,
                chat_type=self.chat_type,
                now=self.clock(),
                text=text,
                message_id=message_id,
                mentions_bot=self.chat_type != "private",
                bot_username=BOT_USERNAME,
                files=files,
                language_code=self.language,
            )
        outcome = self.services.conversation.handle(incoming)
        pressed = button is not None
        if outcome.toast:
            self._say("toast", toast=outcome.toast)
        if outcome.owed:
            self._deliver_owed(pressed)
        else:  # nothing could be stored (a busy database): shown once, as it is
            for reply in outcome.replies:
                self._show(reply, pressed)
        if text.strip().lower() == "/help":
            self._say("help", block=BLOCK)

    def _file(self, path_text: str) -> IncomingFile | None:
        """A file from this machine, stored like one downloaded from Telegram; None (and said
        why) when it cannot be read. The terminal is the person's own machine: the path is
        theirs to name, as in any shell."""
        path = Path(path_text.strip().strip("'\"")).expanduser()
        try:
            if not path.is_file():
                raise FileNotFoundError(path)
            size = path.stat().st_size
            if size > DOWNLOAD_LIMIT:
                self._say("file_too_big", path=str(path), size=size)
                return None
            data = path.read_bytes()
        except OSError:
            self._say("no_file", path=str(path))
            return None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kind = "photo" if mime in ("image/jpeg", "image/png") else "document"
        return IncomingFile(
            kind=kind,
            file_id=f"terminal:{hashlib.sha256(data).hexdigest()[:32]}",
            file_unique_id=hashlib.sha256(data).hexdigest()[:32],
            file_name=None if kind == "photo" else path.name[:255],
            mime_type=mime,
            size=len(data),
            sha256=self.services.files.put(data),
        )

    def _deliver_owed(self, pressed: bool) -> None:
        """The terminal is this chat's transport: what the bot owes is shown here and marked
        sent, so a later `sopbot run` on the same database never sends it to Telegram."""
        outbox = self.services.outbox
        while owed := outbox.claim(self.clock()):
            outbox.sent([Sent(o, (self._show(o.reply, pressed),), self.clock()) for o in owed])

    def _show(self, reply: Reply, pressed: bool = False) -> int:
        """Print `reply`; returns the message id it got here (the edited one for an edit)."""
        text = html_to_text(reply.text)
        buttons = [b for row in reply.buttons for b in row]
        here = reply.chat_id == self.chat_id
        if reply.edit_message_id is not None:
            self._say("edited", text=text)
            if here and reply.edit_message_id == self.screen.message_id:
                if buttons:  # the pager's next page, a summary's new buttons
                    self._say("buttons", buttons=self.screen.show(buttons, reply.edit_message_id))
                else:
                    self.screen.clear()
            return reply.edit_message_id
        message_id = self._take_id()
        if not here:
            name = next((c.name for c in self.config.chats if c.id == reply.chat_id), None)
            self._say("elsewhere", chat=name or reply.chat_id)
        self._print(text)
        if reply.attachment is not None:
            self._say("attachment", attachment=reply.attachment)
        if reply.file is not None:
            self._say("file", file=reply.file)
        if here and buttons:
            self._say("buttons", buttons=self.screen.show(buttons, message_id))
        elif here and not pressed:
            # An answer to typed text: a number typed next is an answer, not an old button.
            # After a press (an article opened from a list) the buttons stay, as in Telegram.
            self.screen.clear()
        return message_id

    def _take_id(self) -> int:
        self.next_message_id += 1
        return self.next_message_id

    def _say(self, what: str, **data: object) -> None:
        """One line of the chat's own (`cli/chat.txt`), around what the bot says."""
        self._print(words(what, lang=self.language or self.config.language, **data))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def words(what: str, /, lang: str = ENGLISH, **data: object) -> str:
    """The terminal chat's own words, `what` of `bot/templates/cli/chat.txt`, in `lang`.

    Not `bot.render.render`, which trims the ends: here the indent of an edited message and the
    bot's own text are kept exactly as they are.
    """
    language = language_of(lang) or ENGLISH
    return environment(language).get_template("cli/chat.txt").render(what=what, **data)


def messages(lines: Iterator[str]) -> Iterator[str]:
    """What the person typed, one message at a time: a line, or the lines between two `\"\"\"`
    lines joined into one (an unfinished block at the end of input is sent as it is)."""
    block: list[str] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if line.strip() == BLOCK:
            if block is None:
                block = []
                continue
            yield "\n".join(block)
            block = None
        elif block is not None:
            block.append(line)
        elif line.strip():
            yield line
    if block:
        yield "\n".join(block)


def _typed_lines(
    stdin: TextIO, out: TextIO, interactive: bool, language: str = ENGLISH
) -> Iterator[str]:
    """Lines from stdin; on a terminal through `input()` with readline loaded, so arrow keys
    move the cursor and walk the history instead of typing escape codes."""
    if not interactive:
        yield from iter(stdin.readline, "")
        return
    with contextlib.suppress(ImportError):  # Windows has no readline; input() still works
        import readline  # noqa: F401 - importing it gives input() line editing and history
    block = False
    while True:
        try:
            line = input(words("prompt", lang=language, block=block))
        except EOFError:
            print(file=out)
            return
        if line.strip() == BLOCK:
            block = not block
        yield line


def run_chat(
    services: Services,
    *,
    user: str | None = None,
    chat_id: int | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
    leads_given: bool = True,
    interactive: bool | None = None,
    welcome: bool | None = None,
    language: str | None = None,
) -> int:
    """Chat with the bot in the terminal until end of input.

    `leads_given` is False when the config named no leads and the terminal person was made one
    (`terminal_config`): the welcome says so, and how a team names its leads. `language`
    (`--language zh-CN`) is the person's, as a Telegram app would say it.
    """
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    user = terminal_user(services.config, user)
    chat = TerminalChat(
        services,
        user=user,
        chat_id=chat_id,
        out=out,
        clock=clock or (lambda: datetime.now(UTC)),
        language=language,
    )
    spoken = language_of(language) or services.config.language
    if interactive is None:
        interactive = stdin is sys.stdin and stdin.isatty()
    if services.config.http.enabled:  # said even to a script: its feed client would wait
        print(words("no_feed", lang=spoken, port=services.config.http.port), file=sys.stderr)
    if interactive if welcome is None else welcome:
        chat.welcome(leads_given=leads_given)
    for message in messages(_typed_lines(stdin, out, interactive, spoken)):
        chat.say(message)
    return 0
