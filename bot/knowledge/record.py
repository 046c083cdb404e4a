"""What `kb_articles` and the search index keep of an article file, written by sopbot or by hand.

Pure: a parsed file in, column values and index words out. The index is fed words folded by
`bot.knowledge.text`, so a query finds the same articles on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TypedDict

from bot.knowledge import frontmatter
from bot.knowledge.article import label
from bot.knowledge.markdown import drop_title, one_line
from bot.knowledge.text import index_text, plain_text

MAX_TITLE, MAX_PATH, MAX_PROCEDURE = 300, 500, 100  # the columns' sizes
INDEXED_KEYS = ("title", "tags", "ticket", "procedure")  # the front matter a reindex reads


class Columns(TypedDict):
    """The `kb_articles` values read from an article (besides its path, hash and times)."""

    title: str
    tags: str
    ticket_id: int | None
    procedure_id: str | None
    body: str


class IndexText(TypedDict):
    """What the search index gets for an article: folded words, one space apart."""

    title: str
    tags: str
    body: str


def from_file(rel: str, doc: frontmatter.Document) -> Columns:
    """The `kb_articles` values of an article file, written by sopbot or by hand."""
    meta = doc.meta
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        title = first_heading(doc.body) or label(PurePosixPath(rel).stem)
    tags = meta.get("tags")
    if isinstance(tags, list):
        tags = " ".join(one_line(t) for t in tags if isinstance(t, str | int | float))
    elif not isinstance(tags, str):
        tags = ""
    ticket = meta.get("ticket")
    if not isinstance(ticket, int) or isinstance(ticket, bool) or not 0 < ticket < 2**31:
        ticket = None
    procedure = meta.get("procedure")
    if not isinstance(procedure, str) or not procedure.strip():
        parts = PurePosixPath(rel).parts
        procedure = parts[0] if len(parts) > 1 else None
    return {
        "title": one_line(title)[:MAX_TITLE],
        "tags": one_line(tags),
        "ticket_id": ticket,
        "procedure_id": procedure[:MAX_PROCEDURE] if procedure else None,
        "body": plain_text(drop_title(doc.body)),  # the title has a column of its own
    }


def first_heading(body: str) -> str | None:
    """The text of the first `# ` heading, if any."""
    for line in body.split("\n"):
        if line.startswith("# "):
            return plain_text(line[2:]).strip() or None
    return None


def index_text_of(title: str, tags: str, procedure_id: str | None, body: str) -> IndexText:
    """The index's words for an article; the procedure counts as a tag."""
    return {
        "title": index_text(title),
        "tags": index_text(f"{tags} {procedure_id or ''}"),
        "body": index_text(body),
    }
