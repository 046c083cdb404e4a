"""`sopbot kb search|reindex|list`: the knowledge base from the command line."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime

from bot.app import Services
from bot.cli.common import Exit, load, services, subcommand, words
from bot.config import Config
from bot.render import render
from bot.services import knowledge


def register(sub, common) -> None:
    kb = subcommand(sub, common, "kb", "the knowledge base: search, reindex, list")
    inner = kb.add_subparsers(dest="kb_command", metavar="COMMAND", required=True)
    find = subcommand(inner, common, "search", "articles matching some words, best first")
    find.add_argument("words", nargs="+", metavar="WORDS")
    find.add_argument("--limit", type=int, default=10, help="most matches to show (default 10)")
    find.set_defaults(func=search)
    again = subcommand(inner, common, "reindex", "pick up articles added, edited or removed")
    again.set_defaults(func=reindex)
    show = subcommand(inner, common, "list", "every article, by procedure")
    show.set_defaults(func=list_articles)


def _services(cfg: Config) -> AbstractContextManager[Services]:
    if not cfg.database.url:
        raise Exit(2, words("kb", "no_database"))
    return services(cfg)


def search(args) -> int:
    """Refresh from the files if they changed, then search."""
    cfg = load(args)
    query = " ".join(args.words)
    with _services(cfg) as built:
        built.refresh_knowledge(datetime.now(UTC))
        with built.db.reading() as session:
            matches = knowledge.search(session, query, limit=args.limit)
    print(render("kb/search.txt", query=query, matches=matches))
    return 0 if matches else 1


def reindex(args) -> int:
    cfg = load(args)
    with _services(cfg) as built:
        report = built.db.run(
            lambda s: knowledge.reindex(s, cfg.knowledge_dir, datetime.now(UTC), cfg.language)
        )
    print(render("kb/reindex.txt", report=report, folder=cfg.knowledge_dir))
    return 0


def list_articles(args) -> int:
    cfg = load(args)
    groups: dict[str, list[tuple[str, str, int | None]]] = {}
    with _services(cfg) as built, built.db.reading() as session:
        for a in knowledge.list_articles(session):
            groups.setdefault(a.procedure_id or "", []).append((a.path, a.title, a.ticket_id))
    ordered = sorted(groups.items(), key=lambda g: (g[0] == "", g[0]))
    print(render("kb/list.txt", groups=[(name or "other", rows) for name, rows in ordered]))
    return 0
