"""README's example conversation is what the terminal chat says to exactly that script.

The "you:" lines of README's block are typed into the terminal chat with the shipped config (as
`make run` in a fresh clone); what it prints must be the block. When the words change on
purpose, `SOPBOT_UPDATE_README=1 pytest tests/e2e/test_readme.py` writes the block anew.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers.terminal import ROOT, Terminal, shipped_config

README = ROOT / "README.md"
MARK = "<!-- The conversation below is produced by tests/e2e/test_readme.py. -->"
BLOCK = re.compile(re.escape(MARK) + r"\n```\n(.*?)```\n", re.S)
YOU, BOT, MORE = "you:  ", "bot:  ", "      "
# A Monday morning, so the due time in the block does not move from run to run.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def transcript(script: list[str], tmp: Path) -> str:
    """The welcome, then each typed line and what the bot printed for it."""
    terminal = Terminal(shipped_config(tmp), clock=lambda: NOW)
    try:
        lines = terminal.welcome().splitlines()
        for typed in script:
            lines.append(YOU + typed)
            said = terminal.type(typed).rstrip("\n").splitlines()
            lines += [(BOT if i == 0 else MORE) + s if s else "" for i, s in enumerate(said)]
    finally:
        terminal.close()
    return "\n".join(line.rstrip() for line in lines) + "\n"


def test_readmes_conversation_is_what_the_terminal_chat_says(tmp_path):
    text = README.read_text(encoding="utf-8")
    found = BLOCK.search(text)
    assert found, f"README.md has no block after {MARK!r}"
    shown = found.group(1)
    script = [line[len(YOU) :] for line in shown.splitlines() if line.startswith(YOU)]
    assert script, "README's conversation has no 'you:' lines"
    produced = transcript(script, tmp_path)
    if os.environ.get("SOPBOT_UPDATE_README") == "1":
        README.write_text(
            text[: found.start(1)] + produced + text[found.end(1) :], encoding="utf-8"
        )
        return
    assert shown == produced, "README's conversation drifted; SOPBOT_UPDATE_README=1 rewrites it"
