"""Signing in to the live view without passwords: `/dashboard` sends a one-time link, opening it
starts a browser session; inside Telegram, the Mini App's signed `initData` does the same.

Only the sha256 of each token is stored. A link works once and for ten minutes; a session ends
when it expires or when its person says `/dashboard logout`. Every sign-in and sign-out is
audited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import DashboardLink, DashboardSession
from bot.domain.actors import Actor
from bot.services import audit
from bot.services.context import Ctx, Registry

LINK_TTL = timedelta(minutes=10)
# Telegram signs initData when it opens the Mini App; an older one is not taken as a sign-in.
INIT_DATA_MAX_AGE = timedelta(hours=1)
LINK = "link"
MINIAPP = "miniapp"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie's value (shown once, never stored) and whose it is."""

    token: str
    user_id: int
    name: str
    expires_at: datetime


@dataclass(frozen=True)
class Visitor:
    """Who a session cookie belongs to."""

    user_id: int
    name: str


def issue_link(session: Session, actor: Actor, now: datetime) -> str:
    """A new one-time link token for `actor`."""
    token = secrets.token_urlsafe(32)
    session.add(
        DashboardLink(
            token_hash=_digest(token),
            user_id=actor.user_id,
            user_name=actor.name,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    return token


def _start(session: Session, who: Actor, via: str, now: datetime, hours: int) -> SignedIn:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=hours)
    session.add(
        DashboardSession(
            token_hash=_digest(token),
            user_id=who.user_id,
            user_name=who.name,
            via=via,
            created_at=now,
            expires_at=expires,
        )
    )
    audit.record(session, now=now, actor=who, action="dashboard.signed_in", details={"via": via})
    assert who.user_id is not None
    return SignedIn(token, who.user_id, who.name, expires)


def redeem_link(session: Session, token: str, now: datetime, *, hours: int) -> SignedIn | None:
    """A session for the link's person, if the link is known, unused and in time; it is then
    used up (one conditional update: of two tabs opening it at once, one wins)."""
    digest = _digest(token)
    used = session.execute(
        update(DashboardLink)
        .where(
            DashboardLink.token_hash == digest,
            DashboardLink.used_at.is_(None),
            DashboardLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return None
    link = session.get(DashboardLink, digest)
    assert link is not None
    return _start(session, Actor(link.user_id, link.user_name), LINK, now, hours)


def check_init_data(init_data: str, bot_token: str, now: datetime) -> Actor | None:
    """The person Telegram vouches for in a Mini App's `initData`, or None if the signature
    (HMAC-SHA256 keyed by the bot token) does not hold or it is too old."""
    if not init_data or not bot_token:
        return None
    pairs = dict(parse_qsl(init_data, keep_blank_values=True))
    given = pairs.pop("hash", "")
    checked = "\n".join(f"{k}={v}" for k, v in sorted(pairs.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, checked.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given, expected):
        return None
    try:
        signed_at = datetime.fromtimestamp(int(pairs.get("auth_date", "0")), tz=now.tzinfo)
        user = json.loads(pairs.get("user", "{}"))
        user_id = int(user["id"])
    except (ValueError, KeyError, TypeError):
        return None
    if now - signed_at > INIT_DATA_MAX_AGE:
        return None
    name = " ".join(str(user.get(k, "")) for k in ("first_name", "last_name")).strip()
    return Actor(user_id, name or str(user.get("username") or user_id), user.get("username"))


def sign_in_miniapp(session: Session, who: Actor, now: datetime, *, hours: int) -> SignedIn:
    """A session for someone Telegram vouched for (see `check_init_data`)."""
    return _start(session, who, MINIAPP, now, hours)


def visitor(session: Session, token: str, now: datetime) -> Visitor | None:
    """Whose session cookie this is, while it is neither expired nor ended."""
    if not token:
        return None
    row = session.execute(
        select(DashboardSession.user_id, DashboardSession.user_name).where(
            DashboardSession.token_hash == _digest(token),
            DashboardSession.expires_at > now,
            DashboardSession.ended_at.is_(None),
        )
    ).first()
    return Visitor(row.user_id, row.user_name) if row else None


def end_sessions(session: Session, actor: Actor, now: datetime) -> int:
    """End every open session of `actor`; how many there were (audited when any)."""
    ended = session.execute(
        update(DashboardSession)
        .where(
            DashboardSession.user_id == actor.user_id,
            DashboardSession.ended_at.is_(None),
            DashboardSession.expires_at > now,
        )
        .values(ended_at=now)
    ).rowcount
    if ended:
        audit.defer(
            session, now=now, actor=actor, action="dashboard.signed_out", details={"ended": ended}
        )
    return ended


def base_url(config: Config) -> str:
    """Where people reach the live view: `http.public_url`, else the address it listens on."""
    if config.http.public_url:
        return config.http.public_url.rstrip("/")
    return f"http://{config.http.listen}:{config.http.port}"


def dashboard(ctx: Ctx, args: str) -> None:
    """`/dashboard`: a sign-in link, in a private chat; `/dashboard logout` ends sessions."""
    if args.strip().lower() == "logout":
        ended = end_sessions(ctx.session, ctx.actor, ctx.now)
        ctx.say("chat/dashboard_logout.html", ended=ended)
        return
    if not ctx.config.http.enabled or not ctx.config.http.dashboard:
        ctx.say("chat/dashboard_off.html")
        return
    if not ctx.incoming.is_private:
        # A link in a group could be opened by anyone who reads it.
        ctx.say("chat/dashboard_private.html")
        return
    token = issue_link(ctx.session, ctx.actor, ctx.now)
    ctx.say(
        "chat/dashboard_link.html",
        url=f"{base_url(ctx.config)}/app/login?token={token}",
        minutes=int(LINK_TTL.total_seconds() // 60),
    )


def install(registry: Registry) -> None:
    registry.command("dashboard", dashboard)
