"""`sopbot audit show|export|verify`: the audit trail on the command line."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TextIO

from bot.cli.common import Exit, load, say, services, subcommand, words
from bot.domain.audit_chain import GENESIS
from bot.render import render
from bot.services import export, file_check, review, verify


def register(sub, common) -> None:
    audit = subcommand(sub, common, "audit", "the audit trail: show, export, verify")
    inner = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    show = subcommand(inner, common, "show", "print a ticket's timeline")
    show.add_argument("--ticket", type=int, required=True, metavar="N", help="ticket number")
    show.set_defaults(func=show_cmd)

    out = subcommand(inner, common, "export", "write events as CSV or JSON Lines, streamed")
    out.add_argument("--format", choices=export.FORMATS, default="jsonl", dest="fmt")
    out.add_argument("--ticket", type=int, metavar="N", help="only this ticket's events")
    out.add_argument("--since", type=parse_date, metavar="DATE", help="from this day (YYYY-MM-DD)")
    out.add_argument("--until", type=parse_date, metavar="DATE", help="to this day, inclusive")
    out.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    out.set_defaults(func=export_cmd)

    check = subcommand(inner, common, "verify", "recompute the hash chain; exit 1 if tampered")
    check.add_argument(
        "--file",
        metavar="FILE",
        help="verify a complete export (.csv or .jsonl) instead of the database",
    )
    check.add_argument(
        "--files",
        action="store_true",
        help="also check that every attached file's stored bytes still match their sha256",
    )
    check.set_defaults(func=verify_cmd)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(words("audit", "bad_date", given=text)) from None


def show_cmd(args) -> int:
    cfg = load(args)
    tz = cfg.tz
    scope = review.ticket_scope(args.ticket)
    shown = 0
    with services(cfg) as built, built.db.reading() as session:
        batch: list[review.Line] = []
        for line in review.iter_timeline(session, scope, tz, procedures=built.procedures):
            if not shown and not batch:
                header = dict(scope_kind="t", key=args.ticket, person=None, timezone=tz.key)
                print(render("audit/show_header.txt", **header))
            batch.append(line)
            if len(batch) == 200:  # print as it streams, for tickets with a long history
                print(render("audit/show.txt", lines=batch))
                shown, batch = shown + len(batch), []
        if batch:
            print(render("audit/show.txt", lines=batch))
            shown += len(batch)
    if not shown:
        raise Exit(1, words("audit", "no_events", number=args.ticket))
    return 0


def export_cmd(args) -> int:
    cfg = load(args)
    if args.since and args.until and args.until < args.since:
        raise Exit(2, words("common", "until_before_since"))
    flt = export.Filter(ticket_id=args.ticket, since=args.since, until=args.until)
    with services(cfg) as built, built.db.reading() as session:
        if args.output:
            path = Path(args.output)
            with path.open("w", encoding="utf-8", newline="") as out:
                count = export.export(session, out, args.fmt, flt, cfg.tz)
        else:
            count = export.export(session, sys.stdout, args.fmt, flt, cfg.tz)
            sys.stdout.flush()
    say("audit", "exported", count=count, file=sys.stderr)
    return 0


class ProgressBar:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, width: int = 30):
        self.stream, self.width, self._last = stream, width, 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and done != total:
            return
        self._last = now
        bar = None
        if total:
            filled = min(self.width, self.width * done // total)
            bar = "#" * filled + "-" * (self.width - filled)
        # "\r" goes back to the start of the line, so each drawing replaces the one before.
        self.stream.write("\r" + words("audit", "verifying", bar=bar, done=done, total=total))
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def verify_cmd(args) -> int:
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    files: file_check.FileCheck | None = None
    try:
        if args.file:
            result = _verify_file(Path(args.file), bar)
        else:
            cfg = load(args)
            with services(cfg) as built, built.db.reading() as session:
                result = verify.verify_chain(session, progress=bar)
                if args.files:
                    files = file_check.check_files(session, built.files)
    finally:
        if bar is not None:
            bar.close()
    if result.ok:
        head = result.head if result.head != GENESIS else None
        say("audit", "intact", checked=result.checked, head=head)
    else:
        say("audit", "failed", event=result.bad_id, kind=result.kind, reason=result.reason)
        say("audit", "intact_before", checked=result.checked, file=sys.stderr)
    if files is not None:
        for problem in files.problems or []:
            say("audit", "file_problem", problem=problem, file=sys.stderr)
        say("audit", "files", check=files)
    return 0 if result.ok and (files is None or files.ok) else 1


def _verify_file(path: Path, bar) -> verify.VerifyResult:
    fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            records = export.read(stream, fmt)
            return verify.check_rows(verify.rows_from_records(records), progress=bar)
    except (OSError, ValueError, KeyError) as e:
        raise Exit(2, words("audit", "unreadable_export", path=str(path), error=str(e))) from None
