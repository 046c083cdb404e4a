"""The live view's list: open tickets by SLA risk, filtered and searched, within what the
viewer may see. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.db.models import Ticket
from bot.services import dashboard_views as views
from bot.services.live import Viewer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAM, OTHER = -100, -200
LEAD = Viewer(1, "Lena", lead=True)
ANN = Viewer(2, "Ann", lead=False, chats=frozenset({TEAM}))


def ticket(number: int, *, status="open", due=None, chat=TEAM, reporter=3, title="t", proc="bug"):
    return Ticket(
        id=number,
        procedure_id=proc,
        procedure_version="v1",
        title=title,
        status=status,
        reporter_id=reporter,
        reporter_name="Bob",
        chat_id=chat,
        chat_type="supergroup",
        created_at=NOW,
        updated_at=NOW,
        due_at=due,
    )


def seed(db) -> None:
    with db.transaction() as s:
        s.add_all(
            [
                ticket(1, due=NOW + timedelta(days=1), title="on track"),
                ticket(2, due=NOW - timedelta(hours=1), title="overdue printer"),
                ticket(3, status="waiting_for_info", due=NOW + timedelta(hours=1), title="paused"),
                ticket(4, due=NOW + timedelta(minutes=30), title="due soon", proc="access"),
                ticket(5, title="no due time"),
                ticket(6, status="closed", due=NOW - timedelta(days=1), title="done"),
                ticket(7, chat=OTHER, due=NOW - timedelta(days=2), title="other chat"),
            ]
        )


def listed(db, viewer: Viewer, **filters: str) -> list[tuple[int, str]]:
    rows = db.read(lambda s: views.open_tickets(s, viewer, NOW, views.Filters(**filters)))
    return [(r.ticket.id, r.risk) for r in rows]


def test_open_tickets_come_most_at_risk_first(db):
    seed(db)
    assert listed(db, LEAD) == [
        (7, "overdue"),
        (2, "overdue"),
        (4, "due_soon"),
        (3, "paused"),
        (1, "on_track"),
        (5, "no_due"),
    ]


def test_a_member_sees_only_their_chats_tickets(db):
    seed(db)
    assert [n for n, _ in listed(db, ANN)] == [2, 4, 3, 1, 5]


def test_filters_and_search_narrow_the_list(db):
    seed(db)
    assert listed(db, LEAD, procedure="access") == [(4, "due_soon")]
    assert [n for n, _ in listed(db, LEAD, q="PRINTER")] == [2]
    assert [n for n, _ in listed(db, LEAD, q="#5")] == [5]
    assert [n for n, _ in listed(db, LEAD, status="waiting_for_info")] == [3]
    assert [n for n, _ in listed(db, LEAD, chat=str(OTHER))] == [7]
    assert [n for n, _ in listed(db, LEAD, assignee="none")] == [7, 2, 4, 3, 1, 5]


def test_a_ticket_waiting_for_approval_is_shown_as_such_after_the_late_ones(db):
    from bot.db.models import ApprovalRequest

    seed(db)
    with db.transaction() as s:
        for number in (1, 2):  # on track and overdue, both waiting for a decision
            s.add(
                ApprovalRequest(
                    ticket_id=number,
                    step_id="approve",
                    round=0,
                    requested_at=NOW - timedelta(hours=1),
                )
            )
        s.add(  # decided: no longer waiting
            ApprovalRequest(
                ticket_id=5,
                step_id="approve",
                round=0,
                requested_at=NOW - timedelta(hours=2),
                decided_at=NOW - timedelta(hours=1),
                outcome="approved",
            )
        )
    assert listed(db, LEAD) == [
        (7, "overdue"),
        (2, "overdue"),
        (4, "due_soon"),
        (1, "approval"),
        (3, "paused"),
        (5, "no_due"),
    ]
