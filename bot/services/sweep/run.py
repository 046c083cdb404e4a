"""One sweep: claim the due tickets, owe the digests and escalations, then the daily plans (see
the package's docstring for how that is exactly once)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.config import Config
from bot.domain import reminders as rules
from bot.procedures.errors import ProcedureError
from bot.services.database import Database
from bot.services.sweep import digests, queries
from bot.services.sweep.approvals import chase_approvals
from bot.services.sweep.claim import claim_due
from bot.services.sweep.daily import owe_daily_plans
from bot.services.sweep.escalation import escalate
from bot.services.sweep.report import ProcedureSource, SweepReport, phase
from bot.services.sweep.retro import owe_retro_digests

log = logging.getLogger(__name__)


def sweep(
    db: Database,
    config: Config,
    procedures: ProcedureSource | None,
    now: datetime,
    dry_run: bool = False,
) -> SweepReport:
    """One pass: digests to every chat with due tickets, escalations, the daily plans, the
    weekly retro digests, all owed through the outbox (the sender delivers them). A dry run
    changes nothing."""
    report = SweepReport(now=now, dry_run=dry_run)
    cadence_for = _cadences(procedures)
    # "chase" is the whole transaction: claim, owe, and the commit.
    with phase(report, "chase"), queries.unit(db, dry_run) as session:
        with phase(report, "claim"):
            composed, owed = claim_due(session, config, cadence_for, now, dry_run, report)
        with phase(report, "owe"):
            owed += digests.owe(session, composed, now, dry_run, report)
            escalate(session, config, now, dry_run, owed, report)
    with phase(report, "approvals"):
        chase_approvals(db, config, procedures, cadence_for, now, dry_run, report)
    with phase(report, "daily"):
        owe_daily_plans(db, config, now, dry_run, report)
    with phase(report, "retro"):
        owe_retro_digests(db, config, procedures, now, dry_run, report)
    return report


def _cadences(procedures: ProcedureSource | None) -> Callable[[str], rules.Cadence]:
    """The procedure's reminder cadence, read once per sweep; defaults when it cannot be read."""
    known: dict[str, rules.Cadence] = {}

    def cadence_for(procedure_id: str) -> rules.Cadence:
        if procedure_id not in known:
            cadence = rules.Cadence()
            if procedures is not None:
                try:
                    sla = procedures.load(procedure_id).sla
                    cadence = rules.Cadence.of(sla.remind_every, sla.escalate_after)
                except (ProcedureError, OSError) as e:
                    log.warning(
                        "procedure %s unreadable, chasing with defaults: %s", procedure_id, e
                    )
            known[procedure_id] = cadence
        return known[procedure_id]

    return cadence_for
