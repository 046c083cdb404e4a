"""What a sweep did, and what it sends through: the report, the sender, the phase timer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.domain.procedure import Procedure
from bot.services.messages import Reply


class Sender(Protocol):
    """Sends one message; returns its message id and raises when it was not sent."""

    def send(self, reply: Reply) -> int: ...


class ProcedureSource(Protocol):
    def load(self, procedure_id: str) -> Procedure: ...


@dataclass(frozen=True)
class Sent:
    """A message the sweep sent (or, in a dry run, would send)."""

    chat_id: int
    kind: str  # digest, escalation, daily
    ticket_ids: tuple[int, ...]
    text: str
    message_id: int | None = None


@dataclass(frozen=True)
class Failed:
    chat_id: int
    kind: str
    ticket_ids: tuple[int, ...]
    error: str


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool = False
    sent: list[Sent] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    reminded: int = 0  # tickets in the digests sent
    escalated: int = 0  # tickets whose escalation level was raised
    deferred: int = 0  # tickets whose chase moved without a reminder (quiet hours, snooze)
    stopped: int = 0  # tickets no longer chased (finished or paused)
    # Wall time of each phase: claim, send (recording included), record, escalate, daily.
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
