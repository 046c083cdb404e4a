"""Every message the bot can say is in every language it speaks (CI fails otherwise)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.locale.check import missing
from bot.render import TEMPLATES


def test_every_message_is_in_english_and_chinese():
    assert missing(TEMPLATES) == []


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES, root)
    return root


def test_a_template_missing_in_chinese_fails_the_check(tmp_path):
    root = _copy(tmp_path)
    (root / "zh-CN" / "chat" / "closed.html").unlink()
    assert missing(root) == ["zh-CN/chat/closed.html: missing (en has it)"]


def test_a_new_english_template_without_chinese_fails_the_check(tmp_path):
    root = _copy(tmp_path)
    (root / "approvals").mkdir()
    (root / "approvals" / "asked.html").write_text("Approve #{{ number }}?", encoding="utf-8")
    assert missing(root) == ["zh-CN/approvals/asked.html: missing (en has it)"]


def test_a_message_missing_inside_a_chinese_template_fails_the_check(tmp_path):
    root = _copy(tmp_path)
    path = root / "zh-CN" / "cli" / "common.txt"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if '"until_before_since"' not in line]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept), encoding="utf-8")
    assert missing(root) == ["zh-CN/cli/common.txt: no message for what == 'until_before_since'"]


def test_a_message_only_chinese_has_fails_the_check_too(tmp_path):
    root = _copy(tmp_path)
    path = root / "zh-CN" / "chat" / "toast.txt"
    text = path.read_text(encoding="utf-8").replace(
        "{%- endif %}", '{%- elif reason == "shrug" %}¯\\_(ツ)_/¯\n{%- endif %}'
    )
    path.write_text(text, encoding="utf-8")
    assert missing(root) == ["chat/toast.txt: no message for reason == 'shrug'"]
