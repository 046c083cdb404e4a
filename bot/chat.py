"""The terminal chat: the same engine, procedures and database, driven from stdin.

Buttons are shown as numbered options; type the number or the label. Several people can be
played by separate runs with `--user` and `--chat`. End of input ends the chat (exit 0).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from bot.app import Services
from bot.config import Config
from bot.domain.actors import Actor
from bot.render import environment, html_to_text
from bot.services.messages import Button, Incoming, Reply
from bot.services.outbox import Sent

BOT_USERNAME = "sopbot"


def user_id_for(name: str) -> int:
    """A numeric --user is a Telegram id; a name maps to a stable id of its own."""
    if name.lstrip("-").isdigit():
        return int(name)
    return 10_000_000 + zlib.crc32(name.encode()) % 10_000_000


class TerminalChat:
    def __init__(
        self,
        services: Services,
        *,
        user: str,
        chat_id: int | None,
        out: TextIO,
        clock: Callable[[], datetime],
    ):
        self.services = services
        self.config: Config = services.config
        uid = user_id_for(user)
        self.actor = Actor(uid, user, None if user.lstrip("-").isdigit() else user)
        self.chat_id = chat_id if chat_id is not None else uid
        self.chat_type = "private" if self.chat_id == uid else "group"
        self.out = out
        self.clock = clock
        self.next_message_id = 1
        self.buttons: list[Button] = []
        self.button_message: int | None = None

    def say(self, line: str) -> None:
        """One line typed by the person."""
        text = line.rstrip("\n")
        button = self._button_for(text)
        message_id = self._take_id()
        if button is not None:
            incoming = Incoming(
                user=self.actor,
                chat_id=self.chat_id,
                chat_type=self.chat_type,
                now=self.clock(),
                callback_data=button.data,
                callback_message_id=self.button_message,
                bot_username=BOT_USERNAME,
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
            )
        outcome = self.services.conversation.handle(incoming)
        if outcome.toast:
            self._say("toast", toast=outcome.toast)
        if outcome.owed:
            self._deliver_owed()
        else:  # nothing could be stored (a busy database): shown once, as it is
            for reply in outcome.replies:
                self._show(reply)

    def _deliver_owed(self) -> None:
        """The terminal is this chat's transport: what the bot owes is shown here and marked
        sent, so a later `sopbot run` on the same database never sends it to Telegram."""
        outbox = self.services.outbox
        while owed := outbox.claim(self.clock()):
            outbox.sent([Sent(o, (self._show(o.reply),), self.clock()) for o in owed])

    def _button_for(self, text: str) -> Button | None:
        word = text.strip()
        if not self.buttons or not word:
            return None
        if word.isdigit() and 1 <= int(word) <= len(self.buttons):
            return self.buttons[int(word) - 1]
        return next((b for b in self.buttons if b.label.casefold() == word.casefold()), None)

    def _show(self, reply: Reply) -> int:
        """Print `reply`; returns the message id it got here (the edited one for an edit)."""
        text = html_to_text(reply.text)
        if reply.edit_message_id is not None:
            self._say("edited", text=text)
            return reply.edit_message_id
        message_id = self._take_id()
        if reply.chat_id != self.chat_id:
            name = next((c.name for c in self.config.chats if c.id == reply.chat_id), None)
            self._say("elsewhere", chat=name or reply.chat_id)
        self._print(text)
        if reply.attachment is not None:
            self._say("attachment", attachment=reply.attachment)
        if reply.chat_id == self.chat_id and reply.buttons:
            self.buttons = [b for row in reply.buttons for b in row]
            self.button_message = message_id
            self._say("buttons", buttons=self.buttons)
        elif reply.chat_id == self.chat_id and reply.kind != "edit":
            self.buttons = []
        return message_id

    def _take_id(self) -> int:
        self.next_message_id += 1
        return self.next_message_id

    def _say(self, what: str, **data: object) -> None:
        """One line of the chat's own (`cli/chat.txt`), around what the bot says."""
        self._print(words(what, **data))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def words(what: str, /, **data: object) -> str:
    """The terminal chat's own words, `what` of `bot/templates/cli/chat.txt`.

    Not `bot.render.render`, which trims the ends: here the indent of an edited message and the
    bot's own text are kept exactly as they are.
    """
    return environment().get_template("cli/chat.txt").render(what=what, **data)


def run_chat(
    services: Services,
    *,
    user: str | None = None,
    chat_id: int | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Chat with the bot in the terminal until end of input."""
    config = services.config
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    if user is None:
        user = str(min(config.leads)) if config.leads else "you"
    chat = TerminalChat(
        services, user=user, chat_id=chat_id, out=out, clock=clock or (lambda: datetime.now(UTC))
    )
    interactive = stdin.isatty()
    if interactive:
        print(words("welcome", user=user), file=out)
    while True:
        if interactive:
            print("> ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line:
            return 0
        if line.strip():
            chat.say(line)
