"""Reindexing: bring `kb_articles` and the search index in line with the files in the folder.

`refresh_if_changed` is the cheap check for start-up and the periodic job: one walk with `stat`
per file and a fingerprint compared with the one stored in `settings`.

Both first make sure the index holds words cut the way `bot.knowledge.text` cuts them now
(`WORDS_VERSION`, kept in `settings`): a database indexed by an older sopbot has every article's
entry rebuilt from `kb_articles`, once, without reading a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.db.models import Article, Setting
from bot.domain.languages import ENGLISH
from bot.knowledge import frontmatter
from bot.knowledge.record import (
    INDEXED_KEYS,
    MAX_PATH,
    Columns,
    IndexText,
    from_file,
    index_text_of,
)
from bot.knowledge.slug import UnsafePath, inside
from bot.knowledge.text import WORDS_VERSION
from bot.services.knowledge.articles import write_index
from bot.services.knowledge.files import INDEX_FILE, MAX_FILE_BYTES, decode
from bot.services.knowledge.search_index import Entry, SearchIndex, chunks, index_for

log = logging.getLogger(__name__)

_REBUILD_BATCH = 500

FINGERPRINT_KEY = "kb.fingerprint"
WORDS_KEY = "kb.words"


@dataclass(frozen=True)
class ReindexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class _File:
    path: str
    mtime: float
    mtime_ns: int
    size: int


def reindex(
    session: Session, knowledge_dir: Path, now: datetime, language: str = ENGLISH
) -> ReindexReport:
    """Bring `kb_articles` and the index in line with the files: added, edited, removed.

    A file whose modification time is unchanged is not read; one whose time changed is read
    and compared by sha256, so touching a file costs a read but no re-indexing.
    """
    base = Path(knowledge_dir)
    rebuild_if_words_changed(session)
    files = _scan(base)
    report = _reindex(session, base, files, now)
    _remember(session, files)
    write_index(session, base, language)  # the team's
    return report


def refresh_if_changed(
    session: Session, knowledge_dir: Path, now: datetime, language: str = ENGLISH
) -> ReindexReport | None:
    """Reindex only if any file was added, removed or touched since the last scan.

    One directory walk with `stat` per file and one row read, so it is cheap enough for start-up
    and a periodic job. Returns None when nothing had changed.
    """
    base = Path(knowledge_dir)
    rebuild_if_words_changed(session)
    files = _scan(base)
    stored = session.get(Setting, FINGERPRINT_KEY)
    if stored is not None and stored.value == _fingerprint(files):
        return None
    report = _reindex(session, base, files, now)
    _remember(session, files)
    write_index(session, base, language)  # the team's
    return report


def rebuild_if_words_changed(session: Session) -> int | None:
    """Rebuild every article's index entry if it was cut by another `WORDS_VERSION`.

    Returns how many were rebuilt, or None when the index was current (one row read). The
    entries are computed from `kb_articles`, which keeps each article's title, tags, procedure
    and plain text, so no file is read.
    """
    stored = session.get(Setting, WORDS_KEY)
    if stored is not None and stored.value == WORDS_VERSION:
        return None
    index = index_for(session)
    rebuilt, after = 0, 0
    columns = (Article.id, Article.title, Article.tags, Article.procedure_id, Article.body)
    while True:
        rows = session.execute(
            select(*columns).where(Article.id > after).order_by(Article.id).limit(_REBUILD_BATCH)
        ).all()
        if not rows:
            break
        index.put(
            [Entry(r.id, **index_text_of(r.title, r.tags, r.procedure_id, r.body)) for r in rows]
        )
        rebuilt += len(rows)
        after = rows[-1].id
    if stored is None:
        session.add(Setting(key=WORDS_KEY, value=WORDS_VERSION))
    else:
        stored.value = WORDS_VERSION
    if rebuilt:
        log.info("knowledge index: %d articles re-cut into words (%s)", rebuilt, WORDS_VERSION)
    return rebuilt


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
                if not name.endswith(".md") or rel == INDEX_FILE or len(rel) > MAX_PATH:
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
    values: Columns | None = None
    index: IndexText | None = None


def _reindex(session: Session, base: Path, files: dict[str, _File], now: datetime) -> ReindexReport:
    index = index_for(session)
    known = {
        r.path: r
        for r in session.execute(select(Article.id, Article.path, Article.mtime, Article.sha256))
    }
    gone = [r.id for path, r in known.items() if path not in files]
    for chunk in chunks(gone):
        session.execute(delete(Article).where(Article.id.in_(chunk)))
    index.drop(gone)
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
        for batch in reader.map(lambda chunk: _read_files(chunk, hashes), chunks(to_read)):
            touched, changed, new = [], [], []
            for r in batch:
                row = known.get(r.rel)
                if r.values is None:
                    touched.append({"id": row.id, "mtime": r.file.mtime})
                elif row is not None:
                    changed.append((row.id, r))
                else:
                    new.append(r)
            _store(session, index, touched, changed, new, now)
            unchanged += len(touched)
            updated += len(changed)
            added += len(new)
    return ReindexReport(added, updated, len(gone), unchanged)


def _read_files(chunk: Sequence[tuple[str, _File]], hashes: dict[str, str]) -> list[_Read]:
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
        doc = frontmatter.parse(decode(raw), keys=INDEXED_KEYS)
        if doc.error:
            log.warning("knowledge article %s: %s; indexed as plain text", rel, doc.error)
        values = from_file(rel, doc)
        text = index_text_of(
            values["title"], values["tags"], values["procedure_id"], values["body"]
        )
        batch.append(_Read(rel, f, sha, values, text))
    return batch


def _store(
    session: Session,
    index: SearchIndex,
    touched: list[dict[str, Any]],
    changed: list[tuple[int, _Read]],
    new: list[_Read],
    now: datetime,
) -> None:
    """Write one batch of reindexed files to `kb_articles` and the search index."""
    if touched:
        session.execute(update(Article), touched)
    if changed:
        session.execute(
            update(Article), [{"id": i, **_row(r), "indexed_at": now} for i, r in changed]
        )
        index.put([Entry(i, **r.index) for i, r in changed])
    if new:
        index.add([{"path": r.rel, **_row(r)} for r in new], [r.index for r in new], now)


def _row(read: _Read) -> dict[str, Any]:
    return {**read.values, "sha256": read.sha256, "mtime": read.file.mtime}
