"""From the bytes of a procedure file to a YAML node tree that remembers every line and column.

Only the safe loader is used (libyaml's C one when installed); nothing in the file can run code.
The file is composed, not constructed, so every value keeps its position for error messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from typing import NoReturn

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

from bot.procedures.errors import Problem, ProcedureInvalid

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_resolver = yaml.resolver.Resolver()


@lru_cache(maxsize=4096)
def _plain_tag(value: str) -> str:
    """The tag YAML gives an unquoted scalar; the same text always resolves the same way."""
    return _resolver.resolve(ScalarNode, value, (True, False))


class Loader(_BaseLoader):
    """The safe loader with tags resolved from a memo."""

    # PyYAML's resolver is pure Python even under the C loader; it took half of the compose time.
    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


MAX_BYTES = 256 * 1024
MAX_DEPTH = 64
# The composer recurses once per nesting level and libyaml's can overflow the C stack on very deep
# input. Every level needs one of these characters, so their count bounds the depth cheaply; only
# files above this bound pay for an exact, iterative depth check first.
_NESTING_CHARS = "[{-:?"
_DEPTH_CHECK_ABOVE = 400
_HINTS = {
    "mapping values are not allowed": "if a value contains ': ', put the value in quotes",
    "found character '\\t'": "indent with spaces, not tabs",
    "found undefined alias": "a '*name' must refer to an '&name' defined earlier",
    "could not find expected ':'": "each line in a mapping needs 'key: value'",
}


def decode(data: bytes, path: str, procedure_id: str, version: str) -> str:
    """The file's text; a file that is not UTF-8 is refused with the position of the bad byte."""
    if len(data) > MAX_BYTES:
        _fail(
            procedure_id,
            version,
            path,
            0,
            0,
            f"the file is too large ({len(data)} bytes; a procedure may have at most {MAX_BYTES})",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        _fail(
            procedure_id,
            version,
            path,
            line,
            column,
            f"the file is not UTF-8 text (byte 0x{data[e.start]:02x}); save it as UTF-8",
        )
    return text.removeprefix("\ufeff")


def compose(text: str, path: str, procedure_id: str, version: str) -> Node | None:
    """The node tree of the file's single YAML document (None when the file is empty)."""
    try:
        if sum(text.count(c) for c in _NESTING_CHARS) > _DEPTH_CHECK_ABOVE:
            _check_depth(text, path, procedure_id, version)
        return yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        _fail(procedure_id, version, path, line, column, _yaml_message(e))
    except yaml.YAMLError as e:  # the reader's errors: characters YAML does not allow
        position = getattr(e, "position", 0) or 0
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
        reason = getattr(e, "reason", None) or "unreadable character"
        character = getattr(e, "character", None)
        what = f" #x{ord(character):04x}" if isinstance(character, str) and character else ""
        _fail(
            procedure_id,
            version,
            path,
            line,
            column,
            f"not valid YAML: {reason}{what}; remove that character",
        )
    except RecursionError:
        _fail(procedure_id, version, path, 1, 1, f"nested more than {MAX_DEPTH} levels deep")


def _check_depth(text: str, path: str, procedure_id: str, version: str) -> None:
    try:
        _refuse_deep_nesting(yaml.parse(text, Loader=Loader), path, procedure_id, version)
    except yaml.YAMLError:
        # libyaml (bundled with PyYAML since 6.0.4) refuses deep nesting itself, in its own
        # words, and may do so before it hands over the event that passes our limit. The
        # pure-Python parser has no limit of its own and no recursion: it finds where ours is
        # passed. When it does not, the file has another fault, reported as libyaml found it.
        with contextlib.suppress(yaml.YAMLError):
            _refuse_deep_nesting(
                yaml.parse(text, Loader=yaml.SafeLoader), path, procedure_id, version
            )
        raise


def _refuse_deep_nesting(
    events: Iterator[yaml.Event], path: str, procedure_id: str, version: str
) -> None:
    depth = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                _fail(
                    procedure_id,
                    version,
                    path,
                    mark.line + 1,
                    mark.column + 1,
                    f"nested more than {MAX_DEPTH} levels deep",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _yaml_message(e: yaml.MarkedYAMLError) -> str:
    problem = (e.problem or "").strip()
    context = (e.context or "").strip()
    if isinstance(e, yaml.composer.ComposerError) and "another document" in problem:
        return "not valid YAML: the file holds more than one document ('---'); keep one"
    message = f"not valid YAML: {problem or context or 'cannot be read'}"
    if context and problem:
        started = f" that starts at line {e.context_mark.line + 1}" if e.context_mark else ""
        message += f" ({context}{started})"
    for needle, hint in _HINTS.items():
        if needle in problem:
            return f"{message}; {hint}"
    return message


def _fail(
    procedure_id: str, version: str, path: str, line: int, column: int, message: str
) -> NoReturn:
    raise ProcedureInvalid(
        procedure_id, [Problem(path, line, column, "", message)], version=version
    )
