"""`sopbot chat` as people meet it: a real process reading a script from stdin."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.engine import write_procedures


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    write_procedures(tmp_path / "procedures")
    path = tmp_path / "config.yaml"
    path.write_text(
        "database: {url: 'sqlite:///sopbot.db'}\n"
        "leads: [1]\n"
        "chats: [{id: -100, name: Team}]\n"
        "timezone: Europe/Berlin\n",
        encoding="utf-8",
    )
    return path


def chat(config_file: Path, user: str, script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--config", str(config_file), "--user", user],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_a_scripted_chat_runs_a_whole_ticket_from_first_message_to_close(config_file):
    out = chat(
        config_file,
        "2",
        "\n".join(
            [
                "I need access to grafana, please",
                "3",  # the third button: grafana
                "short",  # refused: too short
                "on-call rotation starts on monday",
                "/skip",
                "no",
                "yes",
            ]
        )
        + "\n",
    )
    assert "[1] github  [2] aws  [3] grafana  [4] vpn" in out
    assert "at least 20 are needed" in out
    assert "Ticket #1 is open" in out
    assert "[to Team]" in out  # announced in the team chat

    out = chat(config_file, "1", "/steps 1\n1\n2\n/resolve 1\nGranted the viewer role in grafana\n")
    assert "“Approval recorded” done" in out and "“Access granted” done" in out
    assert "What was done to resolve it?" in out and "#1 is resolved" in out

    out = chat(config_file, "2", "/show 1\n/close 1\n")
    assert "Status: resolved" in out and "#1 is closed" in out


def test_end_of_input_ends_the_chat_cleanly(config_file):
    assert chat(config_file, "ann", "") == ""


def test_buttons_can_be_typed_by_label(config_file):
    out = chat(config_file, "2", "something odd happened\nBug report\nlogin fails\nConfirm\n")
    assert "What is broken?" in out and "Ticket #1 is open" in out


def test_what_the_terminal_showed_is_not_owed_to_telegram_later(config_file):
    out = chat(config_file, "2", "I need access to grafana, please\n3\n")
    assert "Why do you need it?" in out
    import sqlite3

    db = sqlite3.connect(config_file.parent / "sopbot.db")
    owed = db.execute(
        "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
    ).fetchone()[0]
    shown = db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0]
    db.close()
    assert owed == 0 and shown >= 3  # question, edit of the pressed one, next question


# --- the terminal's own ways, with the shipped config -------------------------------------


@pytest.fixture
def shipped(tmp_path: Path):
    from tests.helpers.terminal import Terminal, shipped_config

    config = shipped_config(tmp_path)
    opened: list[Terminal] = []

    def person(user: str | None = None) -> Terminal:
        opened.append(Terminal(config, user))
        return opened[-1]

    yield person
    for t in opened:
        t.close()


def open_access_request(shipped):
    """An access request, opened by `you` and approved by the approver it names."""
    t = shipped()
    t.type(
        "I need access to grafana for the on-call dashboards",
        "grafana",
        "read",
        "on-call rotation starts on monday",
        "/skip",
        "@alice_lead",
        "no",
        "yes",
    )
    assert "approved by alice_lead" in shipped("alice_lead").type("/approve 1")
    return t


def test_the_welcome_says_who_you_are_and_that_with_no_leads_you_are_one(tmp_path):
    from bot.app import Services
    from bot.chat import run_chat, terminal_config, user_id_for
    from bot.config import load_config
    from tests.helpers.terminal import shipped_config

    config = load_config(str(shipped_config(tmp_path)))
    out = io.StringIO()
    services = Services(terminal_config(config, "you"))
    try:
        run_chat(
            services,
            user="you",
            stdin=io.StringIO(""),
            out=out,
            leads_given=False,
            welcome=True,
        )
    finally:
        services.close()
    said = out.getvalue()
    assert f"You are you (id {user_id_for('you')}), a lead." in said
    assert "names no leads" in said and "leads: [" in said
    assert '"""' in said  # how to give an answer of several lines


