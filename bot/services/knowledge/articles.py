"""Articles: the one a resolved ticket gets (`write_article`), the generated `index.md`, the list.

An article is a markdown file under the knowledge folder (`<procedure>/<ticket>-<slug>.md`),
kept in git beside the procedures, mirrored in `kb_articles` and the search index in the same
transaction. Only this package writes `kb_articles`.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from markupsafe import Markup
from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from bot.db.models import Article
from bot.domain.languages import ENGLISH
from bot.domain.procedure import Procedure
from bot.knowledge import frontmatter
from bot.knowledge.article import (
    ArticleData,
    FileLine,
    IndexEntry,
    IndexGroup,
    Line,
    StepLine,
    build,
    build_index,
    history_of,
    previous_section,
)
from bot.knowledge.markdown import drop_title, escape, one_line
from bot.knowledge.record import MAX_PROCEDURE, MAX_TITLE, index_text_of
from bot.knowledge.slug import UnsafePath, article_path, inside
from bot.knowledge.text import plain_text
from bot.render import render
from bot.services import attachments
from bot.services.context import Ctx
from bot.services.file_store import FileStore
from bot.services.knowledge.files import (
    INDEX_FILE,
    atomic_write,
    decode,
    free_path,
    read_bytes,
    restore_on_rollback,
)
from bot.services.knowledge.search_index import Entry, index_for
from bot.words import display


class ResolvedTicket(Protocol):
    """What an article is written from: the ticket being resolved."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def reporter_name(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def opened_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...


class DoneStep(Protocol):
    """A step of the ticket marked done: which, by whom, when."""

    @property
    def step_id(self) -> str: ...
    @property
    def done_by_name(self) -> str: ...
    @property
    def done_at(self) -> datetime: ...


def write_article(
    ctx: Ctx,
    *,
    ticket: ResolvedTicket,
    procedure: Procedure,
    values: dict[str, Any],
    resolution: dict[str, Any],
    steps: Sequence[DoneStep],
) -> str:
    """Write (or, after a reopen, rewrite) the ticket's article; return its relative path.

    The file is replaced atomically; if the transaction then rolls back, the file is put back
    as it was. A rewrite keeps the earlier resolutions in the body and the front matter.
    """
    session = ctx.session
    base = Path(ctx.knowledge_dir)
    first = article_path(procedure.id, ticket.id, ticket.title)
    # One read answers both "has this ticket an article?" and "whose is the first free name?".
    rows = session.connection().execute(_ROWS_OF, {"ticket": ticket.id, "path": first}).all()
    existing = _article_of_ticket(base, ticket.id, rows)
    if existing is not None:
        row, target = existing
        rel, row_id = row.path, row.id
        before = read_bytes(target)
        old = frontmatter.parse(decode(before)) if before is not None else None
        if old is None:  # the file went away; keep what the index still had
            old = frontmatter.Document(body=escape(row.body))
    else:
        rel, target = _free_path(session, base, procedure.id, ticket, first, rows)
        row_id = None
        before = read_bytes(target)  # only ever a leftover of this same ticket
        old = None
    history, old_revision = history_of(old) if old is not None else ([], 0)
    if existing is not None:
        old_revision = max(old_revision, 1)
    data = _article_data(
        ctx,
        ticket,
        procedure,
        values,
        resolution,
        steps,
        revision=old_revision + 1,
        history=tuple(history),
        previous=previous_section(old) if old is not None else "",
    )
    built = build(
        data,
        template=procedure.knowledge.template,
        templates_dir=Path(ctx.config.procedures_dir) / "templates",
        language=ctx.config.language,
    )
    raw = built.text.encode()
    sha = hashlib.sha256(raw).hexdigest()
    restore_on_rollback(session, target, before)
    atomic_write(target, raw)
    columns = {
        "ticket_id": ticket.id,
        "procedure_id": procedure.id[:MAX_PROCEDURE],
        "title": one_line(ticket.title)[:MAX_TITLE],
        "tags": " ".join(procedure.knowledge.tags),
        "body": plain_text(drop_title(built.body)),
        "sha256": sha,
        "mtime": target.stat().st_mtime,
        "indexed_at": ctx.now,
    }
    connection = session.connection()
    if row_id is None:
        row_id = connection.execute(_INSERT_ARTICLE, {"path": rel, **columns}).scalar_one()
    else:
        connection.execute(_UPDATE_ARTICLE, {"row_id": row_id, **columns})
    text = index_text_of(
        columns["title"], columns["tags"], columns["procedure_id"], columns["body"]
    )
    index_for(session).put([Entry(row_id, **text)])
    details: dict[str, Any] = {"path": rel, "sha256": sha, "revision": data.revision}
    if built.problem:
        details["template_problem"] = built.problem
    ctx.audit("kb.article_written", ticket_id=ticket.id, details=details, procedure=procedure)
    # index.md lists every article, so rebuilding it costs more as the base grows; the
    # knowledge refresh (at start and every few minutes) notices the new file and rebuilds it.
    return rel


# Built once: building a statement costs more than running it on SQLite. Core, not the ORM:
# only this package writes `kb_articles`, and nothing else in the transaction holds its rows.
_A = Article.__table__
_ROWS_OF = (
    select(_A.c.id, _A.c.path, _A.c.ticket_id, _A.c.body)
    .where(or_(_A.c.ticket_id == bindparam("ticket"), _A.c.path == bindparam("path")))
    .order_by(_A.c.id)
)
_ROW_AT = select(_A.c.ticket_id).where(_A.c.path == bindparam("path"))
_INSERT_ARTICLE = insert(_A).returning(_A.c.id)
_UPDATE_ARTICLE = update(_A).where(_A.c.id == bindparam("row_id"))


