"""`sopbot procedures list|check|show|schema`: the team's procedures seen from the shell."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import Exit, load, services, subcommand
from bot.domain.durations import format_duration
from bot.domain.procedure import Condition, FieldSpec, Procedure
from bot.procedures import ProcedureError, ProcedureStore
from bot.procedures.check import check_files, files_in
from bot.procedures.schema import schema_text
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
        print(f"no procedures in {store.label}")
        return 0
    width = max(len(s.id) for s in summaries)
    for s in summaries:
        state = "valid" if s.valid else f"INVALID ({_count(len(s.problems), 'problem')})"
        version = s.version[:8] or "-" * 8
        print(f"{s.id:<{width}}  {version}  {state:<7}  {s.title}".rstrip())
    invalid = sum(not s.valid for s in summaries)
    if invalid:
        print(f"{_count(invalid, 'invalid procedure')}; see: sopbot procedures check")
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
            raise Exit(1, f"the procedures folder {store.directory} does not exist")
        files = files_in(store.directory, store.label)
    report = check_files(files)
    for problem in report.problems:
        print(problem)
    if report.ok:
        print(f"checked {_count(report.checked, 'procedure')}: all valid")
        return 0
    print(
        f"checked {_count(report.checked, 'procedure')}: {len(report.invalid)} invalid, "
        f"{_count(len(report.problems), 'problem')}"
    )
    return 1


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
    """A procedure as a reporter and the team meet it, in plain text."""
    lines = [f"{p.id}: {p.title} (version {p.short_version})"]
    if p.description:
        lines.append(p.description)
    starts = []
    if p.triggers.command:
        starts.append(f"/new {p.triggers.command}")
    if p.triggers.keywords:
        starts.append("a first message mentioning " + ", ".join(p.triggers.keywords))
    if starts:
        lines.append("Starts with: " + ", or ".join(starts))
    lines += ["", "Questions, in the order they are asked:"]
    lines += _questions(p, p.fields) or ["  (none: the ticket opens at once)"]
    if p.steps:
        lines += ["", "Steps:"]
        for n, step in enumerate(p.steps, 1):
            notes = []
            if step.role == "lead":
                notes.append("leads only")
            if step.optional:
                notes.append("optional")
            if step.requires:
                notes.append("needs " + ", ".join(step.requires))
            if step.when is not None:
                notes.append("only when " + _condition(p, step.when))
            suffix = f" ({'; '.join(notes)})" if notes else ""
            lines.append(f"  {n}. {step.id}: {step.title}{suffix}")
            lines += [f"     {line}" for line in step.instructions.splitlines()]
    sla = _sla(p)
    if sla:
        lines += ["", "SLA: " + sla]
    if p.resolution.fields:
        lines += ["", "When resolving, the bot asks:"]
        lines += _questions(p, p.resolution.fields)
    return lines


def _questions(p: Procedure, fields: tuple[FieldSpec, ...]) -> list[str]:
    lines = []
    for n, spec in enumerate(fields, 1):
        lines.append(f"  {n}. {spec.name}: {spec.question}")
        if spec.required_when is not None:
            need = "asked only when " + _condition(p, spec.required_when)
        else:
            need = "required" if spec.required else "optional"
        rules = [f"{spec.type}, {need}", "answer: " + expected_form(spec)]
        rules += _limits(spec)
        lines.append("     " + "; ".join(rules))
        if spec.help:
            first, *rest = spec.help.splitlines()
            lines.append(f"     help: {first}")
            lines += [f"           {line}" for line in rest]
        if spec.example:
            lines.append(f"     example: {spec.example}")
    return lines


def _limits(spec: FieldSpec) -> list[str]:
    out = []
    if spec.min is not None:
        out.append(f"at least {display(spec, spec.min)}")
    if spec.max is not None:
        out.append(f"at most {display(spec, spec.max)}")
    if spec.min_length is not None:
        out.append(f"at least {spec.min_length} characters")
    if spec.max_length is not None:
        out.append(f"at most {spec.max_length} characters")
    if spec.pattern:
        out.append(f"must match {spec.pattern}")
    return out


def _condition(p: Procedure, c: Condition) -> str:
    spec = p.field(c.field)
    if c.present is not None:
        return f"{c.field} is {'answered' if c.present else 'not answered'}"
    if c.in_ is not None:
        return f"{c.field} is " + " or ".join(display(spec, v) for v in c.in_)
    return f"{c.field} is {display(spec, c.equals)}"


def _sla(p: Procedure) -> str:
    sla = p.sla
    parts = []
    if sla.due is not None:
        parts.append(f"due within {format_duration(sla.due)}")
    for rule in sla.rules:
        parts.append(f"{format_duration(rule.due)} when {_condition(p, rule.when)}")
    if sla.remind_every is not None:
        parts.append(f"reminders every {format_duration(sla.remind_every)}")
    if sla.escalate_after is not None:
        parts.append(f"leads told after {_count(sla.escalate_after, 'reminder')}")
    return "; ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
