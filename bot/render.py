"""One Jinja2 environment per language for every text the bot writes (Telegram HTML, markdown).

Templates live in `bot/templates/` (English) and `bot/templates/zh-CN/` (Simplified Chinese, the
same names): a language's folder overrides the English one, file by file
(`tests/unit/test_translations.py` fails CI when a file or one of its messages is missing in a
language). `.html` templates autoescape, so any user text put into a Telegram message is escaped;
`StrictUndefined` turns a typo in a template into an error.

Which language: `render(..., lang=...)` when the caller knows its reader (a digest to a group, a
notice to a lead); otherwise the language being spoken (`speaking`), which the conversation engine
sets to the reader's for the whole handling of one message, so the words rendered deep inside
services (a refusal, a duration) follow the reader without a parameter through every function.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, partial
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.domain.languages import ENGLISH, LANGUAGES, language_of
from bot.domain.text import readable, shorten
from bot.locale import formats

TEMPLATES = Path(__file__).resolve().parent / "templates"
TELEGRAM_LIMIT = 4096

# The language of what is being rendered now, when the caller does not name one: set by
# `speaking` around the handling of one message (each thread and task has its own).
_SPEAKING: ContextVar[str] = ContextVar("sopbot_language", default=ENGLISH)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Render in `language` inside this block (unless a call names another)."""
    token = _SPEAKING.set(language_of(language) or ENGLISH)
    try:
        yield
    finally:
        _SPEAKING.reset(token)


def speak_by_default(language: str) -> None:
    """Render in `language` from now on in this context (a command, once its config is read);
    `bot.cli.main` runs each command in a context of its own."""
    _SPEAKING.set(language_of(language) or ENGLISH)


def current_language() -> str:
    """The language `render` uses when no `lang` is given."""
    return _SPEAKING.get()


def template_folders(language: str) -> list[Path]:
    """Where a language's templates are looked up, in order: its own folder, then English."""
    own = [TEMPLATES / language] if language != ENGLISH else []
    return [*own, TEMPLATES]


@cache
def environment(language: str = ENGLISH) -> Environment:
    """Built once per process and language; Jinja keeps compiled templates in its own cache."""
    if language not in LANGUAGES:
        raise ValueError(f"sopbot does not speak {language!r}")
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(p) for p in template_folders(language)]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    # bot.words renders through this environment, so it is imported once the module is loaded.
    from bot import words

    # Filters speak the environment's language, whatever is being spoken elsewhere.
    env.filters["shorten"] = shorten
    env.filters["readable"] = readable  # "access_level" -> "Access level"
    env.filters["status"] = partial(words.status_name, lang=language)  # "waiting for info"
    env.filters["duration"] = partial(words.duration, lang=language)  # "1 day 2 hours"
    env.filters["seconds"] = words.seconds  # stored seconds -> a timedelta
    env.filters["number"] = partial(formats.number, language)  # 2.0 -> "2", 1234 -> "1,234"
    env.filters["moment"] = partial(words.moment, lang=language)  # "Mon 30 Nov, 15:20"
    env.filters["date"] = partial(formats.date, language)  # a datetime, a CLDR pattern
    env.filters["unit"] = partial(formats.unit, language)  # 2, "hour" -> "2 hours" / "2小时"
    env.globals["language"] = language
    return env


def render(name: str, /, lang: str | None = None, **context) -> str:
    """Render `bot/templates/<name>` in `lang` (else the language being spoken) with `context`;
    whitespace at the ends is trimmed."""
    language = language_of(lang) if lang else current_language()
    return environment(language or ENGLISH).get_template(name).render(**context).strip()


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
