"""What the bot waits to hear: the kinds of pending question, the two phases, and the small
payload a question carries between messages (stored with it, so a restart loses nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Every kind of question, dispatched from one place (`services.answering`)."""

    CHOOSE = "choose"  # which procedure? (a message that no procedure matched alone)
    FIELD = "field"  # one field's value
    CONFIRM = "confirm"  # the collected values: open the ticket, or change one?
    PICK_CHANGE = "pick_change"  # which field to change?
    DEFLECT = "deflect"  # do these knowledge articles solve it?
    REJECT_REASON = "reject_reason"  # why an approver rejects (options: ticket, step id)
    SATISFACTION_COMMENT = "satisfaction_comment"  # after 👍/👎 (options: ticket, round)


class Phase(StrEnum):
    INTAKE = "intake"  # the fields a ticket opens with
    RESOLUTION = "resolution"  # the fields resolving it asks for
    RETRO = "retro"  # then the procedure's retrospective questions, when they apply

    @property
    def resolving(self) -> bool:
        """Part of a resolve round: answers wait on the question until the round completes."""
        return self is not Phase.INTAKE


@dataclass(frozen=True)
class Payload:
    """A question's memory. `n` numbers the questions of a ticket; buttons repeat it, so a
    button of an earlier question is recognised as stale."""

    n: int = 0
    phase: Phase = Phase.INTAKE
    # Resolution answers collected so far; they are stored only when the round completes.
    answers: dict[str, Any] = field(default_factory=dict)
    changing: bool = False  # a field is being changed from the confirmation summary
    resume_status: str | None = None  # where an opened ticket goes back once complete again
    # Why the retrospective questions are asked in this resolve round (late, reopened, slow,
    # always); empty: they are not.
    retro: tuple[str, ...] = ()
    articles: tuple[int, ...] = ()  # knowledge articles offered (deflection)
    # Choosing a procedure: the message that started it, and the procedures offered.
    text: str = ""
    message_id: int | None = None
    options: tuple[str, ...] = ()

    def next(self, phase: Phase, **changes: Any) -> Payload:
        """The payload of the ticket's next question: its number moves on."""
        return replace(self, n=self.n + 1, phase=phase, **changes)

    def but(self, **changes: Any) -> Payload:
        """The same question, remembering something more."""
        return replace(self, **changes)

    def with_answer(self, name: str, value: Any) -> Payload:
        return replace(self, answers={**self.answers, name: value})

    def to_json(self) -> dict[str, Any]:
        """Only what differs from the defaults, so stored payloads stay small."""
        default = _DEFAULT
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name) or f.name == "n":
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Payload:
        """Read a stored payload; keys this version does not know are ignored."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "phase" in values:
            values["phase"] = Phase(values["phase"])
        for name in ("articles", "options", "retro"):
            if name in values:
                values[name] = tuple(values[name] or ())
        if "answers" in values:
            values["answers"] = dict(values["answers"] or {})
        return cls(**values)


_DEFAULT = Payload()
