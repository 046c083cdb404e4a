"""The terminal chat with the shipped config: people typing lines, reading what it printed.

`Terminal(config_file, "you").type("line", ...)` runs the lines through the chat's own reading
(`\"\"\"` blocks included) and returns what the chat printed for them, as `sopbot chat` would.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.app import Services
from bot.chat import TerminalChat, messages, terminal_config, terminal_user
from bot.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def shipped_config(tmp: Path) -> Path:
    """config.example.yaml as `make run` copies it, its folders pointed at the repository's
    procedures and a fresh knowledge folder and database in `tmp`."""
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    text = text.replace("procedures_dir: procedures", f"procedures_dir: {ROOT / 'procedures'}")
    text = text.replace("knowledge_dir: knowledge", f"knowledge_dir: {tmp / 'knowledge'}")
    path = tmp / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Terminal:
    """One person at `sopbot chat --user NAME` (no --user: the default person)."""

    def __init__(
        self,
        config_file: Path,
        user: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        language: str | None = None,  # `--language`
    ):
        config = load_config(str(config_file))
        self.leads_given = bool(config.leads)
        self.user = terminal_user(config, user)
        self.services = Services(terminal_config(config, self.user))
        self.out = io.StringIO()
        self.chat = TerminalChat(
            self.services,
            user=self.user,
            chat_id=None,
            out=self.out,
            clock=clock,
            language=language,
        )

    def welcome(self) -> str:
        """What `make run` prints first, on a terminal."""
        start = self.out.tell()
        self.chat.welcome(leads_given=self.leads_given)
        return self.out.getvalue()[start:]

    def type(self, *lines: str) -> str:
        """What the chat printed for these lines."""
        start = self.out.tell()
        for message in messages(iter(lines)):
            self.chat.say(message)
        return self.out.getvalue()[start:]

    def answer(self, answers: dict[str, str | tuple[str, ...]], *, until: str) -> str:
        """Answer each question with the answer whose key it contains (the most recent question
        in what was printed wins) until `until` is printed; a question no key fits fails."""
        said = ""
        for _ in range(40):
            last = self.out.getvalue()
            if until in said:
                return said
            found = [(last.lower().rfind(k.lower()), k) for k in answers]
            at, key = max(found)
            assert at >= 0, f"no answer for:\n{last[-600:]}"
            reply = answers[key]
            said += self.type(*((reply,) if isinstance(reply, str) else reply))
        raise AssertionError(f"never printed {until!r}:\n{said[-1500:]}")

    def tick_all_steps(self, number: int) -> str:
        """Open the checklist and press each step's button until none is left."""
        said = self.type(f"/steps {number}")
        for _ in range(12):
            buttons = [line for line in said.splitlines() if line.startswith("[")]
            step = re.search(r"\[(\d+)\] Done: ", buttons[-1] if buttons else "")
            if step is None:
                return said
            said = self.type(step.group(1))
            assert "done" in said, said
        raise AssertionError(said)

    def close(self) -> None:
        self.services.close()
