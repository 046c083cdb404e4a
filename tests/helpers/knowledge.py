"""Knowledge articles for database tests: procedures, a resolve like the engine's, a small base."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.db.models import StepDone, Ticket
from bot.domain.actors import Actor
from bot.domain.procedure import (
    FieldSpec,
    KnowledgeSettings,
    Procedure,
    Resolution,
    Step,
)
from bot.services import knowledge
from bot.services.context import Ctx
from bot.services.messages import Incoming

ALICE = Actor(1, "Alice", "alice")
BOB = Actor(2, "Bob", "bob")

PRINTER = Procedure(
    id="printer",
    title="Printer trouble",
    version="1" * 64,
    fields=(FieldSpec("floor", "Which floor?"), FieldSpec("model", "Which model?")),
    steps=(Step("check_tray", "Check the paper tray"), Step("call_vendor", "Call the vendor")),
    resolution=Resolution(fields=(FieldSpec("solution", "What fixed it?"),)),
    knowledge=KnowledgeSettings(tags=("hardware",)),
)
NETWORK = Procedure(
    id="network",
    title="Network access",
    version="2" * 64,
    fields=(FieldSpec("device", "Which device?"),),
    resolution=Resolution(fields=(FieldSpec("solution", "What fixed it?"),)),
)


def make_ctx(session, kdir: Path, now, actor: Actor = BOB) -> Ctx:
    config = Config(
        knowledge_dir=kdir,
        procedures_dir=kdir.parent / "procedures",
        attachments_dir=kdir.parent / "attachments",
    )
    incoming = Incoming(user=actor, chat_id=actor.user_id, chat_type="private", now=now)
    return Ctx(
        session=session, incoming=incoming, config=config, procedures=None, knowledge_dir=kdir
    )


def resolve(
    db,
    kdir,
    now,
    ticket_id,
    title,
    values,
    solution,
    *,
    procedure=PRINTER,
    description="",
    steps=(),
    actor=BOB,
) -> str:
    """Create (or reuse) a ticket and resolve it: what the engine does on /resolve."""
    with db.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            ticket = Ticket(
                id=ticket_id,
                procedure_id=procedure.id,
                procedure_version=procedure.version,
                title=title,
                description=description,
                status="resolved",
                reporter_id=1,
                reporter_name="Alice",
                chat_id=1,
                chat_type="private",
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
        ticket.title = title
        ticket.resolved_at = now
        session.flush()  # the ticket row first: steps refer to it
        done = [
            StepDone(ticket_id=ticket_id, step_id=s, done_by_id=2, done_by_name="Bob", done_at=now)
            for s in steps
        ]
        session.add_all(done)
        session.flush()
        return knowledge.write_article(
            make_ctx(session, kdir, now, actor),
            ticket=ticket,
            procedure=procedure,
            values=values,
            resolution={"solution": solution},
            steps=done,
        )


def search(db, query, **kw):
    with db.reading() as session:
        return knowledge.search(session, query, **kw)


def suggest(db, text):
    with db.reading() as session:
        return knowledge.suggest(session, text)


def reindex(db, kdir, now):
    with db.transaction() as session:
        return knowledge.reindex(session, kdir, now)


def printer_jam(db, kdir, now, ticket_id=1):
    return resolve(
        db,
        kdir,
        now,
        ticket_id,
        "Printer on floor 3 jams",
        {"floor": "3", "model": "LaserJet 4000"},
        "Replaced the worn pickup roller.",
        description="Every print job stops with a paper jam.",
        steps=("check_tray",),
    )


def small_base(db, kdir, now):
    printer_jam(db, kdir, now)
    resolve(
        db,
        kdir,
        now,
        2,
        "VPN disconnects every hour",
        {"device": "laptop"},
        "Renewed the expired client certificate.",
        procedure=NETWORK,
    )
    resolve(
        db,
        kdir,
        now,
        3,
        "Cannot log in after password change",
        {"device": "desktop"},
        "Cleared the cached credentials in the keychain.",
        procedure=NETWORK,
    )
    resolve(
        db,
        kdir,
        now,
        4,
        "Toner warning on the colour printer",
        {"floor": "2"},
        "Ordered a new cyan toner cartridge.",
    )
