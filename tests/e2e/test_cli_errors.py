"""Every CLI error is one clear line on stderr and an exit status, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.cli import main


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_feed_tail_reads_the_port_from_the_config_and_says_when_nothing_answers(tmp_path, capsys):
    port = free_port()
    path = config(tmp_path, f"http: {{listen: 0.0.0.0, port: {port}}}\n")
    assert main(["feed", "tail", "--config", path, "--token", "t", "--once"]) == 1
    err = one_line(capsys)
    assert f"cannot reach the change feed at http://127.0.0.1:{port}" in err


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("foo://bar", "is not a database URL sopbot can use"),
        ("sqlite:////nonexistent/folder/sopbot.db", "unable to open database file"),
    ],
)
def test_a_database_sopbot_cannot_use_is_one_line(tmp_path, capsys, url, said):
    path = config(tmp_path, f"database: {{url: '{url}'}}\n")
    with pytest.raises(SystemExit) as exit:
        main(["audit", "show", "--ticket", "1", "--config", path])
    assert exit.value.code == 1
    assert said in one_line(capsys)


def test_a_missing_config_file_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["db", "current", "--config", str(tmp_path / "nope.yaml")])
    assert exit.value.code == 2
    assert "no such config file" in one_line(capsys)


def test_a_database_locked_by_another_process_is_one_line(tmp_path, capsys):
    import sqlite3

    path = config(tmp_path, "database: {url: 'sqlite:///sopbot.db'}\n")
    assert main(["db", "upgrade", "--config", path]) == 0
    capsys.readouterr()
    holder = sqlite3.connect(tmp_path / "sopbot.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE alembic_version SET version_num = version_num")
        with pytest.raises(SystemExit) as exit:
            main(["kb", "reindex", "--config", path])
    finally:
        holder.rollback()
        holder.close()
    assert exit.value.code == 1
    assert "is locked by another process" in one_line(capsys)


def test_a_file_that_cannot_be_written_is_one_line(tmp_path, capsys):
    path = config(tmp_path, "database: {url: 'sqlite:///sopbot.db'}\n")
    chart = tmp_path / "no" / "such" / "folder" / "chart.png"
    assert main(["stats", "--config", path, "--chart", str(chart)]) == 1
    assert f"{chart}: No such file or directory" in one_line(capsys)
