"""One procedure from one file: read the bytes safely, hash them, parse and validate them."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import replace
from pathlib import Path

from bot.domain.languages import ENGLISH
from bot.domain.procedure import Procedure
from bot.procedures.errors import Problem, ProcedureInvalid, ProcedureNotFound
from bot.procedures.parse import MAX_BYTES, compose, decode
from bot.procedures.validate import build
from bot.procedures.vocabulary import ID_RE, MAX_ID_LENGTH

# Non-blocking, so a FIFO named like a procedure cannot hang the bot; CLOEXEC for child processes.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def is_procedure_id(text: object) -> bool:
    """True for ids like `access-request`: lowercase letters, digits, - and _, at most 64."""
    return isinstance(text, str) and len(text) <= MAX_ID_LENGTH and bool(ID_RE.fullmatch(text))


def version_of(data: bytes) -> str:
    """A procedure's version: the sha256 hex digest of its file's bytes."""
    return hashlib.sha256(data).hexdigest()


def parse_procedure(
    data: bytes,
    *,
    procedure_id: str,
    path: str,
    version: str | None = None,
    language: str = ENGLISH,
) -> Procedure:
    """The procedure in a file's bytes, its texts in `language`; raises ProcedureInvalid with
    every problem found."""
    version = version or version_of(data)
    text = decode(data, path, procedure_id, version)
    root = compose(text, path, procedure_id, version)
    procedure = build(
        root, procedure_id=procedure_id, version=version, path=path, language=language
    )
    return replace(procedure, source=text)


def inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path | None:
    """The real path of `path` if it is inside the real `folder`, else None.

    A procedure file may be a symbolic link within its folder; one leading out of it could make
    the bot (or `procedures check`, which prints what it reads) read any file, like a token.
    """
    root = os.path.realpath(folder)
    real = os.path.realpath(path)
    return Path(real) if os.path.commonpath([root, real]) == root else None


class IsSymlink(Exception):
    """The file is a symbolic link, and the caller asked to be told before following it."""


def read_bytes(
    path: str | os.PathLike[str], procedure_id: str, label: str, follow: bool = True
) -> bytes:
    """A regular file's bytes, at most MAX_BYTES; `label` is how the file is named in errors.

    With `follow=False` a symbolic link is not opened: IsSymlink is raised instead.
    """
    if not follow and not _NOFOLLOW:
        raise IsSymlink  # cannot tell without following it here: let the caller resolve it
    try:
        fd = os.open(path, _OPEN_FLAGS if follow else _OPEN_FLAGS | _NOFOLLOW)
    except FileNotFoundError:
        problem = Problem(
            label, 0, 0, "", f"no procedure '{procedure_id}': the file does not exist"
        )
        raise ProcedureNotFound(procedure_id, [problem]) from None
    except OSError as e:
        if not follow and e.errno == errno.ELOOP:
            raise IsSymlink from None
        raise _unreadable(procedure_id, label, e.strerror or str(e)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _unreadable(procedure_id, label, "not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise _unreadable(procedure_id, label, e.strerror or str(e)) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def load_file(path: Path, label: str | None = None) -> Procedure:
    """Read and validate any procedure file (for `sopbot procedures check PATH`); id = file stem."""
    label = label or str(path)
    procedure_id = path.name.removesuffix(".yaml")
    real = inside(path.parent, path)
    if real is None:
        # Refused before anything is read, so nothing of the target can reach a report.
        message = "a link to a file outside its folder; the bot refuses it, so it was not read"
        problem = Problem(label, 0, 0, "", message)
        raise ProcedureInvalid(procedure_id, [problem])
    data = read_bytes(real, procedure_id, label)
    name_problem = None
    if not path.name.endswith(".yaml") or not is_procedure_id(procedure_id):
        name_problem = Problem(
            label,
            0,
            0,
            "",
            f"'{path.name}' is not a procedure file name; the bot only reads "
            "files named <id>.yaml, where the id has lowercase letters, digits, - and _",
        )
    try:
        procedure = parse_procedure(data, procedure_id=procedure_id, path=label)
    except ProcedureInvalid as e:
        if name_problem:
            e.problems.insert(0, name_problem)
        raise
    if name_problem:
        raise ProcedureInvalid(
            procedure_id, [name_problem], version=procedure.version, title=procedure.title
        )
    return procedure


def _unreadable(procedure_id: str, label: str, reason: str) -> ProcedureInvalid:
    return ProcedureInvalid(
        procedure_id, [Problem(label, 0, 0, "", f"cannot read the file: {reason}")]
    )
