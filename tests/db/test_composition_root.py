"""The composition root as commands meet it: one place decides the database and its schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.app import build_services
from bot.cli import main
from bot.config import load_config

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql://sopbot:s3cret@127.0.0.1:1/sopbot"


def write_config(tmp_path: Path, url: str, *, auto_migrate: bool) -> str:
    shutil.copytree(ROOT / "procedures", tmp_path / "procedures")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database: {{url: '{url}', auto_migrate: {str(auto_migrate).lower()}}}\n"
        "procedures_dir: procedures\n",
        encoding="utf-8",
    )
    return str(path)


def test_without_auto_migrate_only_db_upgrade_migrates(tmp_path, capsys):
    config = write_config(tmp_path, "sqlite:///root.db", auto_migrate=False)
    assert main(["db", "current", "--config", config]) == 0
    assert "(empty: run `sopbot db upgrade`)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", config]) == 0
    assert main(["db", "current", "--config", config]) == 0
    assert capsys.readouterr().out.splitlines()[-1] not in ("", "(empty: run `sopbot db upgrade`)")


def test_a_database_that_cannot_be_migrated_ends_the_command_with_its_masked_address(
    tmp_path, capsys
):
    config = write_config(tmp_path, UNREACHABLE, auto_migrate=True)
    with pytest.raises(SystemExit) as exited:
        main(["audit", "export", "--config", config])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "could not migrate the database at postgresql://sopbot:***@127.0.0.1:1/sopbot" in err
    assert "s3cret" not in err


def test_listing_procedures_never_opens_the_database(tmp_path, capsys):
    config = write_config(tmp_path, UNREACHABLE, auto_migrate=True)
    assert main(["procedures", "list", "--config", config]) == 0
    assert "incident" in capsys.readouterr().out


def test_every_feature_plugs_its_commands_into_the_engine(tmp_path, database_url):
    config = load_config(write_config(tmp_path, database_url, auto_migrate=True), env={})
    services = build_services(config)
    try:
        commands = set(services.registry.commands)
    finally:
        services.close()
    assert {"kb", "audit", "stats", "catchup"} <= commands
