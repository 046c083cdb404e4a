"""Sign-in links and sessions of the live view, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.db.models import AuditEvent, DashboardLink
from bot.domain.actors import Actor
from bot.services import signin

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANN = Actor(2, "Ann Member", "ann")


def test_a_link_opened_after_ten_minutes_signs_nobody_in(db):
    token = db.run(lambda s: signin.issue_link(s, ANN, NOW))
    late = NOW + timedelta(minutes=10, seconds=1)
    assert db.run(lambda s: signin.redeem_link(s, token, late, hours=12)) is None


def test_a_link_works_once_and_its_session_ends_when_it_expires(db):
    token = db.run(lambda s: signin.issue_link(s, ANN, NOW))
    opened = db.run(lambda s: signin.redeem_link(s, token, NOW + timedelta(minutes=9), hours=12))
    assert opened is not None and opened.user_id == ANN.user_id
    assert (
        db.run(lambda s: signin.redeem_link(s, token, NOW + timedelta(minutes=9), hours=12)) is None
    )
    seen = db.read(lambda s: signin.visitor(s, opened.token, NOW + timedelta(hours=11)))
    assert seen == signin.Visitor(ANN.user_id, ANN.name)
    assert db.read(lambda s: signin.visitor(s, opened.token, NOW + timedelta(hours=13))) is None


def test_only_the_hash_of_a_token_is_stored(db):
    token = db.run(lambda s: signin.issue_link(s, ANN, NOW))
    stored = db.read(lambda s: s.execute(select(DashboardLink.token_hash)).scalar_one())
    assert token not in stored and len(stored) == 64


def test_every_sign_in_is_audited_with_how(db):
    token = db.run(lambda s: signin.issue_link(s, ANN, NOW))
    db.run(lambda s: signin.redeem_link(s, token, NOW, hours=1))
    db.run(lambda s: signin.sign_in_miniapp(s, ANN, NOW, hours=1))
    rows = db.read(
        lambda s: s.execute(
            select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.details).order_by(
                AuditEvent.id
            )
        ).all()
    )
    assert [(r.action, r.actor_id, r.details) for r in rows] == [
        ("dashboard.signed_in", 2, {"via": "link"}),
        ("dashboard.signed_in", 2, {"via": "miniapp"}),
    ]
