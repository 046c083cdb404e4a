"""Configuration: defaults < file < environment, and a clear refusal of anything wrong."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, describe, load_config

TOKEN = "123456:ABC-very-secret-token"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_a_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, env={})
    assert cfg.source is None
    assert cfg.telegram.mode == "polling"
    assert cfg.telegram.base_url == "https://api.telegram.org/bot"
    assert cfg.database.url == f"sqlite:///{tmp_path / 'sopbot.db'}"
    assert cfg.database.auto_migrate is True
    assert cfg.procedures_dir == tmp_path / "procedures"
    assert cfg.timezone == "UTC"
    assert cfg.reminders.sweep_every == 60
    assert cfg.reminders.quiet_hours is None


def test_file_values_are_read_and_paths_resolved_beside_the_file(tmp_path):
    path = write(
        tmp_path,
        f"""
telegram: {{token: "{TOKEN}", mode: polling}}
database: {{url: "sqlite:///data/bot.db"}}
procedures_dir: sops
timezone: Europe/Berlin
leads: [1, 2]
members: [3]
chats: [{{id: -100, name: Ops}}, {{id: -200, name: Dev}}]
reminders:
  {{sweep_every: 2m, quiet_hours: "20:00-08:00", working_days: [mon, tue], daily_digest: "09:00"}}
""",
    )
    cfg = load_config(path, env={})
    assert cfg.telegram.token == TOKEN
    assert cfg.database.url == f"sqlite:///{tmp_path / 'data/bot.db'}"
    assert cfg.procedures_dir == tmp_path / "sops"
    assert cfg.leads == {1, 2} and cfg.is_member(1) and cfg.is_member(3) and not cfg.is_member(9)
    assert cfg.default_chat.name == "Ops"
    assert cfg.reminders.sweep_every == 120
    assert cfg.reminders.quiet_hours == (time(20, 0), time(8, 0))
    assert cfg.reminders.working_days == (0, 1)
    assert cfg.reminders.daily_digest == time(9, 0)


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, 'telegram: {token: "from-file"}\ndatabase: {url: "sqlite:///a.db"}\n')
    cfg = load_config(
        path,
        env={
            "SOPBOT_TELEGRAM_TOKEN": TOKEN,
            "SOPBOT_DATABASE_URL": "postgresql://u:p@127.0.0.1/db",
        },
    )
    assert cfg.telegram.token == TOKEN
    assert cfg.database.url == "postgresql://u:p@127.0.0.1/db"


def test_config_file_is_found_through_the_environment_variable(tmp_path):
    path = write(tmp_path, "timezone: Asia/Tokyo\n")
    assert load_config(None, env={"SOPBOT_CONFIG": str(path)}).timezone == "Asia/Tokyo"


def test_empty_members_list_lets_anyone_in(tmp_path):
    cfg = load_config(write(tmp_path, "members: []\n"), env={})
    assert cfg.is_member(12345)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("telegram: {tokn: x}\n", "telegram.tokn: unknown key (expected one of: base_url,"),
        ("timezone: Mars/Olympus\n", "timezone: expected an IANA time zone name"),
        ("leads: [alice]\n", "leads: expected a list of Telegram user ids"),
        ("telegram: {mode: carrier-pigeon}\n", "telegram.mode: expected one of: polling, webhook"),
        ("telegram: {mode: webhook}\n", "telegram.webhook.url: required when telegram.mode is"),
        ("reminders: {quiet_hours: '8-20'}\n", "reminders.quiet_hours: expected a time of day"),
        ("reminders: {sweep_every: soon}\n", "reminders.sweep_every: expected a duration"),
        ("reminders: {working_days: [funday]}\n", "reminders.working_days: expected days from"),
        ("chats: [{id: -1, name: a}, {id: -1, name: b}]\n", "chats: the same chat id is listed"),
        ("database: {auto_migrate: 'yes'}\n", "database.auto_migrate: expected true or false"),
        ("timezone: [unclosed\n", ":2:1:"),
        ("- just\n- a list\n", "top level: expected a mapping"),
    ],
)
def test_bad_config_is_refused_naming_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_the_token_never_appears_in_errors_or_the_printed_config(tmp_path, capsys):
    path = write(tmp_path, f'telegram: {{token: ["{TOKEN}"]}}\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert TOKEN not in str(err.value)
    good = write(tmp_path, f'telegram: {{token: "{TOKEN}"}}\n')
    assert TOKEN not in str(describe(load_config(good, env={})))
    assert main(["config", "check", "--config", str(good)]) == 0
    assert TOKEN not in capsys.readouterr().out


def test_config_check_exits_2_naming_the_key(tmp_path, capsys):
    path = write(tmp_path, "telegram: {tokn: x}\n")
    with pytest.raises(SystemExit) as exit_:
        main(["config", "check", "--config", str(path)])
    assert exit_.value.code == 2
    assert "telegram.tokn" in capsys.readouterr().err


def test_config_check_prints_the_effective_config(tmp_path, capsys):
    path = write(tmp_path, "timezone: Europe/Paris\n")
    assert main(["config", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "timezone: Europe/Paris" in out and "token: <not set>" in out
