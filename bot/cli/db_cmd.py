"""`sopbot db upgrade|current`: schema migrations from sopbot's own config."""

from __future__ import annotations

from bot.cli.common import load, say, services, subcommand
from bot.config import mask_url
from bot.services import schema


def register(sub, common) -> None:
    db = subcommand(sub, common, "db", "database schema")
    inner = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = subcommand(inner, common, "upgrade", "migrate the database to the newest schema")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    up.set_defaults(func=upgrade)
    cur = subcommand(inner, common, "current", "print the schema revision of the database")
    cur.set_defaults(func=current)


def upgrade(args) -> int:
    """Migrate whatever `database.auto_migrate` says: that is what this command is for."""
    cfg = load(args)
    with services(cfg, migrate=True, revision=args.revision) as built:
        built.db  # noqa: B018 - opening it migrates it
        say("db", "at_revision", url=mask_url(cfg.database.url), revision=built.revision)
    return 0


def current(args) -> int:
    with services(load(args), migrate=False) as built:
        say("db", "current", revision=schema.current_revision(built.db))
    return 0
