"""`sopbot audit ...` and `sopbot stats`: output and exit codes, on a SQLite file."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.domain.actors import Actor
from bot.services import audit
from bot.services.database import Database

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEAD = Actor(1, "Lead", "lead")


@pytest.fixture
def setup(tmp_path):
    """A config file and its database, migrated by the first command (auto_migrate)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {url}\ntimezone: Europe/Berlin\n")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    db = Database.from_url(url)
    for i, action in enumerate(["ticket.created", "question.asked", "status.changed"]):
        with db.transaction() as s:
            audit.record(
                s,
                now=START + timedelta(minutes=i),
                actor=LEAD,
                action=action,
                ticket_id=1,
                details={"field": "office", "from": "a", "to": "b"},
                procedure_id="vpn",
                procedure_version="feedface" * 5,
            )
    yield str(config), db
    db.dispose()


def test_verify_exits_0_with_the_count_checked(setup, capsys):
    config, _ = setup
    assert main(["audit", "verify", "--config", config]) == 0
    out, err = capsys.readouterr()
    assert "ok: 3 events checked" in out
    assert "verifying" not in err  # no progress bar when stderr is not a terminal


def test_verify_exits_1_naming_the_first_bad_event(setup, capsys):
    config, db = setup
    with db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET actor_name = 'Mallory' WHERE id = 2"))
    assert main(["audit", "verify", "--config", config]) == 1
    out, _ = capsys.readouterr()
    assert "FAILED at event 2 (edited)" in out


def test_verify_draws_a_progress_bar_on_a_terminal(setup, capsys, monkeypatch):
    config, _ = setup

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["audit", "verify", "--config", config]) == 0
    assert "verifying [" in terminal.getvalue() and "3/3" in terminal.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_a_file_then_verify_the_file(setup, tmp_path, capsys, fmt):
    config, _ = setup
    target = tmp_path / f"audit.{fmt}"
    assert main(["audit", "export", "--format", fmt, "-o", str(target), "--config", config]) == 0
    assert "exported 3 events" in capsys.readouterr().err
    assert main(["audit", "verify", "--file", str(target)]) == 0
    assert "ok: 3 events checked" in capsys.readouterr().out


def test_export_to_stdout_with_filters(setup, capsys):
    config, _ = setup
    argv = [
        "audit",
        "export",
        "--ticket",
        "1",
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-02",
        "--config",
        config,
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]
    assert main([*argv[:4], "--since", "2026-03-03", "--config", config]) == 0
    assert capsys.readouterr().out == ""


def test_export_refuses_a_bad_date(setup, capsys):
    config, _ = setup
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "export", "--since", "March", "--config", config])
    assert exit_info.value.code == 2
    assert "expected a date YYYY-MM-DD" in capsys.readouterr().err


def test_show_prints_the_timeline_in_the_team_timezone(setup, capsys):
    config, _ = setup
    assert main(["audit", "show", "--ticket", "1", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "Audit trail of ticket #1 (times in Europe/Berlin)" in out
    assert "2026-03-02 10:02:00  #3  Lead: status: a -> b  [feedface]" in out


def test_show_of_an_unknown_ticket_exits_1(setup, capsys):
    config, _ = setup
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "show", "--ticket", "9", "--config", config])
    assert exit_info.value.code == 1
    assert "no audit events" in capsys.readouterr().err


def test_stats_as_json_with_comparison_and_a_chart(setup, tmp_path, capsys):
    config, _ = setup
    chart = tmp_path / "weekly.png"
    argv = [
        "stats",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-07",
        "--format",
        "json",
        "--compare-previous",
        "--chart",
        str(chart),
        "--config",
        config,
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["metrics"]["opened"] == 0
    assert data["since"].startswith("2026-03-01T00:00:00+01:00")
    assert "delta" in data["overall"] and "previous_period" in data
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_stats_as_text(setup, capsys):
    config, _ = setup
    assert main(["stats", "--until", "2026-03-07", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "Statistics 2026-02-06 to 2026-03-07 (days in Europe/Berlin)" in out
    assert "No tickets in this period." in out


def test_stats_refuses_a_period_that_ends_before_it_starts(setup, capsys):
    config, _ = setup
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--since", "2026-03-07", "--until", "2026-03-01", "--config", config])
    assert exit_info.value.code == 2
