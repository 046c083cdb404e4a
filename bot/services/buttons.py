"""Button data the bot writes, and reads back: one small codec per kind of button.

Telegram returns a button's data exactly as the bot wrote it, but anyone can send any data
with a crafted client. So each codec accepts only what the bot itself writes: its prefix, the
right number of parts, and ASCII digits of a sane length (`str.isdigit` would take "²"). What
does not parse is refused politely by the engine, never raised.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import astuple, dataclass, fields
from typing import ClassVar, Self

from bot.render import render

MAX_BYTES = 64  # Telegram's limit for callback data
_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,8})")  # up to 999,999,999: ticket numbers, indexes
_HASH = re.compile(r"[0-9a-f]{4}")


@dataclass(frozen=True)
class Codec:
    """A kind of button: `prefix:part:part...`; every part is a number unless typed `str`."""

    prefix: ClassVar[str]
    # Patterns for parts that are not numbers, by field name.
    words: ClassVar[dict[str, re.Pattern[str]]] = {}

    def encode(self) -> str:
        data = ":".join((self.prefix, *(str(v) for v in astuple(self))))
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data longer than Telegram's {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls, parts: list[str]) -> Self | None:
        """The button, from the parts after the prefix; None unless the bot could have made it."""
        names = fields(cls)
        if len(parts) != len(names):
            return None
        values: list[int | str] = []
        for f, part in zip(names, parts, strict=True):
            pattern = cls.words.get(f.name)
            if pattern is not None:
                if not pattern.fullmatch(part):
                    return None
                values.append(part)
            elif _NUMBER.fullmatch(part):
                values.append(int(part))
            else:
                return None
        return cls(*values)


# --- the gate's questions (their `n` is the question's number: an older one is stale) -------


@dataclass(frozen=True)
class Choice(Codec):
    """A choice or yes/no answer (`index` 1 = yes, 0 = no)."""

    prefix: ClassVar[str] = "c"
    ticket: int
    n: int
    index: int


@dataclass(frozen=True)
class Skip(Codec):
    prefix: ClassVar[str] = "x"
    ticket: int
    n: int


@dataclass(frozen=True)
class Confirm(Codec):
    prefix: ClassVar[str] = "y"
    ticket: int
    n: int


@dataclass(frozen=True)
class Change(Codec):
    prefix: ClassVar[str] = "e"
    ticket: int
    n: int


@dataclass(frozen=True)
class PickField(Codec):
    prefix: ClassVar[str] = "f"
    ticket: int
    n: int
    index: int


@dataclass(frozen=True)
class ChooseProcedure(Codec):
    """A procedure offered for a message that no single procedure matched."""

    prefix: ClassVar[str] = "p"
    question: int
    index: int


# --- working a ticket -----------------------------------------------------------------------


@dataclass(frozen=True)
class AssignMe(Codec):
    prefix: ClassVar[str] = "as"
    ticket: int


@dataclass(frozen=True)
class ShowTicket(Codec):
    prefix: ClassVar[str] = "sh"
    ticket: int


@dataclass(frozen=True)
class Approve(Codec):
    """An approver's decision on an approval step, by its place and a hash of its id."""

    prefix: ClassVar[str] = "ap"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"hash": _HASH}
    ticket: int
    index: int
    hash: str


@dataclass(frozen=True)
class Reject(Approve):
    prefix: ClassVar[str] = "rj"


@dataclass(frozen=True)
class SendFile(Codec):
    """Send a ticket's attachment back into the chat (by Telegram's file id)."""

    prefix: ClassVar[str] = "af"
    attachment: int


@dataclass(frozen=True)
class ShowSteps(Codec):
    prefix: ClassVar[str] = "ss"
    ticket: int


@dataclass(frozen=True)
class StepDone(Codec):
    """A step of the checklist, by its place and a hash of its id (spots an edited list)."""

    prefix: ClassVar[str] = "sd"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"hash": _HASH}
    ticket: int
    index: int
    hash: str


# --- the reporter's view of a resolution ----------------------------------------------------


@dataclass(frozen=True)
class Rate(Codec):
    """👍 (`happy` 1) or 👎 (0) on one resolution (`round`: the ticket's reopen count then)."""

    prefix: ClassVar[str] = "sf"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"happy": re.compile(r"[01]")}
    ticket: int
    round: int
    happy: str


@dataclass(frozen=True)
class NoComment(Codec):
    """After a tap: nothing to add."""

    prefix: ClassVar[str] = "sc"
    ticket: int
    round: int


# --- knowledge articles offered before a ticket (deflection) ---------------------------------


@dataclass(frozen=True)
class ShowArticle(Codec):
    """Show one offered article (`k:<ticket>:v:<article>`)."""

    prefix: ClassVar[str] = "k"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"view": re.compile(r"v")}
    ticket: int
    view: str
    article: int


@dataclass(frozen=True)
class Deflected(Codec):
    """The articles solved it (`k:<ticket>:s`) or the ticket goes on (`k:<ticket>:c`)."""

    prefix: ClassVar[str] = "k"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"answer": re.compile(r"[sc]")}
    ticket: int
    answer: str


# --- the overdue digest ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chase(Codec):
    """Under a digest: "on it" (`on`), "snooze" (`sn`) or "show" (`sh`) for one ticket."""

    prefix: ClassVar[str] = "r"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"action": re.compile(r"on|sn|sh")}
    action: str
    ticket: int


def short_hash(text: str) -> str:
    """Four hex digits tying a button to the step it was made for (spots an edited list)."""
    return hashlib.sha256(text.encode()).hexdigest()[:4]


@dataclass(frozen=True)
class PickLanguage(Codec):
    """Under /language: the language to speak to this person (`auto`: their Telegram app's)."""

    prefix: ClassVar[str] = "lang"
    words: ClassVar[dict[str, re.Pattern[str]]] = {"code": re.compile(r"en|zh-CN|auto")}
    code: str


def label(kind: str, **context: object) -> str:
    """A button's words, from `chat/button.txt`."""
    return render("chat/button.txt", kind=kind, **context)


__all__ = [
    "MAX_BYTES",
    "Approve",
    "AssignMe",
    "Change",
    "Chase",
    "Choice",
    "ChooseProcedure",
    "Codec",
    "Confirm",
    "Deflected",
    "NoComment",
    "PickField",
    "PickLanguage",
    "Rate",
    "Reject",
    "SendFile",
    "ShowArticle",
    "ShowSteps",
    "ShowTicket",
    "Skip",
    "StepDone",
    "label",
    "short_hash",
]
