"""Durations written the way people write them: `90s`, `15m`, `8h`, `2d`, `1w`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$", re.IGNORECASE)


class DurationError(ValueError):
    """A duration that cannot be read."""


def parse_duration(text: str | int | float) -> timedelta:
    """Read `8h`, `1h30m`, `2d` (or a plain number of seconds) into a positive timedelta."""
    if isinstance(text, bool):
        raise DurationError(f"expected a duration like 30m, 8h or 2d, got {text!r}")
    if isinstance(text, int | float):
        if text <= 0:
            raise DurationError(f"a duration must be positive, got {text}")
        return timedelta(seconds=text)
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise DurationError(f"expected a duration like 30m, 8h or 2d, got {text!r}")
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise DurationError(f"a duration must be positive, got {text!r}")
    return timedelta(seconds=seconds)


# Unit codes, largest first; people read them through the `duration` template filter.
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration_parts(delta: timedelta, most: int = 2) -> list[tuple[int, str]]:
    """The `most` largest non-zero units of a duration as (count, unit code): `[(1, "day"),
    (2, "hour")]`; rounded down, sign ignored; empty for less than a second."""
    seconds = int(abs(delta.total_seconds()))
    parts: list[tuple[int, str]] = []
    for unit, size in UNITS:
        if seconds >= size:
            parts.append((seconds // size, unit))
            seconds %= size
        if len(parts) == most:
            break
    return parts


def format_duration(delta: timedelta) -> str:
    """Write a timedelta back compactly for config and command-line flags, the form
    `parse_duration` reads: `1d 2h`, `45m`, `30s`. People read `bot.words.duration` instead."""
    seconds = int(abs(delta.total_seconds()))
    if seconds == 0:
        return "0m"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)
