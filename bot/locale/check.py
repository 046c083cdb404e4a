"""Is every message in every language? What `tests/unit/test_translations.py` asks in CI.

English templates are `bot/templates/<name>`, each other language's are
`bot/templates/<language>/<name>` with the same name. A message is missing when a file is in
one language and not the other, or when a file's messages differ: many files hold several
messages chosen by a code (`{% if what == "bad_configuration" %}...`), and each code compared
in one language's file must be compared in the other's, and each macro defined in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jinja2 import Environment, nodes

from bot.domain.languages import ENGLISH, LANGUAGES


def template_names(root: Path, language: str) -> set[str]:
    """The template names one language has, relative to its folder."""
    base = root if language == ENGLISH else root / language
    others = {base / lang for lang in LANGUAGES if lang != ENGLISH} if language == ENGLISH else ()
    names = set()
    for path in base.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(o) for o in others):
            names.add(path.relative_to(base).as_posix())
    return names


def messages(source: str) -> set[str]:
    """What a template can say, by name: the codes its branches compare and its macros."""
    tree = Environment(extensions=[]).parse(source)
    found = {f"macro {m.name}" for m in tree.find_all(nodes.Macro)}
    for compare in tree.find_all(nodes.Compare):
        left = compare.expr
        for operand in compare.ops:
            right = operand.expr
            if operand.op not in ("eq", "ne", "in", "notin"):
                continue
            name = _name(left)
            for value in _constants(right):
                if name is not None:
                    found.add(f"{name} == {value!r}")
    return found


def missing(root: Path, languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Every message one language has and another lacks, as sentences naming the file."""
    problems: list[str] = []
    names = {lang: template_names(root, lang) for lang in languages}
    every = set().union(*names.values())
    for name in sorted(every):
        have = [lang for lang in languages if name in names[lang]]
        for lang in languages:
            if lang not in have:
                problems.append(f"{_path(lang, name)}: missing ({', '.join(have)} has it)")
        if len(have) < 2:
            continue
        said = {lang: messages(_read(root, lang, name)) for lang in have}
        union = set().union(*said.values())
        for lang in have:
            for message in sorted(union - said[lang]):
                problems.append(f"{_path(lang, name)}: no message for {message}")
    return problems


def _path(language: str, name: str) -> str:
    return name if language == ENGLISH else f"{language}/{name}"


def _read(root: Path, language: str, name: str) -> str:
    return (root / _path(language, name)).read_text(encoding="utf-8")


def _name(node: nodes.Node) -> str | None:
    """`what`, `d.type` or `line.action`: the code a branch tests, as written."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        inner = _name(node.node)
        return f"{inner}.{node.attr}" if inner else None
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        inner = _name(node.node.node)  # d.get("status")
        args = [a.value for a in node.args if isinstance(a, nodes.Const)]
        return f"{inner}.{node.node.attr}({', '.join(map(repr, args))})" if inner else None
    return None


def _constants(node: nodes.Node) -> Iterator[object]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, nodes.Tuple | nodes.List):
        for item in node.items:
            yield from _constants(item)
