"""`sopbot audit verify --files`: the files the audit trail recorded are still there, unchanged.

The audit chain covers each attachment's sha256 (its `attachment.added` event); this check reads
every such event and hashes the stored bytes again, so a file swapped or edited on disk, or
removed, is found even though the database was not touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent
from bot.services.file_store import FileStore


@dataclass(frozen=True)
class FileProblem:
    """A recorded file whose stored bytes are `missing` or `changed`."""

    event_id: int
    ticket_id: int | None
    name: str | None
    sha256: str
    state: str


@dataclass
class FileCheck:
    checked: int = 0  # files whose bytes were hashed (or found missing)
    not_downloaded: int = 0  # recorded by their Telegram id only (over 20 MB)
    problems: list[FileProblem] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_files(session: Session, store: FileStore) -> FileCheck:
    """Every file an `attachment.added` event recorded, hashed again from the folder (each
    distinct file once)."""
    result = FileCheck(problems=[])
    seen: dict[str, str] = {}
    for event_id, ticket_id, details in _recorded(session):
        sha256 = details.get("sha256") if isinstance(details, dict) else None
        if not sha256:
            result.not_downloaded += 1
            continue
        if sha256 not in seen:
            try:
                seen[sha256] = store.check(sha256)
            except ValueError:  # not a hash at all: the record itself is not what we wrote
                seen[sha256] = "changed"
            result.checked += 1
        if seen[sha256] != "ok":
            assert result.problems is not None
            result.problems.append(
                FileProblem(event_id, ticket_id, details.get("file_name"), sha256, seen[sha256])
            )
    return result


def _recorded(session: Session) -> Iterator[tuple[int, int | None, object]]:
    query = (
        select(AuditEvent.id, AuditEvent.ticket_id, AuditEvent.details)
        .where(AuditEvent.action == "attachment.added")
        .order_by(AuditEvent.id)
        .execution_options(yield_per=1000)
    )
    for row in session.execute(query):
        yield row[0], row[1], row[2]
