"""Knowledge articles: written when a ticket is resolved, indexed, searched, offered.

Articles are markdown files under the knowledge folder (`<procedure>/<ticket>-<slug>.md`), kept
in git beside the procedures. `kb_articles` mirrors them for search: on SQLite through the FTS5
table `kb_fts`, on PostgreSQL through the `search_vector` column (migration 0003). Only this
module writes `kb_articles`, and it feeds the index the words `bot.knowledge.text` folded, so a
query finds the same articles on both backends.

Every entry point works inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from sqlalchemy import bindparam, delete, event, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from bot.db.models import Article, Setting
from bot.domain.procedure import Procedure
from bot.knowledge import frontmatter
from bot.knowledge.article import (
    ArticleData,
    IndexEntry,
    IndexGroup,
    Line,
    StepLine,
    build,
    build_index,
    history_of,
    label,
    previous_section,
)
from bot.knowledge.markdown import drop_title, escape, one_line
from bot.knowledge.slug import UnsafePath, article_path, inside
from bot.knowledge.text import Term, fold, index_text, plain_text, query_terms, snippet
from bot.render import render, shorten
from bot.services.context import Ctx, Registry
from bot.services.messages import Button, Outcome
from bot.services.records import StepRow
from bot.services.rows import TicketRow
from bot.words import display

log = logging.getLogger(__name__)

INDEX_FILE = "index.md"
MAX_FILE_BYTES = 2 * 1024 * 1024  # a bigger .md file is not an article; it is skipped
FINGERPRINT_KEY = "kb.fingerprint"
CANDIDATES = 40  # rows the full-text index hands over for scoring
SUGGEST_THRESHOLD = 0.5  # weighted share of the message's words an article must cover
SUGGEST_CAP = 5.0  # ... counting at most this much weight, so long messages can still match
SUGGEST_FLOOR = 1.0  # ... and at least this much, so a few very common words cannot
BODY_PLACE = 0.8  # a word in the body counts a little less than in the title or tags
RESULTS = 5  # matches shown for /kb
COMMON_SHARE = 0.25  # a word in more than this share of articles does not fetch candidates
COMMON_FROM = 200  # ... once there are this many articles
RANK_AT_MOST = 2000  # when more rows may match, the newest matching rows are scored instead
_MAX_TITLE, _MAX_PATH, _MAX_PROCEDURE = 300, 500, 100
_CHUNK = 500


@dataclass(frozen=True)
class Match:
    """An article that matches a query; `score` is the share of the query it covers (0..1)."""

    article_id: int
    path: str
    title: str
    score: float
    snippet: str


@dataclass(frozen=True)
class ReindexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


# --- writing --------------------------------------------------------------------------------


def write_article(
    ctx: Ctx,
    *,
    ticket: TicketRow,
    procedure: Procedure,
    values: dict[str, Any],
    resolution: dict[str, Any],
    steps: list[StepRow],
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
        before = _read_bytes(target)
        old = frontmatter.parse(_decode(before)) if before is not None else None
        if old is None:  # the file went away; keep what the index still had
            old = frontmatter.Document(body=escape(row.body))
    else:
        at_first = next((r for r in rows if r.path == first), None)
        rel, target = _free_path(session, base, procedure.id, ticket, first, at_first)
        row_id = None
        before = _read_bytes(target)  # only ever a leftover of this same ticket
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
    )
    raw = built.text.encode()
    sha = hashlib.sha256(raw).hexdigest()
    _restore_on_rollback(session, target, before)
    atomic_write(target, raw)
    columns = {
        "ticket_id": ticket.id,
        "procedure_id": procedure.id[:_MAX_PROCEDURE],
        "title": one_line(ticket.title)[:_MAX_TITLE],
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
    _index(session, [_Entry(row_id, **_index_fields(columns))])
    details: dict[str, Any] = {"path": rel, "sha256": sha, "revision": data.revision}
    if built.problem:
        details["template_problem"] = built.problem
    ctx.audit("kb.article_written", ticket_id=ticket.id, details=details, procedure=procedure)
    # index.md lists every article, so rebuilding it costs more as the base grows; the
    # knowledge refresh (at start and every few minutes) notices the new file and rebuilds it.
    return rel


# Built once: building a statement costs more than running it on SQLite. Core, not the ORM:
# only this module writes `kb_articles`, and nothing else in the transaction holds its rows.
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
    ticket: TicketRow,
    procedure: Procedure,
    values: dict[str, Any],
    resolution: dict[str, Any],
    steps: list[StepRow],
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
        **revision,
    )


def _lines(procedure: Procedure, order: list[str], values: dict[str, Any]) -> tuple[Line, ...]:
    """Values in the procedure's order, then any the procedure no longer names; unset ones out."""
    names = [n for n in order if n in values] + sorted(n for n in values if n not in order)
    return tuple(
        Line(name, label(name), display(procedure.field(name), values[name]))
        for name in names
        if values[name] is not None and values[name] != ""
    )


