"""Dependencies point inward: adapters -> services -> domain, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"

# package -> prefixes it must never import
FORBIDDEN = {
    "domain": ("bot.", "sqlalchemy", "telegram", "jinja2", "yaml"),
    "services": ("bot.telegram", "bot.cli", "bot.chat", "bot.http", "telegram"),
    "procedures": ("bot.services", "bot.telegram", "bot.cli", "sqlalchemy", "telegram"),
    "knowledge": ("bot.services", "bot.telegram", "bot.cli", "telegram"),
}
ALLOWED = {"domain": ("bot.domain",)}


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_from_the_layers_outside_it(package):
    wrong = []
    for path in sorted((BOT / package).rglob("*.py")):
        for name in imports_of(path):
            if name.startswith(ALLOWED.get(package, ())):
                continue
            if name.startswith(FORBIDDEN[package]) or name == "bot":
                wrong.append(f"{path.relative_to(BOT.parent)} imports {name}")
    assert not wrong, "\n".join(wrong)
