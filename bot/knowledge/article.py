"""The text of a knowledge article: YAML front matter, then a markdown body from a template.

The body comes from a Jinja2 template: `bot/templates/knowledge/article.md.j2`, or a procedure's
own template file in `<procedures_dir>/templates/`. Every `{{ value }}` in these templates is
markdown-escaped unless it is marked safe, so a template cannot forget to escape people's text;
templates run sandboxed. The front matter is emitted by the YAML library, never by the template.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from bot.domain.languages import ENGLISH
from bot.domain.text import readable
from bot.knowledge import frontmatter
from bot.knowledge.markdown import (
    PREVIOUS_HEADING,
    demote_headings,
    drop_title,
    escape,
    one_line,
    split_previous,
)

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "templates" / "knowledge"
DEFAULT_TEMPLATE = "article.md.j2"
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Line:
    """A labelled value: a collected field or a part of the solution, already displayed."""

    name: str
    label: str
    value: str


@dataclass(frozen=True)
class StepLine:
    id: str
    title: str
    done_by: str
    done_at: datetime


@dataclass(frozen=True)
class FileLine:
    """A file of the ticket: its name, the link to its copy beside the article (None when it
    was too big to download), its size in words, who added it and their note."""

    name: str
    link: str | None
    size: str
    added_by: str
    note: str = ""


@dataclass(frozen=True)
class ArticleData:
    """Everything an article says, as plain values (no database rows)."""

    ticket_id: int
    title: str
    procedure_id: str
    procedure_title: str
    procedure_version: str
    reporter: str
    resolver: str
    opened: datetime
    resolved: datetime
    description: str = ""
    tags: tuple[str, ...] = ()
    fields: tuple[Line, ...] = ()
    steps: tuple[StepLine, ...] = ()
    solution: tuple[Line, ...] = ()
    files: tuple[FileLine, ...] = ()
    revision: int = 1
    # Earlier entries of the front matter's revision history, oldest first.
    history: tuple[dict[str, Any], ...] = ()
    # Markdown of the earlier resolutions (already safe: it came from the previous file).
    previous: str = ""


@dataclass(frozen=True)
class Built:
    """A rendered article: the whole file text, its parts, and which template made it."""

    text: str
    meta: dict[str, Any]
    body: str
    template: str
    problem: str | None = None  # why a procedure's own template was not used, if it was not


class TemplateNameError(ValueError):
    """A template name that is not a plain file name in the templates folder."""


def label(name: str) -> str:
    """`serial_number` -> `Serial number` (one way to make a name readable: the domain's)."""
    return readable(name)


def front_matter(data: ArticleData) -> dict[str, Any]:
    """The article's metadata; the YAML library writes it, so no value can break out."""
    current = {
        "revision": data.revision,
        "resolved": data.resolved,
        "resolver": one_line(data.resolver),
        "procedure_version": data.procedure_version,
    }
    return {
        "ticket": data.ticket_id,
        "title": one_line(data.title),
        "procedure": data.procedure_id,
        "procedure_version": data.procedure_version,
        "tags": list(data.tags),
        "reporter": one_line(data.reporter),
        "resolver": one_line(data.resolver),
        "opened": data.opened,
        "resolved": data.resolved,
        "revision": data.revision,
        "revisions": [*data.history, current],
    }


def build(
    data: ArticleData,
    *,
    template: str | None = None,
    templates_dir: Path | None = None,
    language: str = ENGLISH,
) -> Built:
    """Render the article, its headings in `language` (the team's); a broken or missing
    procedure template falls back to the default."""
    problem = None
    used = DEFAULT_TEMPLATE
    body = None
    if template:
        try:
            _check_name(template)
            env = _override_environment(_dir_key(templates_dir), language)
            body = _render(env, template, data)
            used = template
        except (TemplateError, TemplateNameError, OSError) as e:
            problem = f"template {template!r} could not be used: {e}"
            log.warning("knowledge article for ticket %s: %s", data.ticket_id, problem)
    if body is None:
        body = _render(_default_environment(language), DEFAULT_TEMPLATE, data)
    if data.previous.strip():
        body = f"{body}\n\n{PREVIOUS_HEADING}\n\n{data.previous.strip()}"
    meta = front_matter(data)
    return Built(frontmatter.compose(meta, body), meta, body, used, problem)


def previous_section(old: frontmatter.Document) -> str:
    """What an earlier version of an article said, as a revision entry for the new one.

    The newest earlier resolution comes first under its own heading (its headings pushed two
    levels down); the even older ones it carried follow as they were.
    """
    current, older = split_previous(old.body)
    current = drop_title(current)
    if not current and not older:
        return ""
    meta = old.meta
    revision = _positive_int(meta.get("revision")) or 1
    heading = f"### Revision {revision}"
    resolved = meta.get("resolved")
    if isinstance(resolved, datetime | date | str) and str(resolved).strip():
        heading += f" — resolved {escape(one_line(_format_date(resolved)))}"
    resolver = meta.get("resolver")
    if isinstance(resolver, str) and resolver.strip():
        heading += f" by {escape(one_line(resolver))}"
    parts = [heading]
    if current:
        parts.append(demote_headings(current, 2))
    if older:
        parts.append(older)
    return "\n\n".join(parts)


def history_of(old: frontmatter.Document) -> tuple[list[dict[str, Any]], int]:
    """The revision history an earlier file recorded, and its revision number (0 if none)."""
    revisions = old.meta.get("revisions")
    history = [r for r in revisions if isinstance(r, dict)] if isinstance(revisions, list) else []
    revision = _positive_int(old.meta.get("revision")) or len(history)
    return history, revision


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _format_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- templates ------------------------------------------------------------------------------


def _finalize(value: Any) -> Any:
    """Every `{{ ... }}` goes through here: text is markdown-escaped unless marked safe."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, datetime | date):
        return _format_date(value)
    return escape(value)


def _md(value: Any) -> Markup:
    """`{{ x | md }}`: escape now (e.g. before joining) and mark the result safe."""
    return Markup(_finalize(value))


def _environment(loader) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        finalize=_finalize,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["oneline"] = one_line
    env.filters["md"] = _md
    env.filters["date"] = _format_date
    return env


def _defaults(language: str) -> list[FileSystemLoader]:
    """The default templates in `language`: its own folder, then English."""
    own = [DEFAULT_DIR.parent / language / DEFAULT_DIR.name] if language != ENGLISH else []
    return [FileSystemLoader(p) for p in (*own, DEFAULT_DIR)]


@cache
def _default_environment(language: str = ENGLISH) -> SandboxedEnvironment:
    return _environment(ChoiceLoader(_defaults(language)))


def _dir_key(templates_dir: Path | None) -> str:
    if templates_dir is None:
        raise TemplateNameError("no templates folder is configured for procedure templates")
    return str(templates_dir.resolve())


@cache
def _override_environment(templates_dir: str, language: str = ENGLISH) -> SandboxedEnvironment:
    """Procedure templates, from their folder only; `sopbot/article.md.j2` is the default, so
    a procedure's template can `{% extends "sopbot/article.md.j2" %}` and change one block."""
    return _environment(
        ChoiceLoader(
            [
                PrefixLoader({"sopbot": ChoiceLoader(_defaults(language))}),
                FileSystemLoader(templates_dir),
            ]
        )
    )


def _render(env: SandboxedEnvironment, name: str, data: ArticleData) -> str:
    # Templates see the dataclasses, not dicts, so `f.label` and `f["label"]` both work. Only
    # `history` is mutable, and the front matter is made from it after rendering, so the
    # template gets a copy of that alone (`asdict` copied every value: a quarter of `build`).
    context = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    context["history"] = copy.deepcopy(data.history)
    text = env.get_template(name).render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _check_name(name: str) -> None:
    if not _TEMPLATE_NAME.match(name) or ".." in name:
        raise TemplateNameError(f"{name!r} is not a plain template file name")


# --- the generated index --------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    title: str
    link: str  # the article's path, percent-encoded for a markdown link
    ticket_id: int | None = None


@dataclass(frozen=True)
class IndexGroup:
    name: str  # the procedure; "" for articles of none (the template names that group)
    articles: tuple[IndexEntry, ...]


def build_index(groups: list[IndexGroup], language: str = ENGLISH) -> str:
    """`knowledge/index.md`: every article, grouped by procedure, in `language`."""
    env = _default_environment(language)
    text = env.get_template("index.md.j2").render(groups=groups)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
