"""Codes and data from the domain put into words, through the templates in `bot/templates/words/`.

The domain says *what* (a refusal's reason code, a status code, a timedelta); these functions
say it as people read it. They return plain text: `.html` templates escape it where they show
it. `status_name`, `duration`, `seconds`, `number` and `moment` are also the Jinja filters `status`,
`duration`, `seconds`, `number` and `moment`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.durations import duration_parts
from bot.domain.fields import Rejected
from bot.domain.procedure import FieldSpec, Procedure
from bot.domain.reminders import late_by
from bot.domain.text import readable
from bot.domain.ticket import Refusal, TransitionError
from bot.locale import formats
from bot.render import current_language, render


def rejection(outcome: Rejected, lang: str | None = None) -> str:
    """Why an answer was refused, in a sentence (`words/rejection.txt`)."""
    return render("words/rejection.txt", lang, code=str(outcome.code), d=dict(outcome.data))


def refusal(refused: Refusal, number: int, lang: str | None = None) -> str:
    """Why ticket `number` refused a change, as a phrase (`words/refusal.txt`)."""
    return render("words/refusal.txt", lang, why=refused.why.value, number=number, d=refused.data)


def duration(delta: timedelta, lang: str | None = None) -> str:
    """`1 day 2 hours`, `45 minutes`: the two largest units, sign ignored."""
    return render("words/duration.txt", lang, parts=duration_parts(delta))


def moment(at: datetime, tz: ZoneInfo | None = None, lang: str | None = None) -> str:
    """A point in time as people read it, in the team's time zone: `Mon 30 Nov, 15:20`."""
    local = at.astimezone(tz) if tz is not None else at
    return render("words/moment.txt", lang, at=local)


def seconds(value: float) -> timedelta:
    """A number of seconds (how durations are stored) as a timedelta, for `|seconds|duration`."""
    return timedelta(seconds=value)


def lateness(due_at: datetime, now: datetime, lang: str | None = None) -> str:
    """How late a ticket is: `due now`, `45 minutes late`, `3 days 4 hours late`."""
    by = late_by(due_at, now)
    return _late(tuple(duration_parts(by)) if by is not None else None, lang or current_language())


# A sweep says how late thousands of tickets are, mostly in the same few words: each is
# rendered once. Keyed by the words' data and their language.
@lru_cache(maxsize=4096)
def _late(parts: tuple[tuple[int, str], ...] | None, lang: str) -> str:
    return render("words/late.txt", lang, parts=parts)


def due_words(due_at: datetime | None, now: datetime, lang: str | None = None) -> str:
    """`due in 2 hours` or `overdue by 1 day 3 hours`; empty without a due time."""
    if due_at is None:
        return ""
    left = due_at - now
    return render("words/due.txt", lang, left=left, parts=duration_parts(left))


def status_name(code: str, lang: str | None = None) -> str:
    """A ticket status as people read it: `waiting_for_info` -> `waiting for info`."""
    return render("words/status.txt", lang, status=code)


def transition(error: TransitionError, lang: str | None = None) -> str:
    """A status change the lifecycle refused, in a sentence."""
    return render("words/transition.txt", lang, current=error.current, target=error.target)


def number(x: float, lang: str | None = None) -> str:
    """`2.0` as `2`, `3.5` as `3.5`, `1234` as `1,234`."""
    return formats.number(lang or current_language(), x)


def display(
    spec: FieldSpec | None, value: Any, tz: ZoneInfo | None = None, lang: str | None = None
) -> str:
    """A stored field value as people read it: yes/no, durations in words, times in `tz` as
    `Mon 30 Nov, 15:20`, `—` for nothing, a choice by its label."""
    if value is None:
        return render("words/value.txt", lang, kind="none", value=value)
    if isinstance(value, bool):
        return render("words/value.txt", lang, kind="boolean", value=value)
    if spec is not None and spec.type == "duration" and isinstance(value, int | float):
        parts = duration_parts(timedelta(seconds=value))
        return render("words/value.txt", lang, kind="duration", value=value, parts=parts)
    if spec is not None and spec.type == "file" and isinstance(value, list):
        return render("words/value.txt", lang, kind="files", value=value)
    if spec is not None and spec.type == "datetime" and isinstance(value, str):
        try:
            return moment(datetime.fromisoformat(value), tz, lang)
        except ValueError:
            return value  # stored by an older version in another form: shown as it is
    if spec is not None and spec.type == "choice" and isinstance(value, str):
        return spec.choice_label(value)
    return number(value, lang) if isinstance(value, float) else str(value)


# A value stored as a time (ISO 8601 with a time of day), for a field no procedure describes now.
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_A_MOMENT = FieldSpec(name="at", question="", type="datetime")


def field_label(procedure: Procedure | None, name: object) -> str:
    """A field named in a record (an audit event, a change), as people read it."""
    text = str(name or "")
    return procedure.label(text) if procedure is not None else readable(text)


def field_value(
    procedure: Procedure | None,
    name: object,
    value: Any,
    tz: ZoneInfo | None,
    lang: str | None = None,
) -> str:
    """A field's value named in a record, in words: by the field's type where the procedure
    still has it; a stored time is a time even without it."""
    spec = procedure.field(str(name)) if procedure is not None else None
    if spec is None and isinstance(value, str) and _ISO_MOMENT.match(value):
        spec = _A_MOMENT
    return display(spec, value, tz, lang)


def expected_form(spec: FieldSpec, lang: str | None = None) -> str:
    """A short phrase telling the person what form of answer `spec` wants."""
    return render("words/expected_form.txt", lang, spec=spec)
