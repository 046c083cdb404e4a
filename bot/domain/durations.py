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


def format_duration(delta: timedelta) -> str:
    """Write a timedelta back compactly, largest units first: `1d 2h`, `45m`, `30s`."""
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