def _step_lines(procedure: Procedure, steps: list[StepRow]) -> tuple[StepLine, ...]:
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


def _article_of_ticket(base: Path, ticket_id: int, rows: list[Any]) -> tuple[Any, Path] | None:
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
    ticket: TicketRow,
    first: str,
    at_first: Any,
) -> tuple[str, Path]:
    """The first name that is not another ticket's article nor a hand-written file.

    The first name's row (`at_first`, or None) was read with the ticket's own rows.
    """
    connection = session.connection()
    for n in range(1, 1000):
        if n == 1:
            rel, row = first, at_first
        else:
            rel = article_path(procedure_id, ticket.id, ticket.title, n)
            row = connection.execute(_ROW_AT, {"path": rel}).first()
        if row is not None and row.ticket_id != ticket.id:
            continue
        target = inside(base, rel)
        if target.exists() and _claimed_ticket(target) != ticket.id:
            continue
        return rel, target
    raise UnsafePath(f"no free file name for ticket {ticket.id}")


def _claimed_ticket(path: Path) -> int | None:
    raw = _read_bytes(path)
    if raw is None:
        return None
    ticket = frontmatter.parse(_decode(raw)).meta.get("ticket")
    return ticket if isinstance(ticket, int) and not isinstance(ticket, bool) else None


def _restore_on_rollback(session: Session, target: Path, before: bytes | None) -> None:
    """Put the file back as it was if this transaction rolls back instead of committing."""
    settled = False

    def committed(_session: Session) -> None:
        nonlocal settled
        settled = True

    def rolled_back(_session: Session) -> None:
        nonlocal settled
        if settled:
            return
        settled = True
        try:
            if before is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write(target, before)
        except OSError:
            log.exception("could not restore %s after a rollback", target)

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_rollback", rolled_back, once=True)


