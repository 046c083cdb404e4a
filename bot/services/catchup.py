"""`/catchup`: what changed on your tickets since you last asked, most important first.

Your tickets are those you reported, are assigned or watch. The changes are the published
facts of the changefeed (`bot.services.feed`), minus what you did yourself. Tickets are ranked:
overdue or escalated, then assigned to you, then those whose status changed, then the rest.
Reading moves your cursor (`CatchupCursor`) in the same transaction, so the next /catchup
starts where this one ended.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent, CatchupCursor, Ticket, Watcher
from bot.domain import lifecycle
from bot.domain.procedure import Procedure
from bot.render import render
from bot.services import audit, feed
from bot.services.context import Ctx, Registry
from bot.words import field_label, field_value, moment

# Keep the message well under Telegram's 4,096 characters; the rest is summarised.
MAX_CHARS = 3500
CHANGES_PER_TICKET = 6
MAX_EVENTS = 5000
# The first /catchup looks back this far.
FIRST_LOOK_BACK = timedelta(days=7)

OVERDUE, ESCALATED, ASSIGNED, STATUS = "overdue", "escalated", "assigned", "status"


def install(registry: Registry) -> None:
    registry.command("catchup", catchup)


@dataclass
class Group:
    """The changes to one ticket, and why it ranks where it does."""

    ticket_id: int
    title: str
    status: str
    procedure_id: str
    rank: int
    reasons: list[str]
    changes: list[feed.Change]
    hidden: int = 0
    latest: int = field(default=0)
    # The ticket's procedure as it is now, when it can be read, and the team's time zone: a
    # change names a field by its internal name and keeps times as ISO text.
    procedure: Procedure | None = None
    tz: ZoneInfo | None = None

    def label(self, name: object) -> str:
        return field_label(self.procedure, name)

    def value(self, name: object, value: object) -> str:
        return field_value(self.procedure, name, value, self.tz)


def catchup(ctx: Ctx, args: str) -> None:
    """Show the changes on the person's tickets since their last catch-up; move the cursor."""
    user_id = ctx.actor.user_id
    if user_id is None:
        return
    cursor = ctx.session.get(CatchupCursor, user_id)
    audit.flush(ctx.session)  # events this transaction deferred count as already happened
    upto = ctx.session.execute(select(func.max(AuditEvent.id))).scalar() or 0
    if cursor is None:
        since = ctx.now - FIRST_LOOK_BACK
        after = (
            ctx.session.execute(
                select(func.max(AuditEvent.id)).where(AuditEvent.at < since)
            ).scalar()
            or 0
        )
        cursor = CatchupCursor(user_id=user_id, last_event_id=after, updated_at=ctx.now)
        ctx.session.add(cursor)
    else:
        since = cursor.updated_at
    groups = changes_for(ctx.session, user_id, after=cursor.last_event_id, upto=upto, now=ctx.now)
    store = ctx.procedures  # absent where only the words of the catch-up are wanted
    for group in groups:
        group.procedure = (
            store.load_or_none(group.procedure_id, ctx.lang) if store is not None else None
        )
        group.tz = ctx.config.tz
    cursor.last_event_id = max(cursor.last_event_id, upto)
    cursor.updated_at = ctx.now
    when = moment(since, ctx.config.tz)
    if not groups:
        ctx.say("catchup/nothing.html", since=when)
        return
    ctx.say("catchup/catchup.html", since=when, **fit(groups))


def my_tickets(user_id: int):
    """The ids of tickets the person reported, is assigned or watches (a subquery)."""
    watched = select(Watcher.ticket_id).where(Watcher.user_id == user_id)
    return select(Ticket.id).where(
        or_(Ticket.reporter_id == user_id, Ticket.assignee_id == user_id, Ticket.id.in_(watched))
    )


def changes_for(
    session: Session, user_id: int, *, after: int, upto: int, now: datetime
) -> list[Group]:
    """The published changes by others to the person's tickets in (after, upto], ranked."""
    events = (
        session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.id > after,
                AuditEvent.id <= upto,
                AuditEvent.ticket_id.in_(my_tickets(user_id)),
                AuditEvent.action.in_(feed.PUBLISHED),
                or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id != user_id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(MAX_EVENTS)
        )
        .scalars()
        .all()
    )
    by_ticket: dict[int, list[feed.Change]] = defaultdict(list)
    for e in reversed(events):
        change = feed.to_change(e)
        if change is not None and change.ticket is not None:
            by_ticket[change.ticket].append(change)
    if not by_ticket:
        return []
    tickets = session.execute(select(Ticket).where(Ticket.id.in_(by_ticket))).scalars()
    groups = [_group(t, by_ticket[t.id], user_id, now) for t in tickets]
    groups.sort(key=lambda g: (g.rank, -g.latest))
    return groups


def _group(t: Ticket, changes: list[feed.Change], user_id: int, now: datetime) -> Group:
    kinds = {c.kind for c in changes}
    reasons = []
    if t.status in lifecycle.ACTIVE and t.due_at is not None and t.due_at < now:
        reasons.append(OVERDUE)
    if t.escalation_level > 0 or "reminder.escalated" in kinds:
        reasons.append(ESCALATED)
    if t.assignee_id == user_id:
        reasons.append(ASSIGNED)
    if "status.changed" in kinds:
        reasons.append(STATUS)
    if OVERDUE in reasons or ESCALATED in reasons:
        rank = 0
    elif ASSIGNED in reasons:
        rank = 1
    elif STATUS in reasons:
        rank = 2
    else:
        rank = 3
    shown = changes[-CHANGES_PER_TICKET:]  # the newest few, oldest of them first
    return Group(
        ticket_id=t.id,
        title=t.title,
        status=t.status,
        procedure_id=t.procedure_id,
        rank=rank,
        reasons=reasons,
        changes=shown,
        hidden=len(changes) - len(shown),
        latest=changes[-1].seq,
    )


def fit(groups: list[Group]) -> dict:
    """Rendered groups that fit in one message, most important first; the rest counted."""
    rendered: list[Markup] = []
    used = 300  # the header and the summary line
    kept = 0
    for group in groups:
        text = Markup(render("catchup/ticket.html", group=group))
        if used + len(text) > MAX_CHARS and rendered:
            break
        rendered.append(text)
        used += len(text) + 2
        kept += 1
    rest = groups[kept:]
    return {
        "groups": rendered,
        "count": sum(len(g.changes) + g.hidden for g in groups),
        "tickets": len(groups),
        "more_tickets": len(rest),
        "more_changes": sum(len(g.changes) + g.hidden for g in rest),
    }
