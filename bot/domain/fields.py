"""Reading a person's answer into a field value, or saying exactly what is wrong with it.

Values are kept in JSON-friendly forms: text/choice/email/url/user as strings, integers, floats,
booleans, dates as `YYYY-MM-DD`, datetimes as ISO 8601 with offset, durations as seconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.domain.durations import DurationError, format_duration, parse_duration
from bot.domain.procedure import FieldSpec

MAX_ANSWER_LENGTH = 4096
_TRUE = {"yes", "y", "true", "on", "1"}
_FALSE = {"no", "n", "false", "off", "0"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_USERNAME = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Accepted:
    value: Any


@dataclass(frozen=True)
class Rejected:
    reason: str


Outcome = Accepted | Rejected


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """Compiled regexes are cached by their text, which is safe: the text is the regex."""
    return re.compile(pattern)


def expected_form(spec: FieldSpec) -> str:
    """A short phrase telling the person what form of answer is wanted."""
    forms = {
        "text": "some text",
        "integer": "a whole number, like 42",
        "number": "a number, like 3.5",
        "boolean": "yes or no",
        "choice": "one of: " + ", ".join(spec.choices),
        "date": "a date as YYYY-MM-DD, like 2026-03-31",
        "datetime": "a date and time as YYYY-MM-DD HH:MM, like 2026-03-31 14:30",
        "duration": "a duration like 30m, 8h or 2d",
        "email": "an email address, like name@example.com",
        "url": "a web address starting with https://",
        "user": "a Telegram @username",
    }
    return forms.get(spec.type, "some text")


def parse_answer(spec: FieldSpec, raw: str, tz: ZoneInfo) -> Outcome:
    """Validate `raw` for `spec`: the value to store, or the reason it was refused."""
    text = raw.strip()
    if not text:
        return Rejected("The answer is empty.")
    if len(text) > MAX_ANSWER_LENGTH:
        return Rejected(
            f"The answer is too long ({len(text)} characters; {MAX_ANSWER_LENGTH} at most)."
        )
    reader = _READERS.get(spec.type, _read_text)
    outcome = reader(spec, text, tz)
    if isinstance(outcome, Rejected):
        return outcome
    return _check_pattern(spec, text, outcome)


def _check_pattern(spec: FieldSpec, text: str, outcome: Accepted) -> Outcome:
    patterned = spec.pattern and spec.type in ("text", "email", "url", "user")
    if patterned and not compiled(spec.pattern).search(str(outcome.value)):
        hint = f" For example: {spec.example}." if spec.example else ""
        return Rejected(f"That does not have the expected form ({spec.pattern}).{hint}")
    return outcome


def _read_text(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    n = len(text)
    if spec.min_length is not None and n < spec.min_length:
        return Rejected(f"That is {n} characters; at least {spec.min_length} are needed.")
    if spec.max_length is not None and n > spec.max_length:
        return Rejected(f"That is {n} characters; at most {spec.max_length} are allowed.")
    return Accepted(text)


def _in_range(spec: FieldSpec, value: float) -> Outcome:
    if spec.min is not None and value < spec.min:
        return Rejected(f"{_num(value)} is too small; the smallest allowed is {_num(spec.min)}.")
    if spec.max is not None and value > spec.max:
        return Rejected(f"{_num(value)} is too large; the largest allowed is {_num(spec.max)}.")
    return Accepted(value)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _read_integer(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    cleaned = text.replace("_", "").replace(" ", "")
    if not _INTEGER.match(cleaned):
        return Rejected(f"{text!r} is not a whole number.")
    return _in_range(spec, int(cleaned))


def _read_number(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    cleaned = text.replace(" ", "")
    if not _NUMBER.match(cleaned):
        return Rejected(f"{text!r} is not a number.")
    value = float(cleaned.replace(",", "."))
    if not math.isfinite(value):
        return Rejected(f"{text!r} is not a finite number.")
    return _in_range(spec, value)


def _read_boolean(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    word = text.lower().rstrip(".!")
    if word in _TRUE:
        return Accepted(True)
    if word in _FALSE:
        return Accepted(False)
    return Rejected("Please answer yes or no.")


def _read_choice(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    for choice in spec.choices:
        if choice.casefold() == text.casefold():
            return Accepted(choice)
    return Rejected(f"{text!r} is not one of the choices: {', '.join(spec.choices)}.")


def _read_date(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return Rejected(f"{text!r} is not a date in the form YYYY-MM-DD.")
    if len(text) != 10:
        return Rejected(f"{text!r} is not a date in the form YYYY-MM-DD.")
    return Accepted(value.isoformat())


def _read_datetime(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    try:
        value = datetime.fromisoformat(text.replace("T", " ", 1))
    except ValueError:
        return Rejected(f"{text!r} is not a date and time in the form YYYY-MM-DD HH:MM.")
    if len(text) < 16:
        return Rejected(f"{text!r} has no time of day; use YYYY-MM-DD HH:MM.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)  # the team's time zone, said plainly in the question
    return Accepted(value.isoformat(timespec="minutes"))


def _read_duration(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    try:
        seconds = int(parse_duration(text).total_seconds())
    except DurationError:
        return Rejected(f"{text!r} is not a duration like 30m, 8h or 2d.")
    return _in_range(spec, seconds)


def _read_email(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    if not _EMAIL.match(text):
        return Rejected(f"{text!r} is not an email address.")
    return Accepted(text)


def _read_url(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        return Rejected(f"{text!r} is not a web address starting with http:// or https://.")
    return Accepted(text)


def _read_user(spec: FieldSpec, text: str, tz: ZoneInfo) -> Outcome:
    candidate = text if text.startswith("@") else "@" + text
    if not _USERNAME.match(candidate):
        return Rejected(f"{text!r} is not a Telegram @username (5-32 letters, digits or _).")
    return Accepted(candidate)


_READERS = {
    "text": _read_text,
    "integer": _read_integer,
    "number": _read_number,
    "boolean": _read_boolean,
    "choice": _read_choice,
    "date": _read_date,
    "datetime": _read_datetime,
    "duration": _read_duration,
    "email": _read_email,
    "url": _read_url,
    "user": _read_user,
}


def display(spec: FieldSpec | None, value: Any) -> str:
    """A stored value as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec is not None and spec.type == "duration" and isinstance(value, int | float):
        return format_duration(timedelta(seconds=value))
    if isinstance(value, float):
        return _num(value)
    return str(value)
