"""Reading typed values out of a YAML node tree, noting every problem with its line and column.

Each reader returns the value, or None after recording why it could not; the caller carries on,
so one pass over a file reports all of its problems.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.domain.durations import DurationError, parse_duration
from bot.domain.languages import ENGLISH, LANGUAGES, language_of
from bot.procedures.errors import Problem
from bot.procedures.vocabulary import Section

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
_PLAIN_TAGS = {STR, INT, FLOAT, BOOL, NULL, TIMESTAMP, SEQ, MAP}
_constructor = SafeConstructor()
# Anchors and aliases let a small file name the same node many times; this bounds the work.
MAX_NODES = 50_000


class TooComplex(Exception):
    """The file asks for more work than any real procedure needs (usually aliases in a loop)."""


def describe(node: Node) -> str:
    """What a node is, in words a non-programmer recognises."""
    if isinstance(node, MappingNode):
        return "a mapping (key: value lines)"
    if isinstance(node, SequenceNode):
        return "a list"
    text = _shorten(node.value)
    if node.tag == NULL:
        return "nothing (the value is empty)"
    if node.tag == BOOL:
        return f"the true/false value {text}"
    if node.tag in (INT, FLOAT):
        return f"the number {text}"
    if node.tag == TIMESTAMP:
        return f"the date {text}"
    return f"the text '{text}'"


def _shorten(value: str, width: int = 40) -> str:
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"


class Reader:
    """Collects problems for one file while typed values are read out of its nodes."""

    def __init__(self, path: str, max_nodes: int = MAX_NODES, language: str = ENGLISH):
        self.path = path
        self.problems: list[Problem] = []
        self._left = max_nodes
        # Texts people read may be written once per language; `localized` gives this one's.
        self.language = language
        self._translated: list[tuple[Node, str, frozenset[str]]] = []

    def report(self, node: Node, key: str, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.path, mark.line + 1, mark.column + 1, key, message))

    def count(self) -> int:
        return len(self.problems)

    def _visit(self, count: int) -> None:
        # Counted per container, by its size: every node read is an item of one.
        self._left -= count
        if self._left < 0:
            raise TooComplex

    def tag_ok(self, node: Node, key: str) -> bool:
        """False, after reporting it, for tags like `!!python/...`."""
        if node.tag not in _PLAIN_TAGS:
            self.report(node, key, f"unsupported YAML tag '{node.tag}'; remove it")
            return False
        return True

    # Containers -------------------------------------------------------------------------------

    def mapping(self, node: Node, key: str, section: Section) -> dict[str, Node] | None:
        """The known keys of a mapping; unknown, repeated and missing required keys are reported."""
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, MappingNode):
            self.report(node, key, f"expected a mapping (key: value lines), got {describe(node)}")
            return None
        found: dict[str, Node] = {}
        seen: dict[str, int] = {}
        prefix = f"{key}." if key else ""
        self._visit(len(node.value))
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (STR, INT, BOOL, NULL):
                self.report(key_node, key, "a key must be a plain word, like 'title'")
                continue
            name = key_node.value
            if name in seen:
                self.report(
                    key_node, prefix + name, f"given twice (first on line {seen[name]}); keep one"
                )
                continue
            seen[name] = key_node.start_mark.line + 1
            if name not in section.keys:
                self.report(
                    key_node,
                    prefix + name,
                    f"unknown key '{name}' (expected one of: {section.expected()})",
                )
                continue
            found[name] = value_node
        for name in section.required:
            if name not in found and name not in seen:
                meaning = _lower_first(section.keys[name]).rstrip(".")
                self.report(node, prefix + name, f"required key is missing ({meaning})")
        return found

    def sequence(self, node: Node, key: str, example: str = "[a, b]") -> list[Node] | None:
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, SequenceNode):
            self.report(node, key, f"expected a list like {example}, got {describe(node)}")
            return None
        self._visit(len(node.value))
        return list(node.value)

    # Scalars ----------------------------------------------------------------------------------

    def text(self, node: Node, key: str, strip: bool = True) -> str | None:
        """Free text: any plain value is taken as written, so `title: 2024` is the text '2024'.

        Whitespace at the ends is dropped (a `|` block ends with a newline) unless `strip` is
        False, for values like regular expressions where every character counts.
        """
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            self.report(node, key, f"expected text, got {describe(node)}")
            return None
        if not node.value.strip():
            self.report(node, key, "must not be empty")
            return None
        return node.value.strip() if strip else node.value

    def localized(self, node: Node, key: str) -> str | None:
        """A text people read: plain (the same in every language), or a mapping with one text
        per language, `{en: Access request, zh-CN: 权限申请}`. Returns the reader's language's,
        else English, else the first written."""
        if not isinstance(node, MappingNode):
            return self.text(node, key)
        if not self.tag_ok(node, key):
            return None
        texts: dict[str, str] = {}
        before = self.count()
        for key_node, value_node in node.value:
            written = key_node.value if isinstance(key_node, ScalarNode) else ""
            language = language_of(written)
            if language is None:
                self.report(
                    key_node,
                    key,
                    f"'{_shorten(str(written))}' is not a language sopbot speaks "
                    f"(expected one of: {', '.join(LANGUAGES)})",
                )
                continue
            if language in texts:
                self.report(key_node, key, f"the {language} text is given twice")
                continue
            text = self.text(value_node, f"{key}.{language}")
            if text is not None:
                texts[language] = text
        if not texts:
            if self.count() == before:
                self.report(node, key, f"expected a text, or one per language ({LANGUAGES[1]}: …)")
            return None
        self._translated.append((node, key, frozenset(texts)))
        return texts.get(self.language) or texts.get(ENGLISH) or next(iter(texts.values()))

    def check_translations(self) -> None:
        """A language one text of the file is written in, every text given per language needs."""
        every = set().union(*(have for _, _, have in self._translated))
        for node, key, have in self._translated:
            for language in sorted(every - have):
                self.report(
                    node, key, f"no {language} text, while other texts here are in {language}"
                )

    def word(
        self, node: Node, key: str, form: re.Pattern[str], what: str, limit: int
    ) -> str | None:
        """A name of the given form, like a field name or a step id."""
        value = self.text(node, key)
        if value is None:
            return None
        if len(value) > limit or not form.fullmatch(value):
            self.report(node, key, f"'{_shorten(value)}' is not a valid {what}")
            return None
        return value

    def texts(self, node: Node, key: str, example: str = "[a, b]") -> list[str] | None:
        items = self.sequence(node, key, example)
        if items is None:
            return None
        before = self.count()
        values = [self.text(item, f"{key}[{i}]") for i, item in enumerate(items)]
        return None if self.count() > before else [v for v in values if v is not None]

    def boolean(self, node: Node, key: str) -> bool | None:
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, ScalarNode) or node.tag != BOOL:
            self.report(node, key, f"expected true or false, got {describe(node)}")
            return None
        return _constructor.construct_yaml_bool(node)

    def integer(self, node: Node, key: str, minimum: int | None = None) -> int | None:
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, ScalarNode) or node.tag != INT:
            self.report(node, key, f"expected a whole number, got {describe(node)}")
            return None
        value = self.plain(node)
        if not isinstance(value, int):  # matched YAML's int form but is not one, like `0b_`
            self.report(node, key, f"expected a whole number, got {describe(node)}")
            return None
        if minimum is not None and value < minimum:
            self.report(node, key, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(self, node: Node, key: str) -> float | None:
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, ScalarNode) or node.tag not in (INT, FLOAT):
            self.report(node, key, f"expected a number, got {describe(node)}")
            return None
        raw = self.plain(node)
        if not isinstance(raw, int | float):
            self.report(node, key, f"expected a number, got {describe(node)}")
            return None
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            self.report(node, key, f"expected a finite number, got {node.value}")
            return None
        return value

    def duration(self, node: Node, key: str) -> timedelta | None:
        if not self.tag_ok(node, key):
            return None
        if not isinstance(node, ScalarNode) or node.tag not in (STR, INT, FLOAT):
            self.report(node, key, f"expected a duration like 30m, 8h or 2d, got {describe(node)}")
            return None
        raw = node.value if node.tag == STR else self.plain(node)
        try:
            return parse_duration(raw)
        except (DurationError, OverflowError):
            self.report(
                node,
                key,
                f"'{_shorten(node.value)}' is not a duration; write it like "
                "30m, 8h, 2d or 1h30m (s, m, h, d, w)",
            )
            return None

    def plain(self, node: ScalarNode) -> Any:
        """The value YAML gives a plain scalar: text, number, true/false or None."""
        try:
            if node.tag == BOOL:
                return _constructor.construct_yaml_bool(node)
            if node.tag == INT:
                return _constructor.construct_yaml_int(node)
            if node.tag == FLOAT:
                return _constructor.construct_yaml_float(node)
            if node.tag == NULL:
                return None
        except (ConstructorError, ValueError, OverflowError):
            pass
        return node.value


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
