"""`sopbot procedures list|check|show|schema`: the team's procedures seen from the shell."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import Exit, load, say, services, subcommand, words
from bot.domain.durations import format_duration
from bot.domain.procedure import Procedure
from bot.procedures import ProcedureError, ProcedureStore
from bot.procedures.check import check_files, files_in
from bot.procedures.schema import schema_text
from bot.render import render
from bot.words import display, expected_form


def register(sub, common) -> None:
    group = subcommand(sub, common, "procedures", "list, check and show the procedures")
    inner = group.add_subparsers(dest="procedures_command", metavar="COMMAND", required=True)
    listing = subcommand(inner, common, "list", "every procedure with its version and validity")
    listing.set_defaults(func=list_procedures)
    check = subcommand(inner, common, "check", "validate procedure files; exit 1 on any problem")
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="procedure files or folders (default: the configured procedures folder)",
    )
    check.set_defaults(func=check_procedures)
    show = subcommand(inner, common, "show", "the questions a reporter is asked, steps and SLA")
    show.add_argument("id", metavar="ID", help="the procedure id (its file name without .yaml)")
    show.set_defaults(func=show_procedure)
    schema = subcommand(inner, common, "schema", "print the JSON Schema of procedure files")
    schema.set_defaults(func=print_schema)


def _store(args: argparse.Namespace) -> ProcedureStore:
    with services(load(args)) as built:
        return built.procedures


def list_procedures(args: argparse.Namespace) -> int:
    store = _store(args)
    summaries = store.summaries()
    if not summaries:
        say("procedures", "none", folder=store.label)
        return 0
    width = max(len(s.id) for s in summaries)
    for s in summaries:
        say("procedures", "row", s=s, width=width)
    invalid = sum(not s.valid for s in summaries)
    if invalid:
        say("procedures", "invalid", invalid=invalid)
    return 0


def check_procedures(args: argparse.Namespace) -> int:
    files: list[tuple[Path, str]] = []
    if args.paths:
        for raw in args.paths:
            path = Path(raw)
            files.extend(files_in(path, raw.rstrip("/")) if path.is_dir() else [(path, raw)])
    else:
        store = _store(args)
        if not store.directory.is_dir():
            raise Exit(1, words("procedures", "no_folder", folder=store.directory))
        files = files_in(store.directory, store.label)
    report = check_files(files)
    for problem in report.problems:
        print(problem)
    say(
        "procedures",
        "checked",
        ok=report.ok,
        checked=report.checked,
        invalid=len(report.invalid),
        problems=len(report.problems),
    )
    return 0 if report.ok else 1


def show_procedure(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        procedure = store.load(args.id)
    except ProcedureError as e:
        for problem in e.problems:
            print(problem)
        return 1
    print("\n".join(outline(procedure)))
    return 0


def print_schema(args: argparse.Namespace) -> int:
    print(schema_text(), end="")
    return 0


def outline(p: Procedure) -> list[str]:
    """A procedure as a reporter and the team meet it, in plain text, line by line."""
    text = render(
        "cli/procedures_show.txt",
        p=p,
        display=display,
        expected_form=expected_form,
        compact=format_duration,
    )
    return text.split("\n")
