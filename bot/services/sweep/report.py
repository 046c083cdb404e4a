"""What a sweep did: the report, the procedures it reads, the phase timer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.domain.procedure import Procedure


class ProcedureSource(Protocol):
    def load(self, procedure_id: str) -> Procedure: ...


@dataclass(frozen=True)
class Sent:
    """A message the sweep owes a chat, in the outbox as `outbox_id` (a dry run: would owe)."""

    chat_id: int
    kind: str  # digest, escalation, daily, approval, retro
    ticket_ids: tuple[int, ...]
    text: str
    outbox_id: int | None = None


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool = False
    sent: list[Sent] = field(default_factory=list)
    reminded: int = 0  # tickets in the digests owed
    escalated: int = 0  # tickets whose escalation level was raised
    deferred: int = 0  # tickets whose chase moved without a reminder (quiet hours, snooze)
    stopped: int = 0  # tickets no longer chased (finished or paused)
    # Wall time of each phase: chase (one transaction: claim, owe, commit), claim, owe, daily.
    seconds: dict[str, float] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]

    @property
    def digests(self) -> list[Sent]:
        return self.of_kind("digest")


@contextmanager
def phase(report: SweepReport, name: str) -> Iterator[None]:
    """Adds the wall time of the block to `report.seconds[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[name] = report.seconds.get(name, 0.0) + time.perf_counter() - started