def test_a_team_member_is_told_they_are_a_member(config_file):
    out = subprocess.run(
        [sys.executable, "-c", WELCOME, str(config_file), "2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "You are 2 (id 2), a member." in out and "names no leads" not in out


WELCOME = """
import sys
from bot.cli import main
import bot.chat
shown = bot.chat.run_chat
bot.chat.run_chat = lambda *a, **k: shown(*a, **{**k, "welcome": True})
sys.exit(main(["chat", "--config", sys.argv[1], "--user", sys.argv[2]]))
"""


def test_pressed_step_buttons_keep_the_numbers_of_the_others(shipped):
    you = open_access_request(shipped)
    said = you.type("/steps 1")
    assert "[1] Done: Access granted  [2] Done: The person confirmed it works" in said
    said = you.type("1")
    assert "[2] Done: The person confirmed it works" in said
    said = you.type("2")  # the one it showed as 2, not the one that moved up
    assert "“The person confirmed it works” done" in said
    assert "1" not in you.chat.screen.numbered  # a pressed number is not given again


def test_a_step_title_typed_ticks_it_rather_than_opening_a_ticket(shipped):
    you = open_access_request(shipped)
    you.type("/steps 1")
    said = you.type("Access granted")
    assert "“Access granted” done" in said and "#2" not in said


def test_an_answer_of_several_lines_is_one_answer(shipped):
    you = shipped()
    you.type("/new bug the export drops the last row", "Export to CSV drops the last row")
    you.type("reports page", "staging")
    said = you.type('"""', "Open the reports page", "Export to CSV", "Count the rows", '"""')
    assert said.count("What did you expect to happen?") == 1 and "⚠️" not in said


def test_help_says_how_to_give_several_lines(shipped):
    said = shipped().type("/help")
    assert "/new" in said and '"""' in said


def test_the_audit_pager_gets_past_page_two(shipped):
    you = open_access_request(shipped)
    for n in range(40):
        you.type(f"/comment 1 note number {n} about the grafana access")
    said = you.type("/audit 1")
    pages = 1
    while "Later" in said.splitlines()[-1]:
        said = you.type("Later")
        pages += 1
    assert pages > 2
    assert "note number 39" in said


def test_solved_is_still_there_after_opening_a_suggested_article(shipped):
    you = open_access_request(shipped)
    you.tick_all_steps(1)
    you.type("/resolve 1", "Granted the viewer role in grafana for the on-call team")
    said = you.type("I need access to grafana for the on-call dashboards")
    assert "Does one of these solve it?" in said
    said = you.type("1")  # the article
    assert "Solved" not in said.splitlines()[-1]
    said = you.type("Solved")
    assert "Does one of these" not in said and said.strip()


def test_with_an_http_section_the_terminal_chat_says_it_serves_no_feed(config_file):
    with config_file.open("a", encoding="utf-8") as f:
        f.write("http: {port: 8099}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--config", str(config_file)],
        input="",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "change feed" in result.stderr and "not served by the terminal chat" in result.stderr


def test_on_a_terminal_arrow_keys_edit_the_line_instead_of_typing_escape_codes(tmp_path):
    pty = pytest.importorskip("pty")  # a real terminal: readline only edits on a tty
    import os
    import select
    import time

    from tests.helpers.terminal import shipped_config

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--config", str(shipped_config(tmp_path))],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)

    def read_until(word: bytes) -> bytes:
        seen, end = b"", time.monotonic() + 30
        while word not in seen and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:  # the chat ended
                    break
        return seen

    try:
        assert b"a lead" in read_until(b"> ")
        # "/hexlp", two steps left, one back: "/help" only if the arrows moved the cursor.
        os.write(master, b"/hexlp\x1b[D\x1b[D\x7f\r")
        assert b"what I can do" in read_until(b"again.\r\n> ")
        os.write(master, b"\x04")  # Ctrl-D ends the chat
        read_until(b"\n")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
