"""Reading a person's answer into a field value, or saying exactly what is wrong with it.

`now` is passed in (the domain never reads the clock): it is what "now" and "5 min ago" mean.
Values are kept in JSON-friendly forms: text/choice/email/url/user as strings, integers, floats,
booleans, dates as `YYYY-MM-DD`, datetimes as ISO 8601 with offset, durations as seconds.
A refusal is a `Reason` code with its data; `bot/templates/words/rejection.txt` says it in words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.domain.durations import DurationError, parse_duration
from bot.domain.procedure import FieldSpec

MAX_ANSWER_LENGTH = 4096
# Yes and no as people type them, in every language sopbot speaks.
_TRUE = {"yes", "y", "true", "on", "1", "是", "是的", "对", "有"}
_FALSE = {"no", "n", "false", "off", "0", "否", "不", "不是", "没有", "无"}
# Answers to "is this right?" before a ticket opens.
CONFIRM_WORDS = frozenset({"yes", "y", "ok", "confirm", "是", "是的", "对", "确认", "好", "好的"})
CHANGE_WORDS = frozenset({"no", "n", "change", "否", "不", "不对", "修改"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_USERNAME = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_PATTERNED = ("text", "email", "url", "user")
_NOW_WORDS = {"now", "just now", "right now", "现在", "刚刚", "刚才"}
_AGO = re.compile(r"^(\d{1,4})\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?)\s+ago$")
_AGO_UNITS = {"m": 60, "h": 3600, "d": 86400}
_AGO_ZH = re.compile(r"^(\d{1,4})\s*(分钟|分|小时|个小时|天)前$")  # 10分钟前
_AGO_ZH_UNITS = {"分钟": 60, "分": 60, "小时": 3600, "个小时": 3600, "天": 86400}


class Reason(StrEnum):
    """Why an answer was refused. The data each carries is listed beside it; `text` is the
    person's own answer, `type` the field's type (durations are in seconds)."""

    EMPTY = "empty"  # -
    TOO_SHORT = "too_short"  # length, min (characters)
    TOO_LONG = "too_long"  # length, max (characters)
    UNEXPECTED_FORM = "unexpected_form"  # hint, example, help: the field's pattern did not match
    TOO_SMALL = "too_small"  # value, min, type
    TOO_LARGE = "too_large"  # value, max, type
    NOT_WHOLE_NUMBER = "not_whole_number"  # text
    NOT_NUMBER = "not_number"  # text
    NOT_FINITE = "not_finite"  # text
    NOT_YES_OR_NO = "not_yes_or_no"  # -
    NOT_A_CHOICE = "not_a_choice"  # text, choices
    NOT_A_DATE = "not_a_date"  # text
    NOT_A_DATETIME = "not_a_datetime"  # text
    NO_TIME_OF_DAY = "no_time_of_day"  # text
    NOT_A_DURATION = "not_a_duration"  # text
    NOT_AN_EMAIL = "not_an_email"  # text
    NOT_A_URL = "not_a_url"  # text
    NOT_A_USERNAME = "not_a_username"  # text
    NOT_A_FILE = "not_a_file"  # accept: a file field answered with text
    WRONG_KIND_OF_FILE = "wrong_kind_of_file"  # accept, kind, name
    FILE_TOO_LARGE = "file_too_large"  # size, max, name (bytes)
    TOO_FEW_FILES = "too_few_files"  # count, min
    TOO_MANY_FILES = "too_many_files"  # count, max


@dataclass(frozen=True)
class Accepted:
    value: Any


@dataclass(frozen=True)
class Rejected:
    """A refused answer: the reason code and the data its words need (JSON-friendly, so the
    audit trail can record both)."""

    code: Reason
    data: Mapping[str, Any] = field(default_factory=dict)


Outcome = Accepted | Rejected


def _quoted(text: str) -> str:
    # Words quote the answer shortened; the audit event stores the answer itself beside it.
    return text[:200]


def parse_answer(spec: FieldSpec, raw: str, tz: ZoneInfo, now: datetime | None = None) -> Outcome:
    """Validate `raw` for `spec`: the value to store, or the reason it was refused. With `now`,
    a time may also be given as `now`, `just now` or `5 min ago`."""
    text = raw.strip()
    if not text:
        return Rejected(Reason.EMPTY)
    if len(text) > MAX_ANSWER_LENGTH:
        return Rejected(Reason.TOO_LONG, {"length": len(text), "max": MAX_ANSWER_LENGTH})
    reader = _READERS.get(spec.type, _read_text)
    outcome = reader(spec, text, tz, now)
    if isinstance(outcome, Rejected):
        return outcome
    return _check_pattern(spec, text, outcome)


def _check_pattern(spec: FieldSpec, text: str, outcome: Accepted) -> Outcome:
    # The matcher came with the procedure and runs in linear time (bot.procedures.patterns).
    matches = spec.matcher
    if matches is not None and spec.type in _PATTERNED and not matches(str(outcome.value)):
        # Never the regex itself: people read the field's example or help instead.
        data = {"example": spec.example, "help": spec.help}
        if spec.hint is not None:
            data["hint"] = spec.hint
        return Rejected(Reason.UNEXPECTED_FORM, data)
    return outcome


def _read_text(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    n = len(text)
    if spec.min_length is not None and n < spec.min_length:
        return Rejected(Reason.TOO_SHORT, {"length": n, "min": spec.min_length})
    if spec.max_length is not None and n > spec.max_length:
        return Rejected(Reason.TOO_LONG, {"length": n, "max": spec.max_length})
    return Accepted(text)


def _in_range(spec: FieldSpec, value: float) -> Outcome:
    if spec.min is not None and value < spec.min:
        return Rejected(Reason.TOO_SMALL, {"value": value, "min": spec.min, "type": spec.type})
    if spec.max is not None and value > spec.max:
        return Rejected(Reason.TOO_LARGE, {"value": value, "max": spec.max, "type": spec.type})
    return Accepted(value)


def _read_integer(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    cleaned = text.replace("_", "").replace(" ", "")
    if not _INTEGER.match(cleaned):
        return Rejected(Reason.NOT_WHOLE_NUMBER, {"text": _quoted(text)})
    return _in_range(spec, int(cleaned))


def _read_number(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    cleaned = text.replace(" ", "")
    if not _NUMBER.match(cleaned):
        return Rejected(Reason.NOT_NUMBER, {"text": _quoted(text)})
    value = float(cleaned.replace(",", "."))
    if not math.isfinite(value):
        return Rejected(Reason.NOT_FINITE, {"text": _quoted(text)})
    return _in_range(spec, value)


def _read_boolean(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    word = text.lower().rstrip(".!。！")
    if word in _TRUE:
        return Accepted(True)
    if word in _FALSE:
        return Accepted(False)
    return Rejected(Reason.NOT_YES_OR_NO)


def _read_choice(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    # A choice is typed as its stored value or as what people read for it.
    wanted = text.casefold()
    for value, label in spec.labelled_choices:
        if wanted in (value.casefold(), label.casefold()):
            return Accepted(value)
    labels = [label for _, label in spec.labelled_choices]
    return Rejected(Reason.NOT_A_CHOICE, {"text": _quoted(text), "choices": labels})


def _read_date(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return Rejected(Reason.NOT_A_DATE, {"text": _quoted(text)})
    if len(text) != 10:
        return Rejected(Reason.NOT_A_DATE, {"text": _quoted(text)})
    return Accepted(value.isoformat())


def _read_datetime(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    if now is not None:
        relative = _relative_moment(text, now)
        if relative is not None:
            return Accepted(relative.astimezone(tz).isoformat(timespec="minutes"))
    try:
        value = datetime.fromisoformat(text.replace("T", " ", 1))
    except ValueError:
        return Rejected(Reason.NOT_A_DATETIME, {"text": _quoted(text)})
    if len(text) < 16:
        return Rejected(Reason.NO_TIME_OF_DAY, {"text": _quoted(text)})
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)  # the team's time zone, said plainly in the question
    return Accepted(value.isoformat(timespec="minutes"))


def _relative_moment(text: str, now: datetime) -> datetime | None:
    """`now`, `just now`, `5 min ago`, `2 hours ago`: a moment counted back from `now`."""
    said = text.casefold().rstrip(".!")
    if said in _NOW_WORDS:
        return now
    m = _AGO.match(said)
    if m is not None:
        return now - timedelta(seconds=int(m.group(1)) * _AGO_UNITS[m.group(2)[0]])
    m = _AGO_ZH.match(said)
    if m is not None:
        return now - timedelta(seconds=int(m.group(1)) * _AGO_ZH_UNITS[m.group(2)])
    return None


def _read_duration(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    try:
        seconds = int(parse_duration(text).total_seconds())
    except DurationError:
        return Rejected(Reason.NOT_A_DURATION, {"text": _quoted(text)})
    return _in_range(spec, seconds)


def _read_email(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    if not _EMAIL.match(text):
        return Rejected(Reason.NOT_AN_EMAIL, {"text": _quoted(text)})
    return Accepted(text)


def _read_url(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        return Rejected(Reason.NOT_A_URL, {"text": _quoted(text)})
    return Accepted(text)


def _read_user(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    candidate = text if text.startswith("@") else "@" + text
    if not _USERNAME.match(candidate):
        return Rejected(Reason.NOT_A_USERNAME, {"text": _quoted(text)})
    return Accepted(candidate)


def _read_person(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    # A person: their @username, or their Telegram id (a member chosen from the buttons).
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return Accepted(text)
    return _read_user(spec, text, tz, now)


def _read_file(spec: FieldSpec, text: str, tz: ZoneInfo, now: datetime | None) -> Outcome:
    # Typed words never answer a file field: the person is told to send the file itself.
    return Rejected(Reason.NOT_A_FILE, {"accept": list(spec.accept)})


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
    "file": _read_file,
    "person": _read_person,
}
