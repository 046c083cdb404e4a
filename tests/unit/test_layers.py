"""Dependencies point inward: adapters -> services -> domain, never the other way.

The rules are import-linter contracts in pyproject.toml; `make test` runs them too, and this
runs them so that pytest alone also catches a broken layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "bot" / "domain"


def test_every_layer_contract_is_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_domain_imports_the_standard_library_only():
    # The contract lists the third-party packages sopbot installs today; this catches any other.
    wrong = []
    for path in sorted(DOMAIN.rglob("*.py")):
        for name in imports_of(path):
            top = name.partition(".")[0]
            if name == "bot.domain" or name.startswith("bot.domain."):
                continue
            if top not in sys.stdlib_module_names and top != "__future__":
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