def atomic_write(target: Path, data: bytes) -> None:
    """Write `data` to `target` so readers see the old file or the new one, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); nothing to do where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_bytes(path: Path) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


# --- the search index -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    id: int
    title: str
    tags: str
    body: str


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _index(session: Session, entries: list[_Entry]) -> None:
    """Put rows into the full-text index (replacing what it had for them)."""
    if not entries:
        return
    if _dialect(session) == "sqlite":
        # REPLACE makes FTS5 delete the rowid's old entry first, so one statement serves a
        # changed row and a new row alike (a new row may reuse a deleted row's rowid, and an
        # entry left behind by a deletion done outside sopbot must not be found under it).
        session.connection().execute(
            _FTS_PUT,
            [{"id": e.id, "title": e.title, "tags": e.tags, "body": e.body} for e in entries],
        )
        return
    for chunk in _chunks(entries):
        session.execute(
            text(
                "UPDATE kb_articles AS a SET search_vector = "
                "setweight(to_tsvector('simple', u.title), 'A') || "
                "setweight(to_tsvector('simple', u.tags), 'B') || "
                "setweight(to_tsvector('simple', u.body), 'C') "
                "FROM unnest(CAST(:ids AS integer[]), CAST(:titles AS text[]), "
                "CAST(:tags AS text[]), CAST(:bodies AS text[])) AS u(id, title, tags, body) "
                "WHERE a.id = u.id"
            ),
            {
                "ids": [e.id for e in chunk],
                "titles": [e.title for e in chunk],
                "tags": [e.tags for e in chunk],
                "bodies": [e.body for e in chunk],
            },
        )


_FTS_PUT = text(
    "INSERT OR REPLACE INTO kb_fts (rowid, title, tags, body) VALUES (:id, :title, :tags, :body)"
)


def _unindex(session: Session, ids: list[int]) -> None:
    """Take rows out of the index (PostgreSQL's column goes with its row)."""
    if _dialect(session) != "sqlite":
        return
    for chunk in _chunks(ids):
        session.execute(
            text("DELETE FROM kb_fts WHERE rowid IN (SELECT value FROM json_each(:ids))"),
            {"ids": "[" + ",".join(str(int(i)) for i in chunk) + "]"},
        )


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- searching ------------------------------------------------------------------------------


def search(session: Session, query: str, limit: int = 10) -> list[Match]:
    """Articles matching `query`, those covering more of its words first, then by rank."""
    terms = query_terms(query)
    if not terms:
        return []
    limit = max(1, min(limit, 50))
    stats = _Stats.of(session, terms)
    weights = {t.word: 1.0 for t in terms}
    k = max(CANDIDATES, limit * 4)
    scored = _score(session, stats, terms, stats.selective(terms), weights, k)
    return [_match(s, terms) for s in scored[:limit]]


def suggest(session: Session, text: str, limit: int = 3) -> list[Match]:
    """Articles that probably answer a new ticket's first message; none when unsure.

    Each word of the message weighs less the more articles contain it; an article must cover
    at least half of that weight (title and tags counting fully, the body a little less) and
    at least two of the words when the message has two or more.
    """
    terms = query_terms(text)
    if not terms:
        return []
    stats = _Stats.of(session, terms)
    bounds = (SUGGEST_FLOOR, SUGGEST_CAP)
    scored = _score(
        session,
        stats,
        terms,
        stats.selective(terms),
        stats.weights(terms),
        CANDIDATES,
        bounds=bounds,
    )
    need = min(2, len(terms))
    good = [s for s in scored if s.score >= SUGGEST_THRESHOLD and s.matched >= need]
    return [_match(s, terms) for s in good[:limit]]


@dataclass(frozen=True)
class _Stats:
    """How many articles there are, and how many contain each word of a query."""

    total: int
    counts: dict[str, int]

    @classmethod
    def of(cls, session: Session, terms: list[Term]) -> _Stats:
        total = session.scalar(select(func.count()).select_from(Article)) or 0
        return cls(total, {t.word: _document_count(session, t) for t in terms})

    def weights(self, terms: list[Term]) -> dict[str, float]:
        """1 for a rare word, towards 0.1 for one in every article (smoothed for small bases)."""
        shares = {t.word: self.counts[t.word] / (self.total + 20) for t in terms}
        return {w: 1 / (1 + 9 * share * share) for w, share in shares.items()}

    def matches(self, terms: list[Term]) -> int:
        """At most this many articles contain one of `terms`."""
        return sum(self.counts[t.word] for t in terms)

    def selective(self, terms: list[Term]) -> list[Term]:
        """The words to fetch candidates by: words most articles contain are left out when
        rarer ones are there (they add little to a score, but would make the index rank
        thousands of rows); with only common words, the two rarest."""
        present = [t for t in terms if self.counts[t.word]]
        if self.total < COMMON_FROM:
            return present
        rare = [t for t in present if self.counts[t.word] <= self.total * COMMON_SHARE]
        return rare or sorted(present, key=lambda t: self.counts[t.word])[:2]


def _document_count(session: Session, term: Term) -> int:
    if _dialect(session) == "sqlite":
        sql = "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH :q"
        return session.scalar(text(sql), {"q": _fts5_query([term])}) or 0
    sql = "SELECT count(*) FROM kb_articles WHERE search_vector @@ to_tsquery('simple', :q)"
    return session.scalar(text(sql), {"q": _tsquery([term])}) or 0


def _fts5_query(terms: list[Term]) -> str:
    """Each word double-quoted (so nothing in it is FTS5 syntax), prefix terms starred."""
    return " OR ".join(
        '"' + t.word.replace('"', '""') + '"' + ("*" if t.prefix else "") for t in terms
    )


def _tsquery(terms: list[Term]) -> str:
    """Each word single-quoted as a tsquery lexeme, prefix terms with `:*`, joined by OR."""
    return " | ".join(
        "'" + t.word.replace("'", "''") + "'" + (":*" if t.prefix else "") for t in terms
    )


def _candidates(
    session: Session, terms: list[Term], k: int, *, ranked: bool = True
) -> list[tuple[int, float]]:
    """(article id, rank; higher is better) for the best `k` rows of the index.

    Unranked, the newest `k` matching rows come back (ranked by their id): ranking reads every
    matching row, which for a word in thousands of articles costs more than it tells.
    """
    sqlite = _dialect(session) == "sqlite"
    if not ranked:
        sql = (
            "SELECT rowid FROM kb_fts WHERE kb_fts MATCH :q ORDER BY rowid DESC LIMIT :k"
            if sqlite
            else "SELECT id FROM kb_articles WHERE search_vector @@ to_tsquery('simple', :q) "
            "ORDER BY id DESC LIMIT :k"
        )
        query = _fts5_query(terms) if sqlite else _tsquery(terms)
        return [(i, float(i)) for (i,) in session.execute(text(sql), {"q": query, "k": k})]
    if sqlite:
        rows = session.execute(
            text(
                "SELECT rowid, bm25(kb_fts, 10.0, 5.0, 1.0) AS r FROM kb_fts "
                "WHERE kb_fts MATCH :q ORDER BY r LIMIT :k"
            ),
            {"q": _fts5_query(terms), "k": k},
        ).all()
        return [(i, -r) for i, r in rows]
    rows = session.execute(
        text(
            "SELECT id, ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', search_vector, q, 1) AS r "
            "FROM kb_articles, to_tsquery('simple', :q) AS q "
            "WHERE search_vector @@ q ORDER BY r DESC, id LIMIT :k"
        ),
        {"q": _tsquery(terms), "k": k},
    ).all()
    return [(i, r) for i, r in rows]


@dataclass(frozen=True)
class _Scored:
    row: Any
    score: float
    matched: int  # how many of the query's terms the article has
    rank: float  # the database's own rank, to order articles that score the same


def _score(
    session: Session,
    stats: _Stats,
    terms: list[Term],
    fetch_by: list[Term],
    weights: dict[str, float],
    k: int,
    *,
    bounds: tuple[float, float] | None = None,
) -> list[_Scored]:
    """Candidates (fetched by the words in `fetch_by`) scored by the share of the query's
    weight they cover; best first."""
    if not fetch_by:
        return []
    ranked = _candidates(session, fetch_by, k, ranked=stats.matches(fetch_by) <= RANK_AT_MOST)
    if not ranked:
        return []
    rank = dict(ranked)
    columns = (Article.id, Article.path, Article.title, Article.tags, Article.procedure_id)
    rows = session.execute(select(*columns, Article.body).where(Article.id.in_(rank))).all()
    total = sum(weights.values())
    if bounds is not None:
        total = min(max(total, bounds[0]), bounds[1])
    results = []
    for row in rows:
        head = fold(f"{row.title} {row.tags} {row.procedure_id or ''}")
        body = fold(row.body)
        covered, matched = 0.0, 0
        for t in terms:
            place = 1.0 if t.found_in(head) else BODY_PLACE if t.found_in(body) else 0.0
            covered += weights[t.word] * place
            matched += place > 0
        if matched:
            score = round(min(1.0, covered / total), 3) if total else 0.0
            results.append(_Scored(row, score, matched, rank[row.id]))
    results.sort(key=lambda s: (-s.score, -s.rank, s.row.id))
    return results


def _match(scored: _Scored, terms: list[Term]) -> Match:
    row = scored.row
    return Match(row.id, row.path, row.title, scored.score, snippet(row.body, terms))


# --- reindexing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    path: str
    mtime: float
    mtime_ns: int
    size: int


def reindex(session: Session, knowledge_dir: Path, now: datetime) -> ReindexReport:
    """Bring `kb_articles` and the index in line with the files: added, edited, removed.

    A file whose modification time is unchanged is not read; one whose time changed is read
    and compared by sha256, so touching a file costs a read but no re-indexing.
    """
    base = Path(knowledge_dir)
    files = _scan(base)
    report = _reindex(session, base, files, now)
    _remember(session, files)
    write_index(session, base)
    return report


def refresh_if_changed(
    session: Session, knowledge_dir: Path, now: datetime
) -> ReindexReport | None:
    """Reindex only if any file was added, removed or touched since the last scan.

    One directory walk with `stat` per file and one row read, so it is cheap enough for start-up
    and a periodic job. Returns None when nothing had changed.
    """
    base = Path(knowledge_dir)
    files = _scan(base)
    stored = session.get(Setting, FINGERPRINT_KEY)
    if stored is not None and stored.value == _fingerprint(files):
        return None
    report = _reindex(session, base, files, now)
    _remember(session, files)
    write_index(session, base)
    return report


def _scan(base: Path) -> dict[str, _File]:
    """Every `*.md` under the folder but the generated index and hidden files, by rel. path.

    Linked folders are not entered; a linked file counts only if it points inside the folder.
    """
    found: dict[str, _File] = {}
    if not base.is_dir():
        return found
    root = base.resolve()
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, rel + "/"))
                    continue
                if not name.endswith(".md") or rel == INDEX_FILE or len(rel) > _MAX_PATH:
                    continue
                if entry.is_symlink():
                    inside(root, rel)
                st = entry.stat()
            except (UnsafePath, OSError):
                continue
            if stat.S_ISREG(st.st_mode):
                found[rel] = _File(entry.path, st.st_mtime, st.st_mtime_ns, st.st_size)
    return found


