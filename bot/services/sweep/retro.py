"""The weekly retrospective digest: for each procedure whose retro questions were answered last
week, one message to the leads (the team's chat, else each lead privately) with the answers
grouped by question and the tickets they came from. Owed once per procedure, week and chat,
claimed by its `dedupe_key` like the daily plan, through the outbox."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain import reminders as rules
from bot.domain.procedure import Procedure
from bot.procedures.errors import ProcedureError
from bot.render import TELEGRAM_LIMIT, render
from bot.services import outbox
from bot.services.database import Database
from bot.services.messages import Reply
from bot.services.retro import Given, week_of_answers
from bot.services.stats import local_midnight, week_start
from bot.services.sweep import queries
from bot.services.sweep.daily import claim
from bot.services.sweep.report import ProcedureSource, Sent, SweepReport
from bot.words import field_label, field_value

# With no daily plan configured, the week's digest is owed from Monday morning.
DEFAULT_AT = time(9, 0)
ANSWERS_PER_QUESTION = 15


def owe_retro_digests(
    db: Database,
    config: Config,
    procedures: ProcedureSource | None,
    now: datetime,
    dry_run: bool,
    report: SweepReport,
) -> None:
    """Owe last week's retro digests, once each, at the first sweep of a week from the daily
    plan's time (09:00 without one) on a working day."""
    tz = config.tz
    day = rules.daily_plan_day(
        now, config.reminders.daily_digest or DEFAULT_AT, config.reminders, tz
    )
    if day is None:
        return
    monday = week_start(day) - timedelta(weeks=1)
    since, until = local_midnight(monday, tz), local_midnight(monday + timedelta(weeks=1), tz)
    with db.reading() as session:
        answered = week_of_answers(session, since, until)
    targets = [config.chats[0].id] if config.chats else sorted(config.leads)
    for procedure_id, by_name in sorted(answered.items()):
        procedure = _procedure(procedures, procedure_id)
        text = _text(procedure, procedure_id, by_name, monday, tz)
        ticket_ids = tuple(sorted({g.ticket_id for given in by_name.values() for g in given}))
        for chat_id in targets:
            key = f"retro:{procedure_id}:{monday.isoformat()}:{chat_id}"
            with queries.unit(db, dry_run) as session:
                if not claim(session, key, chat_id, now, dry_run, kind="retro", ids=ticket_ids):
                    continue
                if dry_run:
                    report.sent.append(Sent(chat_id, "retro", ticket_ids, text))
                    continue
                (row,) = outbox.owe(session, [Reply(chat_id=chat_id, text=text, kind="retro")], now)
                queries.record_events(
                    session,
                    now,
                    [
                        {
                            "action": "retro.digest",
                            "ticket_id": None,
                            "details": {
                                "chat_id": chat_id,
                                "procedure": procedure_id,
                                "week": monday.isoformat(),
                                "tickets": list(ticket_ids),
                            },
                        }
                    ],
                )
                session.flush()
                report.sent.append(Sent(chat_id, "retro", ticket_ids, text, row.id))


def _procedure(procedures: ProcedureSource | None, procedure_id: str) -> Procedure | None:
    if procedures is None:
        return None
    try:
        return procedures.load(procedure_id)
    except (ProcedureError, OSError):  # broken or removed: the digest names fields as stored
        return None


def _text(
    procedure: Procedure | None,
    procedure_id: str,
    by_name: dict[str, list[Given]],
    monday: date,
    tz: ZoneInfo,
) -> str:
    """The digest, cut to Telegram's limit by listing fewer answers per question."""
    order = {f.name: i for i, f in enumerate(procedure.retro.fields)} if procedure else {}
    names = sorted(by_name, key=lambda n: (order.get(n, len(order)), n))
    limit = ANSWERS_PER_QUESTION
    while True:
        questions = [
            {
                "label": field_label(procedure, name),
                "answers": [
                    {
                        "ticket": g.ticket_id,
                        "title": g.title,
                        "value": field_value(procedure, name, g.value, tz),
                        "reasons": g.reasons,
                    }
                    for g in by_name[name][:limit]
                ],
                "more": max(0, len(by_name[name]) - limit),
            }
            for name in names
        ]
        text = render(
            "reminders/retro_digest.html",
            title=procedure.title if procedure else procedure_id,
            first=monday,
            last=monday + timedelta(days=6),
            questions=questions,
        )
        if len(text) <= TELEGRAM_LIMIT or limit == 1:
            return text[:TELEGRAM_LIMIT]
        limit = max(1, limit // 2)
