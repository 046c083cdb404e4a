"""`sopbot stats`: the process metrics (docs/metrics.md) as text or JSON, and the weekly chart."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.chart import weekly_chart
from bot.cli.audit_cmd import parse_date
from bot.cli.common import Exit, load, say, services, subcommand, words
from bot.render import render
from bot.services import comparison, stats
from bot.services.review import DEFAULT_STATS_DAYS, compare_context, report_context
from bot.version_chart import versions_chart


def register(sub, common) -> None:
    cmd = subcommand(sub, common, "stats", "process metrics: speed, rework, overdue, questions")
    cmd.add_argument(
        "--since",
        type=parse_date,
        metavar="DATE",
        help=f"first day, YYYY-MM-DD (default: {DEFAULT_STATS_DAYS} days before --until)",
    )
    cmd.add_argument(
        "--until", type=parse_date, metavar="DATE", help="last day, inclusive (default: today)"
    )
    cmd.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    cmd.add_argument(
        "--compare-previous",
        action="store_true",
        help="also show the same-length period just before, with the changes",
    )
    cmd.add_argument(
        "--compare-versions",
        metavar="PROCEDURE",
        help="compare the versions of one procedure (every ticket it opened, not a period); "
        "--chart then draws the versions",
    )
    cmd.add_argument("--chart", metavar="FILE", help="write the weekly chart (PNG) here")
    cmd.set_defaults(func=stats_cmd)


def stats_cmd(args) -> int:
    if args.compare_versions:
        return compare_cmd(args)
    cfg = load(args)
    tz = cfg.tz
    now = datetime.now(UTC)
    until_day = args.until or now.astimezone(tz).date()
    since_day = args.since or until_day - timedelta(days=DEFAULT_STATS_DAYS - 1)
    if until_day < since_day:
        raise Exit(2, words("common", "until_before_since"))
    since, until = stats.between_days(since_day, until_day, tz)
    with services(cfg) as built, built.db.reading() as session:
        if args.compare_previous:
            report = stats.compare_previous(session, since, until, now=now)
        else:
            report = stats.compute(session, since, until, now=now)
        if args.chart:
            png = weekly_chart(stats.weekly(session, since_day, until_day, tz))
            Path(args.chart).write_bytes(png)
    if args.fmt == "json":
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(render("stats/report.txt", report=report, **report_context(report, tz)))
    if args.chart:
        say("stats", "chart_written", path=args.chart, file=sys.stderr)
    return 0


def compare_cmd(args) -> int:
    """`sopbot stats --compare-versions PROCEDURE`: each version's figures and the last change."""
    cfg = load(args)
    with services(cfg) as built, built.db.reading() as session:
        found = comparison.versions(session, args.compare_versions)
    if args.chart:
        Path(args.chart).write_bytes(versions_chart(found.procedure, found.versions))
    if args.fmt == "json":
        json.dump(found.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(render("stats/compare.txt", c=found, **compare_context()))
    if args.chart:
        say("stats", "chart_written", path=args.chart, file=sys.stderr)
    return 0