def _fingerprint(files: dict[str, _File]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(files):
        f = files[rel]
        digest.update(f"{rel}\0{f.mtime_ns}\0{f.size}\n".encode())
    return digest.hexdigest()


def _remember(session: Session, files: dict[str, _File]) -> None:
    fingerprint = _fingerprint(files)
    stored = session.get(Setting, FINGERPRINT_KEY)
    if stored is None:
        session.add(Setting(key=FINGERPRINT_KEY, value=fingerprint))
    else:
        stored.value = fingerprint


@dataclass(frozen=True)
class _Read:
    """A file read for reindexing: its hash and, unless that is what the index has, its values
    for `kb_articles` and for the search index."""

    rel: str
    file: _File
    sha256: str
    values: dict[str, Any] | None = None
    index: dict[str, str] | None = None


def _reindex(session: Session, base: Path, files: dict[str, _File], now: datetime) -> ReindexReport:
    known = {
        r.path: r
        for r in session.execute(select(Article.id, Article.path, Article.mtime, Article.sha256))
    }
    gone = [r.id for path, r in known.items() if path not in files]
    for chunk in _chunks(gone):
        session.execute(delete(Article).where(Article.id.in_(chunk)))
    _unindex(session, gone)
    unchanged, to_read = 0, []
    for rel, f in files.items():
        row = known.get(rel)
        if row is not None and row.mtime == f.mtime:
            unchanged += 1
        elif f.size <= MAX_FILE_BYTES:
            to_read.append((rel, f))
    hashes = {path: r.sha256 for path, r in known.items()}
    added = updated = 0
    # Files are read and parsed in a second thread while this one writes the previous batch:
    # the database driver waits with the GIL released, so the two overlap.
    with ThreadPoolExecutor(max_workers=1) as reader:
        for batch in reader.map(lambda chunk: _read_files(chunk, hashes), _chunks(to_read)):
            touched, changed, new = [], [], []
            for r in batch:
                row = known.get(r.rel)
                if r.values is None:
                    touched.append({"id": row.id, "mtime": r.file.mtime})
                elif row is not None:
                    changed.append((row.id, r))
                else:
                    new.append(r)
            _store(session, touched, changed, new, now)
            unchanged += len(touched)
            updated += len(changed)
            added += len(new)
    return ReindexReport(added, updated, len(gone), unchanged)


def _read_files(chunk: list[tuple[str, _File]], hashes: dict[str, str]) -> list[_Read]:
    """Read, hash and (when the hash is new) parse a batch of files; no database here."""
    batch = []
    for rel, f in chunk:
        try:
            with open(f.path, "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        sha = hashlib.sha256(raw).hexdigest()
        if hashes.get(rel) == sha:
            batch.append(_Read(rel, f, sha))
            continue
        doc = frontmatter.parse(_decode(raw), keys=_INDEXED_KEYS)
        if doc.error:
            log.warning("knowledge article %s: %s; indexed as plain text", rel, doc.error)
        values = _from_file(rel, doc)
        batch.append(_Read(rel, f, sha, values, _index_fields(values)))
    return batch


def _store(
    session: Session,
    touched: list[dict[str, Any]],
    changed: list[tuple[int, _Read]],
    new: list[_Read],
    now: datetime,
) -> None:
    """Write one batch of reindexed files to `kb_articles` and the search index."""
    if touched:
        session.execute(update(Article), touched)
    entries = [_Entry(i, **r.index) for i, r in changed]
    if changed:
        session.execute(update(Article), [{"id": i, **_row(r, now)} for i, r in changed])
    if new and _dialect(session) == "postgresql":
        _insert_indexed(session, new, now)
    elif new:
        ids = session.scalars(
            insert(Article).returning(Article.id, sort_by_parameter_order=True),
            [{"path": r.rel, **_row(r, now)} for r in new],
        ).all()
        entries.extend(_Entry(i, **r.index) for i, r in zip(ids, new, strict=True))
    _index(session, entries)


def _row(read: _Read, now: datetime) -> dict[str, Any]:
    return {**read.values, "sha256": read.sha256, "mtime": read.file.mtime, "indexed_at": now}


def _insert_indexed(session: Session, new: list[_Read], now: datetime) -> None:
    """PostgreSQL: insert rows with their search vector in one statement, so each row is
    written once (an insert and then an update would write every row and index entry twice)."""
    rows = [{"path": r.rel, **_row(r, now)} for r in new]
    columns = ("path", "ticket_id", "procedure_id", "title", "tags", "body", "sha256", "mtime")
    arrays: dict[str, Any] = {c: [row[c] for row in rows] for c in columns}
    arrays.update({f"i_{k}": [r.index[k] for r in new] for k in ("title", "tags", "body")})
    session.execute(
        text(
            "INSERT INTO kb_articles (path, ticket_id, procedure_id, title, tags, body, sha256, "
            "mtime, indexed_at, search_vector) "
            "SELECT u.path, u.ticket_id, u.procedure_id, u.title, u.tags, u.body, u.sha256, "
            "u.mtime, :now, "
            "setweight(to_tsvector('simple', u.i_title), 'A') || "
            "setweight(to_tsvector('simple', u.i_tags), 'B') || "
            "setweight(to_tsvector('simple', u.i_body), 'C') "
            "FROM unnest(CAST(:path AS text[]), CAST(:ticket_id AS integer[]), "
            "CAST(:procedure_id AS text[]), CAST(:title AS text[]), CAST(:tags AS text[]), "
            "CAST(:body AS text[]), CAST(:sha256 AS text[]), CAST(:mtime AS float8[]), "
            "CAST(:i_title AS text[]), CAST(:i_tags AS text[]), CAST(:i_body AS text[])) "
            "AS u(path, ticket_id, procedure_id, title, tags, body, sha256, mtime, "
            "i_title, i_tags, i_body)"
        ),
        {**arrays, "now": now},
    )


def _index_fields(values: dict[str, Any]) -> dict[str, str]:
    """What the search index gets for an article: folded words; the procedure counts as a tag."""
    tags = f"{values['tags']} {values['procedure_id'] or ''}"
    return {
        "title": index_text(values["title"]),
        "tags": index_text(tags),
        "body": index_text(values["body"]),
    }


_INDEXED_KEYS = ("title", "tags", "ticket", "procedure")


def _from_file(rel: str, doc: frontmatter.Document) -> dict[str, Any]:
    """The `kb_articles` values of an article file, written by sopbot or by hand."""
    meta = doc.meta
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        title = _first_heading(doc.body) or label(PurePosixPath(rel).stem)
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
        "title": one_line(title)[:_MAX_TITLE],
        "tags": one_line(tags),
        "ticket_id": ticket,
        "procedure_id": procedure[:_MAX_PROCEDURE] if procedure else None,
        "body": plain_text(drop_title(doc.body)),  # the title has a column of its own
    }


def _first_heading(body: str) -> str | None:
    for line in body.split("\n"):
        if line.startswith("# "):
            return plain_text(line[2:]).strip() or None
    return None


# --- knowledge/index.md ---------------------------------------------------------------------


def write_index(session: Session, knowledge_dir: Path) -> None:
    """Regenerate `index.md` (every article, grouped by procedure); written only if it changed."""
    base = Path(knowledge_dir)
    rows = session.execute(
        select(Article.path, Article.title, Article.ticket_id, Article.procedure_id)
    ).all()
    if not rows and not base.is_dir():
        return
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.procedure_id or "", []).append(row)
    built = build_index(
        [
            IndexGroup(
                name or "other",
                tuple(
                    IndexEntry(r.title, Markup(quote(r.path)), r.ticket_id)
                    for r in sorted(entries, key=lambda r: (r.title.casefold(), r.path))
                ),
            )
            for name, entries in sorted(groups.items(), key=lambda g: (g[0] == "", g[0]))
        ]
    )
    target = base / INDEX_FILE
    data = built.encode()
    if _read_bytes(target) != data:
        atomic_write(target, data)


