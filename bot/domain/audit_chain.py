"""The audit hash chain: `hash = sha256(previous hash + canonical JSON of the event)`.

Canonical JSON is sorted keys, no whitespace, UTF-8, times as UTC ISO 8601 with microseconds;
`docs/audit.md` spells it out so anyone can re-check a chain without sopbot.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    ticket_id: int | None,
    action: str,
    details: Any,
    procedure_id: str | None,
    procedure_version: str | None,
) -> bytes:
    """The bytes that are hashed for one event."""
    body = {
        "seq": seq,
        "at": canonical_time(at),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "ticket_id": ticket_id,
        "action": action,
        "details": details,
        "procedure_id": procedure_id,
        "procedure_version": procedure_version,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()
