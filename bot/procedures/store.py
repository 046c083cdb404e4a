"""The procedures folder: load one procedure by id, fresh from its file on every call.

Nothing here can serve an old version: each load reads the file's bytes again. Parsing is memoised
by the sha256 of those bytes, which is safe because the same bytes are the same procedure.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.languages import ENGLISH
from bot.domain.procedure import Procedure, Triggers
from bot.procedures.errors import Problem, ProcedureError, ProcedureInvalid, ProcedureNotFound
from bot.procedures.load import (
    IsSymlink,
    inside,
    is_procedure_id,
    parse_procedure,
    read_bytes,
    version_of,
)
from bot.procedures.vocabulary import MAX_ID_LENGTH

SUFFIX = ".yaml"
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Summary:
    """One line of `sopbot procedures list`: a procedure, or why it cannot be used."""

    id: str
    title: str
    version: str
    valid: bool
    problems: tuple[Problem, ...] = ()
    triggers: Triggers = field(default_factory=Triggers)


class ProcedureStore:
    """Procedures kept as `<id>.yaml` files in one folder, read again at every step."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        label: str | None = None,
        memo_size: int = 256,
        language: str = ENGLISH,
    ):
        self.directory = Path(directory)
        # The language of texts written per language, when a caller names none (the team's).
        self.language = language
        # How the folder is named in error messages: as configured, or relative to where we run.
        self.label = label if label is not None else _short(self.directory)
        self._memo: OrderedDict[tuple[str, str, str], Procedure | ProcedureInvalid] = OrderedDict()
        self._memo_size = memo_size
        self._lock = threading.Lock()

    def path_for(self, procedure_id: str) -> Path:
        """The file of a procedure id; ProcedureNotFound for anything that is not a plain id."""
        self._check_id(procedure_id)
        # The id cannot hold a separator, but the file could be a symlink pointing elsewhere.
        real = inside(self.directory, self.directory / (procedure_id + SUFFIX))
        if real is None:
            message = f"{procedure_id}{SUFFIX} points outside the procedures folder; refused"
            raise ProcedureNotFound(procedure_id, [Problem(self.label, 0, 0, "", message)])
        return real

    def _check_id(self, procedure_id: str) -> None:
        if not is_procedure_id(procedure_id):
            shown = repr(procedure_id)[: MAX_ID_LENGTH + 2]
            message = (
                f"{shown} is not a procedure id (lowercase letters, digits, - and _, "
                f"starting with a letter or digit, at most {MAX_ID_LENGTH})"
            )
            raise ProcedureNotFound(
                str(procedure_id)[:MAX_ID_LENGTH], [Problem(self.label, 0, 0, "", message)]
            )

    def load(self, procedure_id: str, language: str | None = None) -> Procedure:
        """The procedure as its file says now, its texts in `language` (else the store's);
        ProcedureNotFound or ProcedureInvalid otherwise."""
        language = language or self.language
        self._check_id(procedure_id)
        label = self._label(procedure_id)
        try:
            # A plain file named by a plain id is inside the folder: one open, no path walking.
            direct = os.path.join(self.directory, procedure_id + SUFFIX)
            data = read_bytes(direct, procedure_id, label, follow=False)
        except IsSymlink:
            data = read_bytes(self.path_for(procedure_id), procedure_id, label)
        version = version_of(data)
        key = (procedure_id, version, language)
        with self._lock:
            known = self._memo.get(key)
            if known is not None:
                self._memo.move_to_end(key)
        if known is None:
            try:
                known = parse_procedure(
                    data, procedure_id=procedure_id, path=label, version=version, language=language
                )
            except ProcedureInvalid as e:
                known = e
            with self._lock:
                self._memo[key] = known
                if len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        if isinstance(known, ProcedureInvalid):
            # A fresh exception each time, so tracebacks do not pile up on a shared object.
            raise ProcedureInvalid(
                procedure_id, known.problems, version=known.version, title=known.title
            )
        return known

    def load_or_none(self, procedure_id: str, language: str | None = None) -> Procedure | None:
        """The procedure as its file says now, or None when it is gone or broken: for words
        about old records (labels, step titles), which read as well without it."""
        try:
            return self.load(procedure_id, language)
        except ProcedureError:
            return None

    def ids(self) -> list[str]:
        """The ids of every `<id>.yaml` in the folder, sorted; the files are not read."""
        return sorted(
            name.removesuffix(SUFFIX)
            for name in self._names()
            if name.endswith(SUFFIX) and is_procedure_id(name.removesuffix(SUFFIX))
        )

    def ignored_files(self) -> list[str]:
        """YAML files the bot never reads because their names are not `<id>.yaml`."""
        return sorted(
            name
            for name in self._names()
            if name.endswith((".yaml", ".yml"))
            and not (name.endswith(SUFFIX) and is_procedure_id(name.removesuffix(SUFFIX)))
        )

    def summaries(self, language: str | None = None) -> list[Summary]:
        """Every procedure in the folder, valid or not, in id order."""
        out = []
        for procedure_id in self.ids():
            try:
                p = self.load(procedure_id, language)
            except ProcedureError as e:
                out.append(
                    Summary(procedure_id, e.title or "", e.version or "", False, tuple(e.problems))
                )
            else:
                out.append(Summary(p.id, p.title, p.version, True, (), p.triggers))
        return out

    def procedures(self, language: str | None = None) -> list[Procedure]:
        """Every valid procedure, in id order (invalid ones are left out)."""
        found = []
        for procedure_id in self.ids():
            try:
                found.append(self.load(procedure_id, language))
            except ProcedureError:
                continue
        return found

    def match(self, text: str, language: str | None = None) -> list[Procedure]:
        """Procedures whose trigger keywords occur as words in `text`, best match first.

        Chinese is written without spaces between words, so a keyword in Chinese characters
        matches anywhere in the text ("权限" in "我需要GitHub的权限")."""
        words = _words(text)
        if not words:
            return []
        single = set(words)
        folded = text.casefold()
        ranked = []
        for p in self.procedures(language):
            hits = [
                kw
                for kw in (_words(k) for k in p.triggers.keywords)
                if kw
                and (
                    "".join(kw) in folded
                    if _CJK.search(kw[0])
                    else (kw[0] in single if len(kw) == 1 else _has_phrase(words, kw))
                )
            ]
            if hits:
                # More distinct keywords first; then longer phrases, being more specific.
                ranked.append((-len(hits), -sum(len(h) for h in hits), p.id, p))
        ranked.sort(key=lambda row: row[:3])
        return [row[3] for row in ranked]

    def by_command(self, command: str, language: str | None = None) -> Procedure | None:
        """The procedure `/new <command>` picks: by `triggers.command`, else by id.

        A procedure whose file is invalid is never picked by its command (its content cannot be
        trusted); picked by id, its ProcedureInvalid is raised so the caller can say so.
        """
        wanted = command.strip().lstrip("/").casefold()
        if not wanted:
            return None
        for p in self.procedures(language):
            if p.triggers.command and p.triggers.command.casefold() == wanted:
                return p
        if not is_procedure_id(wanted):
            return None
        try:
            return self.load(wanted, language)
        except ProcedureNotFound:
            return None

    def _label(self, procedure_id: str) -> str:
        return f"{self.label}/{procedure_id}{SUFFIX}" if self.label else procedure_id + SUFFIX

    def _names(self) -> list[str]:
        try:
            with os.scandir(self.directory) as entries:
                return [entry.name for entry in entries]
        except (FileNotFoundError, NotADirectoryError):
            return []


def _short(directory: Path) -> str:
    """The folder relative to the working directory when it is inside it, else as given."""
    try:
        return str(directory.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(directory)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _has_phrase(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))