def list_articles(session: Session) -> list[Article]:
    """Every article, by procedure and title (for `sopbot kb list`)."""
    return list(
        session.scalars(select(Article).order_by(Article.procedure_id, Article.title, Article.path))
    )


# --- chat: /kb and the deflection buttons -----------------------------------------------------


def install(registry: Registry, *, deflection: Any = None) -> None:
    """Register `/kb words` and the `k` buttons.

    `deflection(ctx, parts)` handles the engine's "solved" (`k:<ticket>:s`) and "continue"
    (`k:<ticket>:c`) buttons; "show article" (`k:<ticket>:v:<article>`) is handled here.
    """
    registry.command("kb", kb_command, summary="search the knowledge base: /kb words")
    registry.callback("k", _button_handler(deflection))


def kb_command(ctx: Ctx, args: str) -> Outcome | None:
    """/kb words: the best matching articles, with their titles and paths."""
    if not args.strip():
        ctx.say("kb/usage.html")
        return None
    ctx.say("kb/results.html", query=one_line(args), matches=search(ctx.session, args, RESULTS))
    return None


def _button_handler(deflection: Any):
    def handle(ctx: Ctx, parts: list[str]) -> Outcome | None:
        """A press on a deflection button: show an article, or hand over to the engine."""
        if len(parts) == 3 and parts[1] == "v" and parts[0].isdigit() and parts[2].isdigit():
            return show_article(ctx, int(parts[2]))
        if len(parts) == 2 and parts[1] in ("s", "c") and parts[0].isdigit() and deflection:
            return deflection(ctx, parts)
        return Outcome(toast=render("kb/toast.txt", reason="expired"))

    return handle


