"""`sopbot sweep [--now ISO-8601] [--dry-run]`: one overdue sweep, for cron and for tests."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.app import Services
from bot.cli.common import Exit, load, say, services, subcommand, words
from bot.config import ENV_TOKEN, Config
from bot.render import html_to_text, shorten
from bot.services.outbox import Fate
from bot.services.sweep import SweepReport, sweep

DELIVERY_TIMEOUT = 60.0  # seconds `sopbot sweep` waits for Telegram before leaving the rest owed


def register(sub, common) -> None:
    cmd = subcommand(sub, common, "sweep", "chase overdue tickets once (digests, escalations)")
    cmd.add_argument(
        "--now",
        metavar="ISO-8601",
        help="the time to sweep at (default: the clock); without an offset, the team's timezone",
    )
    cmd.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send and change nothing"
    )
    cmd.set_defaults(func=run)


def parse_now(text: str | None, config: Config) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Exit(2, words("sweep", "bad_now", given=text)) from None
    return when.replace(tzinfo=config.tz) if when.tzinfo is None else when


def run(args) -> int:
    from bot.cli.run_cmd import configure_logging, open_database

    config = load(args)
    now = parse_now(args.now, config)
    if not args.dry_run and not config.telegram.token:
        raise Exit(2, words("sweep", "no_token", env=ENV_TOKEN))
    configure_logging(config)
    with services(config) as built:
        open_database(built)
        report = sweep(built.db, config, built.procedures, now, dry_run=args.dry_run)
        fates: dict[int, Fate] = {}
        if not args.dry_run:
            asyncio.run(_deliver(built))
            fates = built.outbox.fates([s.outbox_id for s in report.sent if s.outbox_id])
    print_report(report, fates, {c.id: c.name for c in config.chats})
    return 0 if all(f.state == "sent" for f in fates.values()) else 1


async def _deliver(built: Services) -> None:
    """Send what this sweep owed (and anything else owed) through the bot `sopbot run` uses:
    the same token, base_url, HTML and rate limits. What Telegram makes wait stays owed."""
    from bot.telegram.application import build_application
    from bot.telegram.sender import OutboxSender

    bot = build_application(built).bot
    async with bot:
        await OutboxSender(bot, built.outbox).drain(DELIVERY_TIMEOUT)


def print_report(
    report: SweepReport,
    fates: dict[int, Fate] | None = None,
    chat_names: dict[int, str] | None = None,
) -> None:
    """The sweep's report. A dry run shows each message whole, and to which chat by its name:
    it is read to decide whether the real run would say the right thing. A real run says what
    became of each message (`fates`, by outbox id)."""
    fates = fates or {}
    say("sweep", "header", at=report.now.isoformat(), dry_run=report.dry_run)
    if report.dry_run:
        for s in report.sent:
            name = (chat_names or {}).get(s.chat_id)
            text = html_to_text(s.text)
            say("sweep", "would_send", sent=s, chat=name, text=text)
        say("sweep", "totals", report=report)
        return
    for s in report.sent:
        # A daily plan is about the whole team, so its opening words say what it was.
        tickets = s.ticket_ids if s.kind != "daily" else ()
        opening = shorten(html_to_text(s.text), 80)
        fate = fates.get(s.outbox_id) if s.outbox_id else None
        file = sys.stderr if fate and fate.state != "sent" else None
        say(
            "sweep",
            "sent",
            sent=s,
            fate=fate,
            dry_run=report.dry_run,
            tickets=tickets,
            opening=opening,
            file=file,
        )
    say("sweep", "totals", report=report)
