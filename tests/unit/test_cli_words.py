"""The command line speaks only through templates: no sentence is written in bot/cli or bot/chat.py.

A sentence typed into a `print()` could not be translated or reworded without touching code, so
these tests read the source: every line printed, written, or raised for the person at the
terminal comes out of `bot/templates/cli/`, and every sentence code the code asks for is there.
"""

from __future__ import annotations

import ast
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.common import words
from bot.cli.sweep_cmd import print_report
from bot.services.outbox import Fate
from bot.services.sweep.report import Sent, SweepReport

BOT = Path(__file__).resolve().parents[2] / "bot"
SOURCES = [*sorted((BOT / "cli").glob("*.py")), BOT / "chat.py"]
TEMPLATES = BOT / "templates" / "cli"
# Calls whose arguments reach a person: printed, written to a stream, or an exit message.
SINKS = {"print", "_print", "write", "Exit", "ArgumentTypeError", "SystemExit", "exit", "complain"}
LETTER = re.compile(r"[^\W\d_]")


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _has_words(node: ast.AST) -> bool:
    """Whether an expression spells out text itself (a call's result is its own business)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(LETTER.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_has_words(part) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return _has_words(node.value)
    if isinstance(node, ast.BinOp):
        return _has_words(node.left) or _has_words(node.right)
    if isinstance(node, ast.IfExp):
        return _has_words(node.body) or _has_words(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(_has_words(v) for v in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _has_words(node.func.value)  # "exported {} events".format(n)
    return False


def literal_sentences(source: str) -> list[tuple[int, str]]:
    """(line, call) for each call that hands a person text spelled out in the code."""
    found = []
    for node in ast.walk(ast.parse(source)):
        is_sink = isinstance(node, ast.Call) and _name(node) in SINKS
        if is_sink and any(_has_words(arg) for arg in node.args):
            found.append((node.lineno, ast.unparse(node)))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_command_line_module_prints_a_sentence_of_its_own(path):
    assert literal_sentences(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_a_sentence_printed_from_code():
    sample = (
        'print(f"exported {n} events", file=err)\n'
        'out.write("verifying " + bar)\n'
        'raise Exit(2, "no token")\n'
        'print("{} problems".format(n))\n'
        'print("> ", end="")\n'  # a prompt, no words
        'print(words("audit", "exported", count=n))\n'
    )
    assert [line for line, _ in literal_sentences(sample)] == [1, 2, 3, 4]


def _asked_for(path: Path) -> list[tuple[str, str, int]]:
    """(template, sentence code, line) for every `say`/`words`/`_say` call with literal codes."""
    asked = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or _name(node) not in {"say", "words", "_say"}:
            continue
        codes = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if path.name == "chat.py" and len(codes) == 1:
            asked.append(("chat", codes[0], node.lineno))
        elif len(codes) == 2:
            asked.append((codes[0], codes[1], node.lineno))
    return asked


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_sentence_the_code_asks_for_is_in_its_template(path):
    missing = []
    for family, what, line in _asked_for(path):
        template = TEMPLATES / f"{family}.txt"
        if not template.is_file() or f'what == "{what}"' not in template.read_text("utf-8"):
            missing.append(f"{path.name}:{line}: cli/{family}.txt has no {what!r}")
    assert missing == []


def test_every_template_under_cli_says_why_it_is_shaped_as_it_is():
    for template in sorted(TEMPLATES.glob("*.txt")):
        assert template.read_text(encoding="utf-8").startswith("{#-"), template.name


def test_a_sentence_code_the_template_does_not_know_is_an_error_not_an_empty_line():
    with pytest.raises(LookupError, match="no words for 'exportd'"):
        words("audit", "exportd", count=3)


def report(dry_run: bool) -> SweepReport:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    r = SweepReport(now=now, dry_run=dry_run, reminded=2, escalated=1, deferred=0, stopped=3)
    r.sent.append(Sent(-100, "digest", (1, 2), "<b>2 tickets</b>", None if dry_run else 7))
    r.sent.append(Sent(-100, "daily", (1, 2), "<b>Today:</b> 2 open &amp; 1 late", None))
    r.sent.append(Sent(-200, "escalation", (3,), "<b>Escalated</b>", None if dry_run else 8))
    r.sent.append(Sent(-300, "escalation", (3,), "<b>Escalated</b>", None if dry_run else 9))
    return r


def fates() -> dict[int, Fate]:
    later = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    return {
        7: Fate("sent", 41, later, None),
        8: Fate("refused", None, later, "Forbidden: bot was blocked"),
        9: Fate("waiting", None, later, "Bad Gateway"),
    }


def test_the_sweep_report_says_what_became_of_each_message():
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        print_report(report(False), fates())
    assert out.getvalue().splitlines() == [
        "sweep at 2026-03-02T09:00:00+00:00",
        "sent digest to chat -100 (message 41): #1, #2",
        "sent daily to chat -100: Today: 2 open & 1 late",
        "2 ticket(s) reminded, 1 escalated, 0 deferred, 3 no longer chased",
    ]
    assert err.getvalue().splitlines() == [
        "refused: escalation to chat -200: #3 (Telegram said: Forbidden: bot was blocked;"
        " the leads are told)",
        "waiting: escalation to chat -300: #3 (Telegram said: Bad Gateway; it goes out"
        " with the bot's sender or the next sweep)",
    ]


def test_a_dry_run_shows_each_message_whole_and_its_chat_by_name():
    out = io.StringIO()
    with redirect_stdout(out):
        print_report(report(True), chat_names={-100: "Ops team"})
    assert out.getvalue().splitlines() == [
        "sweep at 2026-03-02T09:00:00+00:00 (dry run)",
        "would send digest to Ops team:",
        "    2 tickets",
        "would send daily to Ops team:",
        "    Today: 2 open & 1 late",
        "would send escalation to the private chat -200:",
        "    Escalated",
        "would send escalation to the private chat -300:",
        "    Escalated",
        "2 ticket(s) reminded, 1 escalated, 0 deferred, 3 no longer chased",
    ]


def test_the_start_and_stop_lines_of_sopbot_run():
    assert words("run", "running", username="opsbot", webhook=None) == (
        "sopbot is running on Telegram as @opsbot (long polling)"
    )
    assert words("run", "running", username="opsbot", webhook="https://x.test/hook") == (
        "sopbot is running on Telegram as @opsbot (webhook at https://x.test/hook)"
    )
    assert words("run", "terminal_chat", env="SOPBOT_TELEGRAM_TOKEN").splitlines() == [
        "sopbot: no Telegram token is configured, so this is the terminal chat.",
        "To run on Telegram, set SOPBOT_TELEGRAM_TOKEN or telegram.token in the config file.",
    ]
    assert words("run", "stopped") == "sopbot stopped"


def test_one_event_is_said_in_the_singular():
    from bot.cli.common import words

    assert words("audit", "exported", count=1) == "exported 1 event"
    assert words("audit", "exported", count=3) == "exported 3 events"
    assert words("audit", "intact_before", checked=1) == "the event before it is intact"
    assert words("audit", "intact_before", checked=2) == "2 events before it are intact"
