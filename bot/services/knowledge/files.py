"""The article file store: files under the knowledge folder, written atomically, put back on a
rollback, never overwriting another ticket's file, and never outside the folder.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.knowledge import frontmatter
from bot.knowledge.slug import UnsafePath, inside

log = logging.getLogger(__name__)

INDEX_FILE = "index.md"  # generated at the top of the folder; not an article
MAX_FILE_BYTES = 2 * 1024 * 1024  # a bigger .md file is not an article; it is skipped


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


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when it is missing, unreadable, not a file or too big."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def claimed_ticket(path: Path) -> int | None:
    """The ticket a file's front matter says it belongs to, if any."""
    raw = read_bytes(path)
    if raw is None:
        return None
    ticket = frontmatter.parse(decode(raw)).meta.get("ticket")
    return ticket if isinstance(ticket, int) and not isinstance(ticket, bool) else None


def free_path(
    base: Path, ticket_id: int, names: Iterable[str], taken: Callable[[str], bool]
) -> tuple[str, Path]:
    """The first of `names` that is not `taken` (another ticket's row) and is no file of
    another ticket nor a hand-written one: its relative path and where it is."""
    for rel in names:
        if taken(rel):
            continue
        target = inside(base, rel)
        if target.exists() and claimed_ticket(target) != ticket_id:
            continue
        return rel, target
    raise UnsafePath(f"no free file name for ticket {ticket_id}")


def restore_on_rollback(session: Session, target: Path, before: bytes | None) -> None:
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
