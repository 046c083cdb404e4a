"""One Jinja2 environment for every text the bot writes (Telegram HTML and markdown files).

Templates live in `bot/templates/`. `.html` templates autoescape, so any user text put into a
Telegram message is escaped; `StrictUndefined` turns a typo in a template into an error.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.domain.text import readable, shorten

TEMPLATES = Path(__file__).resolve().parent / "templates"
TELEGRAM_LIMIT = 4096


@cache
def environment() -> Environment:
    """Built once per process; Jinja keeps compiled templates in its own cache."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    # bot.words renders through this environment, so it is imported once the module is loaded.
    from bot import words

    env.filters["shorten"] = shorten
    env.filters["readable"] = readable  # "access_level" -> "Access level"
    env.filters["status"] = words.status_name  # "waiting_for_info" -> "waiting for info"
    env.filters["duration"] = words.duration  # a timedelta -> "1 day 2 hours"
    env.filters["seconds"] = words.seconds  # stored seconds -> a timedelta
    env.filters["number"] = words.number  # 2.0 -> "2"
    env.filters["moment"] = words.moment  # a datetime, tz -> "Mon 30 Nov, 15:20"
    return env


def render(name: str, /, **context) -> str:
    """Render `bot/templates/<name>` with `context`; whitespace at the ends is trimmed."""
    return environment().get_template(name).render(**context).strip()


_TAG = re.compile(r"<[^>]+>")


def html_to_text(markup: str) -> str:
    """Telegram HTML as plain text, for the terminal chat and logs."""
    return html.unescape(_TAG.sub("", markup))


def split_message(markup: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split a long HTML message into parts Telegram accepts, at line breaks where possible.

    Templates keep tags within one line, so cutting between lines never breaks a tag; a single
    over-long line is cut where no tag or entity is open.
    """
    if len(markup) <= limit:
        return [markup]
    parts: list[str] = []
    current = ""
    for line in markup.split("\n"):
        while len(line) > limit:
            cut = _safe_cut(line, limit)
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()]


def _safe_cut(line: str, limit: int) -> int:
    cut = limit
    amp, semi = line.rfind("&", 0, cut), line.rfind(";", 0, cut)
    if amp > semi:  # inside an entity like &amp;
        cut = amp
    lt, gt = line.rfind("<", 0, cut), line.rfind(">", 0, cut)
    if lt > gt:  # inside a tag
        cut = lt
    space = line.rfind(" ", 0, cut)
    if space > cut * 3 // 4:
        cut = space + 1
    return max(cut, 1)
