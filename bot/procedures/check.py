"""`sopbot procedures check`: every problem of a set of files, including those between files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.procedure import Procedure
from bot.procedures.errors import Problem, ProcedureError
from bot.procedures.load import is_procedure_id, load_file

TEMPLATES = "templates"


@dataclass
class Report:
    """What a check found: how many files, which were invalid, and every problem."""

    checked: int = 0
    invalid: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def files_in(directory: Path, label: str) -> list[tuple[Path, str]]:
    """The YAML files of a folder with their labels (`.yml` too, to say they are ignored)."""
    found = sorted(p for p in directory.iterdir() if p.name.endswith((".yaml", ".yml")))
    return [(p, f"{label}/{p.name}" if label else p.name) for p in found]


def check_files(files: list[tuple[Path, str]]) -> Report:
    """Validate each (path, label) and then what only shows across files."""
    report = Report()
    for path, label in files:
        report.checked += 1
        try:
            procedure = load_file(path, label)
        except ProcedureError as e:
            report.invalid.add(label)
            report.problems.extend(e.problems)
            continue
        report.procedures.append(procedure)
        report.problems.extend(_missing_template(procedure, path))
    report.problems.extend(_shared_commands(report.procedures))
    report.invalid.update(p.path for p in report.problems)
    return report


def _missing_template(procedure: Procedure, path: Path) -> list[Problem]:
    name = procedure.knowledge.template
    if name is None or (path.parent / TEMPLATES / name).is_file():
        return []
    return [
        Problem(
            procedure.path,
            0,
            0,
            "knowledge.template",
            f"no template file {TEMPLATES}/{name} beside this procedure",
        )
    ]


def _shared_commands(procedures: list[Procedure]) -> list[Problem]:
    """Two procedures with one `/new` command: only the first (by id) could ever be picked."""
    first: dict[str, Procedure] = {}
    problems = []
    for p in sorted(procedures, key=lambda p: p.id):
        command = p.triggers.command
        if not command or not is_procedure_id(p.id):
            continue
        if command in first:
            problems.append(
                Problem(
                    p.path,
                    0,
                    0,
                    "triggers.command",
                    f"'{command}' is also the command of "
                    f"{first[command].id}, so '/new {command}' never picks this one",
                )
            )
        else:
            first[command] = p
    return problems
