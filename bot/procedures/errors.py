"""What can go wrong with a procedure file, each problem with its file, line and column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a procedure file, where it is, and what to do about it.

    `line` and `column` count from 1; 0 means the problem is about the whole file.
    """

    path: str
    line: int
    column: int
    key: str  # where in the procedure, like `fields[2].type`; "" for the file itself
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ProcedureError(Exception):
    """A procedure that cannot be used; `problems` says why, one entry per problem."""

    def __init__(
        self,
        procedure_id: str,
        problems: Iterable[Problem],
        *,
        version: str | None = None,
        title: str | None = None,
    ):
        self.procedure_id = procedure_id
        self.problems: list[Problem] = list(problems)
        self.version = version  # sha256 of the bytes read, when there were any
        self.title = title  # the title as written, when it could be read at all
        super().__init__("\n".join(str(p) for p in self.problems) or procedure_id)


class ProcedureNotFound(ProcedureError):
    """No procedure file for that id, or the id is not a procedure id at all."""


class ProcedureInvalid(ProcedureError):
    """The file exists but cannot be used as it is: not YAML, or not a valid procedure."""
