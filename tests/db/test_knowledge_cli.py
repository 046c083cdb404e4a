"""`sopbot kb reindex|search|list` against a real database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.cli import main


@pytest.fixture
def config(tmp_path, database_url):
    knowledge = tmp_path / "knowledge"
    (knowledge / "printer").mkdir(parents=True)
    (knowledge / "printer" / "3-paper-jam.md").write_text(
        "---\nticket: 3\ntitle: Paper jam in tray 2\nprocedure: printer\n---\n"
        "# Paper jam in tray 2\n\nOpen tray 2 and pull the stuck sheet out.\n"
    )
    (knowledge / "rooms.md").write_text("# Booking rooms\n\nUse the shared calendar.\n")
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: {database_url}\nknowledge_dir: {knowledge}\n")
    return str(path)


def test_reindex_then_search_and_list_from_the_command_line(config, capsys):
    assert main(["kb", "reindex", "--config", config]) == 0
    assert "2 added, 0 updated, 0 removed, 0 unchanged" in capsys.readouterr().out
    assert main(["kb", "search", "--config", config, "stuck", "sheet"]) == 0
    out = capsys.readouterr().out
    assert "Paper jam in tray 2" in out and "printer/3-paper-jam.md" in out
    assert main(["kb", "list", "--config", config]) == 0
    listing = capsys.readouterr().out
    assert listing.index("printer/3-paper-jam.md") < listing.index("rooms.md")
    assert "(#3)" in listing


def test_search_without_matches_says_so_and_exits_1(config, capsys):
    assert main(["kb", "search", "--config", config, "zebra"]) == 1
    assert 'No article matches "zebra".' in capsys.readouterr().out


def test_search_picks_up_a_file_added_since_the_last_reindex(config, capsys, tmp_path):
    main(["kb", "reindex", "--config", config])
    (tmp_path / "knowledge" / "vpn.md").write_text("# VPN\n\nRenew the certificate.\n")
    assert main(["kb", "search", "--config", config, "certificate"]) == 0
    assert "vpn.md" in capsys.readouterr().out
