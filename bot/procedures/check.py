"""`sopbot procedures check`: every problem of a set of files, including those between files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yaml import MappingNode, ScalarNode

from bot.domain.procedure import Procedure
from bot.procedures.errors import Problem, ProcedureError
from bot.procedures.load import is_procedure_id, load_file
from bot.procedures.parse import compose, decode

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
    paths: dict[str, Path] = {}
    for path, label in files:
        report.checked += 1
        try:
            procedure = load_file(path, label)
        except ProcedureError as e:
            report.invalid.add(label)
            report.problems.extend(e.problems)
            continue
        report.procedures.append(procedure)
        paths[procedure.path] = path
        report.problems.extend(_missing_template(procedure, path))
    report.problems.extend(_shared_commands(report.procedures, paths))
    report.invalid.update(p.path for p in report.problems)
    return report


def _missing_template(procedure: Procedure, path: Path) -> list[Problem]:
    name = procedure.knowledge.template
    if name is None or (path.parent / TEMPLATES / name).is_file():
        return []
    line, column = mark_of(path, "knowledge", "template")
    return [
        Problem(
            procedure.path,
            line,
            column,
            "knowledge.template",
            f"no template file {TEMPLATES}/{name} beside this procedure",
        )
    ]


def _shared_commands(procedures: list[Procedure], paths: dict[str, Path]) -> list[Problem]:
    """Two procedures with one `/new` command: only the first (by id) could ever be picked."""
    first: dict[str, Procedure] = {}
    problems = []
    for p in sorted(procedures, key=lambda p: p.id):
        command = p.triggers.command
        if not command or not is_procedure_id(p.id):
            continue
        if command in first:
            line, column = mark_of(paths[p.path], "triggers", "command")
            problems.append(
                Problem(
                    p.path,
                    line,
                    column,
                    "triggers.command",
                    f"'{command}' is also the command of "
                    f"{first[command].id}, so '/new {command}' never picks this one",
                )
            )
        else:
            first[command] = p
    return problems


def mark_of(path: Path, *keys: str) -> tuple[int, int]:
    """Line and column (from 1) of the value at `keys` in a file that already loaded; (0, 0)
    when it cannot be found, so the problem is said of the whole file."""
    try:
        node = compose(
            decode(path.read_bytes(), str(path), path.stem, ""), str(path), path.stem, ""
        )
    except (OSError, ProcedureError):
        return 0, 0
    for key in keys:
        if not isinstance(node, MappingNode):
            return 0, 0
        node = next(
            (v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None
        )
        if node is None:
            return 0, 0
    return node.start_mark.line + 1, node.start_mark.column + 1
