"""Signed webhooks: each change-feed item owed to each configured receiver, through a durable
queue with retries and back-off, in order per ticket.

- `queue` moves each webhook's cursor along the change feed (its chats, its kinds) and stores a
  delivery per item, cursor and deliveries in one transaction: an item is queued exactly once.
  A webhook seen for the first time starts at the feed's head (it is not sent history; a
  receiver catches up on history from `/changes`).
- `claim` leases deliveries with the outbox's machinery (`services.queues`): a lane (one
  webhook, one ticket) only as a prefix of what it still owes, so a ticket's items arrive in
  order even with several senders, and a delivery that must wait holds back only its ticket.
- `delivered` / `later` / `release` record what the sender did. After `GIVE_UP_AFTER` a delivery
  is given up (audited); the receiver can still read it from `/changes?cursor=`.

The body is signed: `X-Sopbot-Signature: sha256=<HMAC-SHA256 of the body with the secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import Config, ConsumerConfig, WebhookTargetConfig
from bot.db.models import AuditEvent, WebhookCursor, WebhookDelivery
from bot.domain.actors import SYSTEM
from bot.domain.audit_chain import GENESIS
from bot.services import audit, feed, queues
from bot.services.database import Database

LEASE = timedelta(seconds=30)
CLAIM_LIMIT = 200
QUEUE_LIMIT = 1000  # feed events looked at per webhook per call
GIVE_UP_AFTER = timedelta(days=1)
MAX_BACKOFF = timedelta(minutes=5)
SIGNATURE = "X-Sopbot-Signature"

_WAITING = and_(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None))


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: compare the signature in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def body_of(webhook: str, change: feed.Change) -> str:
    """What is POSTed: the item as the change feed shows it, and its cursor (to resume
    `/changes?cursor=` from it)."""
    data = {"webhook": webhook, "cursor": change.hash, "item": change.as_json()}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... up to five minutes between tries."""
    return min(timedelta(seconds=2 ** min(attempts, 16)), MAX_BACKOFF)


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: where to, what, and how often it was tried."""

    id: int
    target: WebhookTargetConfig
    lane: str
    seq: int
    body: bytes
    attempts: int
    created_at: datetime

    @property
    def signature(self) -> str:
        return sign(self.target.secret, self.body)


def sample(target: WebhookTargetConfig, now: datetime) -> Delivery:
    """A delivery of a made-up item, for `sopbot webhooks test NAME` (never stored)."""
    change = feed.Change(
        seq=0,
        hash=GENESIS,
        prev_hash=GENESIS,
        kind="webhook.test",
        ticket=None,
        at=now,
        actor_id=None,
        actor_name=SYSTEM.name,
        change={},
    )
    body = body_of(target.name, change).encode()
    return Delivery(0, target, f"{target.name}:test", 0, body, 0, now)


class Webhooks:
    """The queue of webhook deliveries, one transaction per call."""

    def __init__(self, db: Database, config: Config):
        self.db = db
        self.targets = {t.name: t for t in config.webhooks}

    def queue(self, now: datetime) -> int:
        """Queue what each webhook has not been given yet; how many deliveries were added."""
        added = 0
        for target in self.targets.values():
            try:
                added += self.db.run(lambda s, t=target: _queue(s, t, now))
            except IntegrityError:  # another process made this webhook's cursor just now
                continue
        return added

    def claim(self, now: datetime, *, limit: int = CLAIM_LIMIT) -> list[Delivery]:
        def work(session: Session) -> list[Delivery]:
            rows = queues.claim(
                session,
                WebhookDelivery,
                key=WebhookDelivery.id,
                chat=WebhookDelivery.lane,
                waiting=_WAITING,
                now=now,
                lease=LEASE,
                limit=limit,
            )
            taken = []
            for row in rows:
                target = self.targets.get(row.webhook)
                if target is None:  # removed from the config: nobody to send it to
                    row.failed_at, row.claimed_until, row.error = now, None, "not configured"
                    continue
                taken.append(
                    Delivery(
                        row.id,
                        target,
                        row.lane,
                        row.seq,
                        row.body.encode(),
                        row.attempts,
                        row.created_at,
                    )
                )
            return taken

        return self.db.run(work)

    def delivered(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            self.db.run(
                lambda s: s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(list(ids)))
                    .values(delivered_at=now, claimed_until=None)
                )
            )

    def later(self, delivery: Delivery, error: str, now: datetime) -> None:
        """Not taken: try again after a back-off, or give up after `GIVE_UP_AFTER`."""

        def work(session: Session) -> None:
            if now - delivery.created_at < GIVE_UP_AFTER:
                until = now + backoff(delivery.attempts)
                queues.later(
                    session,
                    WebhookDelivery,
                    WebhookDelivery.id,
                    delivery.id,
                    _WAITING,
                    until,
                    error,
                )
                return
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id, _WAITING)
                .values(failed_at=now, claimed_until=None, error=error[:1000])
            )
            audit.record(
                session,
                now=now,
                actor=SYSTEM,
                action="webhook.undeliverable",
                details={"webhook": delivery.target.name, "seq": delivery.seq, "error": error},
            )

        self.db.run(work)

    def release(self, ids: Sequence[int]) -> None:
        """Claimed but not tried (an older delivery of the lane must wait): free them now."""
        if ids:
            self.db.run(
                lambda s: s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(list(ids)), _WAITING)
                    .values(claimed_until=None)
                )
            )

    def waiting(self) -> int:
        with self.db.reading() as session:
            query = select(func.count(WebhookDelivery.id)).where(_WAITING)
            return session.scalar(query) or 0


def _queue(session: Session, target: WebhookTargetConfig, now: datetime) -> int:
    cursor = session.get(WebhookCursor, target.name, with_for_update=True)
    consumer = ConsumerConfig(target.name, "", target.chats)
    if cursor is None:
        head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        session.add(WebhookCursor(webhook=target.name, cursor=head or GENESIS))
        session.flush()
        return 0
    page = feed.changes(session, consumer=consumer, cursor=cursor.cursor, limit=QUEUE_LIMIT)
    rows = [
        WebhookDelivery(
            webhook=target.name,
            lane=f"{target.name}:{change.ticket or 0}",
            seq=change.seq,
            body=body_of(target.name, change),
            created_at=now,
            not_before=now,
            attempts=0,
        )
        for change in page.items
        if not target.events or change.kind in target.events
    ]
    session.add_all(rows)
    cursor.cursor = page.next_cursor
    return len(rows)
