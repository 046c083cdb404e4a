"""`sopbot db upgrade|current`: schema migrations from sopbot's own config."""

from __future__ import annotations

from bot.cli.common import load, subcommand
from bot.config import mask_url
from bot.db import migrate
from bot.db.engine import make_engine


def register(sub, common) -> None:
    db = subcommand(sub, common, "db", "database schema")
    inner = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = subcommand(inner, common, "upgrade", "migrate the database to the newest schema")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    up.set_defaults(func=upgrade)
    cur = subcommand(inner, common, "current", "print the schema revision of the database")
    cur.set_defaults(func=current)


def upgrade(args) -> int:
    cfg = load(args)
    engine = make_engine(cfg.database.url)
    try:
        migrate.upgrade(engine, args.revision)
        print(
            f"database at {mask_url(cfg.database.url)} is at revision "
            f"{migrate.current_revision(engine)}"
        )
    finally:
        engine.dispose()
    return 0


def current(args) -> int:
    cfg = load(args)
    engine = make_engine(cfg.database.url)
    try:
        print(migrate.current_revision(engine) or "(empty: run `sopbot db upgrade`)")
    finally:
        engine.dispose()
    return 0
