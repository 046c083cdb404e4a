"""Dates, numbers and units as each language writes them, from Babel's CLDR data.

Templates choose the words and the pattern (`words/moment.txt` says which parts of a date to
show); Babel knows the names of days and months, unit words with their plurals, and digit
grouping in each locale.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from functools import cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.units import format_unit

# sopbot's language names -> Babel's locale identifiers.
_LOCALES = {"en": "en", "zh-CN": "zh_Hans_CN"}


@cache
def locale(language: str) -> Locale:
    return Locale.parse(_LOCALES.get(language, "en"))


def date(language: str, at: datetime | Date, pattern: str) -> str:
    """`at` by a CLDR pattern (`EEE d MMM, HH:mm`), in the time zone it carries."""
    if isinstance(at, datetime):
        return format_datetime(at, pattern, locale=locale(language))
    return format_date(at, pattern, locale=locale(language))


def number(language: str, x: float) -> str:
    """`2.0` as `2`, `3.5` as `3.5`, `1234` as `1,234`."""
    value = int(x) if float(x).is_integer() else x
    return format_decimal(value, locale=locale(language))


def unit(language: str, count: int, name: str) -> str:
    """`2 hours`, `1 day`, `2小时`: a count of `day`, `hour`, `minute`, `second` or `week`."""
    return format_unit(count, f"duration-{name}", length="long", locale=locale(language))