def show_article(ctx: Ctx, article_id: int) -> Outcome | None:
    """Send the start of an article to the chat."""
    article = ctx.session.get(Article, article_id)
    if article is None:
        return Outcome(toast=render("kb/toast.txt", reason="gone"))
    ctx.say("kb/article.html", article=article, excerpt=shorten_body(article.body))
    return None


def shorten_body(body: str, limit: int = 1500) -> str:
    """About `limit` characters of an article's text, cut at a line break when possible."""
    if len(body) <= limit:
        return body
    cut = body.rfind("\n", 0, limit)
    return body[: cut if cut > limit // 2 else limit].rstrip() + "\n…"


def deflection_buttons(ticket_id: int, matches: Iterable[Match]) -> tuple[tuple[Button, ...], ...]:
    """One "show" button per offered article (three at most), then Solved and Continue."""
    rows: list[tuple[Button, ...]] = [
        (
            Button(
                render("kb/button.txt", kind="view", title=shorten(m.title, 40)),
                _data(f"k:{int(ticket_id)}:v:{int(m.article_id)}"),
            ),
        )
        for m in list(matches)[:3]
    ]
    rows.append(
        (
            Button(render("kb/button.txt", kind="solved"), _data(f"k:{int(ticket_id)}:s")),
            Button(render("kb/button.txt", kind="continue"), _data(f"k:{int(ticket_id)}:c")),
        )
    )
    return tuple(rows)


def _data(data: str) -> str:
    if len(data.encode()) > 64:
        raise ValueError(f"callback data longer than Telegram's 64 bytes: {data!r}")
    return data
