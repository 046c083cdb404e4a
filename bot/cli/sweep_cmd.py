"""`sopbot sweep [--now ISO-8601] [--dry-run]`: one overdue sweep, for cron and for tests."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.app import Services
from bot.cli.common import Exit, load, say, services, subcommand, words
from bot.config import ENV_TOKEN, Config
from bot.render import html_to_text, shorten
from bot.services.sweep import SweepReport, sweep


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
        if args.dry_run:
            report = sweep(built.db, config, built.procedures, _NoSender(), now, dry_run=True)
        else:
            report = asyncio.run(_sweep_through_telegram(built, now))
    print_report(report, {c.id: c.name for c in config.chats})
    return 1 if report.failed else 0


async def _sweep_through_telegram(built: Services, now: datetime) -> SweepReport:
    """Through the bot `sopbot run` uses: the same token, base_url, HTML and rate limits."""
    from bot.telegram.application import build_application
    from bot.telegram.sweep_job import BotSender

    bot = build_application(built).bot
    async with bot:
        sender = BotSender(bot, asyncio.get_running_loop())
        return await asyncio.to_thread(sweep, built.db, built.config, built.procedures, sender, now)


class _NoSender:
    """A dry run never sends; this is here only to satisfy the sweep's signature."""

    def send(self, reply) -> int:
        raise AssertionError("a dry run does not send")


def print_report(report: SweepReport, chat_names: dict[int, str] | None = None) -> None:
    """The sweep's report. A dry run shows each message whole, and to which chat by its name:
    it is read to decide whether the real run would say the right thing."""
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
        say("sweep", "sent", sent=s, dry_run=report.dry_run, tickets=tickets, opening=opening)
    for f in report.failed:
        say("sweep", "failed", failed=f, file=sys.stderr)
    say("sweep", "totals", report=report)
