"""`sopbot chat` as people meet it: a real process reading a script from stdin."""

from __future__ import annotations

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

    out = chat(config_file, "1", "/steps 1\n1\n1\n/resolve 1\nGranted the viewer role in grafana\n")
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