def _article_data(
    ctx: Ctx,
    ticket: ResolvedTicket,
    procedure: Procedure,
    values: dict[str, Any],
    resolution: dict[str, Any],
    steps: Sequence[DoneStep],
    **revision: Any,
) -> ArticleData:
    return ArticleData(
        ticket_id=ticket.id,
        title=ticket.title,
        description=ticket.description or "",
        procedure_id=procedure.id,
        procedure_title=procedure.title,
        procedure_version=procedure.version,
        tags=tuple(procedure.knowledge.tags),
        reporter=ticket.reporter_name,
        resolver=ctx.actor.name,
        opened=ticket.opened_at or ticket.created_at,
        resolved=ticket.resolved_at or ctx.now,
        fields=_lines(procedure, [f.name for f in procedure.fields], values),
        solution=_lines(procedure, [f.name for f in procedure.resolution.fields], resolution),
        steps=_step_lines(procedure, steps),
        files=_file_lines(ctx, ticket.id, procedure.id),
        **revision,
    )


# File name endings kept on the copies beside an article, so a forge shows them; anything else
# is `.bin`. The name itself is the file's hash: nothing a person typed becomes a path.
_SUFFIXES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/json": "json",
    "application/zip": "zip",
    "application/gzip": "gz",
    "video/mp4": "mp4",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
}


def _file_lines(ctx: Ctx, ticket_id: int, procedure_id: str) -> tuple[FileLine, ...]:
    """The ticket's files, each copied beside the article (`<procedure>/files/<sha256>.<ext>`)
    so the article links to a copy that lives with it in git."""
    lines = []
    store = FileStore(ctx.config.attachments_dir)
    base = Path(ctx.knowledge_dir)
    for a in attachments.of_ticket(ctx, ticket_id):
        link = None
        if a.sha256 is not None:
            name = f"{a.sha256[:32]}.{_SUFFIXES.get((a.mime_type or '').lower(), 'bin')}"
            try:
                target = inside(base, f"{procedure_id}/files/{name}")
            except UnsafePath:  # a folder linked out of the knowledge base: no copy
                target = None
            if target is not None and not target.exists():
                data = store.read(a.sha256)
                if data is not None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write(target, data)
            if target is not None and target.exists():
                link = Markup(f"files/{name}")
        lines.append(
            FileLine(
                name=attachments.name_of(a),
                link=link,
                size=render("chat/file_size.txt", size=a.size),
                added_by=a.added_by_name or "",
                note=a.note or "",
            )
        )
    return tuple(lines)


def _lines(procedure: Procedure, order: list[str], values: dict[str, Any]) -> tuple[Line, ...]:
    """Values in the procedure's order, then any the procedure no longer names; unset ones out."""
    names = [n for n in order if n in values] + sorted(n for n in values if n not in order)
    return tuple(
        Line(name, procedure.label(name), display(procedure.field(name), values[name]))
        for name in names
        if values[name] is not None and values[name] != ""
    )


def _step_lines(procedure: Procedure, steps: Sequence[DoneStep]) -> tuple[StepLine, ...]:
    order = {s.id: i for i, s in enumerate(procedure.steps)}
    done = sorted(steps, key=lambda s: (order.get(s.step_id, len(order)), s.done_at))
    return tuple(
        StepLine(
            s.step_id,
            procedure.step(s.step_id).title if procedure.step(s.step_id) else s.step_id,
            s.done_by_name,
            s.done_at,
        )
        for s in done
    )


def _article_of_ticket(base: Path, ticket_id: int, rows: list[Row]) -> tuple[Row, Path] | None:
    """The ticket's first row (by id) whose path stays inside the folder, and that file."""
    for row in rows:
        if row.ticket_id != ticket_id:
            continue
        try:
            return row, inside(base, row.path)
        except UnsafePath:
            continue
    return None


def _free_path(
    session: Session,
    base: Path,
    procedure_id: str,
    ticket: ResolvedTicket,
    first: str,
    rows: list[Row],
) -> tuple[str, Path]:
    """The first name that is not another ticket's article nor a hand-written file.

    The row at the `first` name, if any, is among `rows` (read with the ticket's own); the
    others' are read one at a time, and only when the first name is taken.
    """
    connection = session.connection()
    at_first = next((r for r in rows if r.path == first), None)

    def taken(rel: str) -> bool:
        row = at_first if rel == first else connection.execute(_ROW_AT, {"path": rel}).first()
        return row is not None and row.ticket_id != ticket.id

    others = (article_path(procedure_id, ticket.id, ticket.title, n) for n in range(2, 1000))
    names = itertools.chain([first], others)
    return free_path(base, ticket.id, names, taken)


def write_index(session: Session, knowledge_dir: Path, language: str = ENGLISH) -> None:
    """Regenerate `index.md` (every article, grouped by procedure); written only if it changed."""
    base = Path(knowledge_dir)
    rows = session.execute(
        select(Article.path, Article.title, Article.ticket_id, Article.procedure_id)
    ).all()
    if not rows and not base.is_dir():
        return
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.procedure_id or "", []).append(row)
    built = build_index(
        [
            IndexGroup(
                name,
                tuple(
                    IndexEntry(r.title, Markup(quote(r.path)), r.ticket_id)
                    for r in sorted(entries, key=lambda r: (r.title.casefold(), r.path))
                ),
            )
            for name, entries in sorted(groups.items(), key=lambda g: (g[0] == "", g[0]))
        ],
        language,
    )
    target = base / INDEX_FILE
    data = built.encode()
    if read_bytes(target) != data:
        atomic_write(target, data)


def list_articles(session: Session) -> list[Article]:
    """Every article, by procedure and title (for `sopbot kb list`)."""
    return list(
        session.scalars(select(Article).order_by(Article.procedure_id, Article.title, Article.path))
    )
