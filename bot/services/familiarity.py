""" "Changed since you last ran this": each procedure version's text is kept the first time it
is used, and the version each person last worked a ticket under; when they work under another
one, they are shown once, in a few lines, what changed (by labels and titles).

The old version is parsed again from its stored text (memoised by nothing: it happens once per
person and change), and compared with the one just read (`bot.domain.changes`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import LastVersion, ProcedureVersion
from bot.domain import changes
from bot.domain.procedure import Procedure
from bot.procedures.errors import ProcedureError
from bot.procedures.load import parse_procedure
from bot.services.context import Ctx

# Versions seen stored in the database. A stored version is never deleted, so remembering it in
# the process cannot be made wrong by a rollback (only versions read back as committed go in).
# Keyed by the database, since a process (tests, tools) may open several.
_STORED: set[tuple[str, str]] = set()


def keep_version(session: Session, procedure: Procedure, now: datetime) -> None:
    """Store the text of `procedure`'s version unless it is stored already (concurrent first
    uses insert it once)."""
    known = (str(session.get_bind().engine.url), procedure.version)
    if not procedure.source or known in _STORED:
        return
    if session.get(ProcedureVersion, procedure.version) is not None:
        _STORED.add(known)
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(ProcedureVersion)
        .values(
            version=procedure.version,
            procedure_id=procedure.id,
            source=procedure.source,
            first_used_at=now,
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )


def worked(ctx: Ctx, procedure: Procedure) -> None:
    """The person is working a ticket under `procedure` now: remember it, and when they last
    worked under another version, say what changed since (once)."""
    keep_version(ctx.session, procedure, ctx.now)
    user_id = ctx.actor.user_id
    if not user_id or user_id < 0:  # programs read the procedure, not a note
        return
    row = ctx.session.scalars(
        select(LastVersion)
        .where(LastVersion.user_id == user_id, LastVersion.procedure_id == procedure.id)
        .with_for_update()
    ).first()
    if row is None:
        dialect = postgresql if ctx.session.get_bind().dialect.name == "postgresql" else sqlite
        ctx.session.execute(
            dialect.insert(LastVersion)
            .values(
                user_id=user_id,
                procedure_id=procedure.id,
                version=procedure.version,
                worked_at=ctx.now,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "procedure_id"])
        )
        return
    if row.version == procedure.version:
        return  # nothing changed: no write on every message (worked_at says when it changed)
    before = _version(ctx.session, procedure, row.version)
    row.version, row.worked_at = procedure.version, ctx.now
    if before is None:
        return
    found = changes.between(before, procedure)
    if found.empty:
        return
    ctx.audit(
        "procedure.changes_shown",
        details={"from": before.version, "to": procedure.version, **found.as_dict()},
        procedure=procedure,
    )
    ctx.say("chat/procedure_changed.html", procedure=procedure, changes=found)


def _version(session: Session, procedure: Procedure, version: str) -> Procedure | None:
    """An earlier version of `procedure`, from its stored text; None when it was never stored
    or no longer parses (the format moved on)."""
    stored = session.get(ProcedureVersion, version)
    if stored is None:
        return None
    try:
        return parse_procedure(
            stored.source.encode(),
            procedure_id=procedure.id,
            path=procedure.path,
            version=stored.version,
        )
    except ProcedureError:
        return None
