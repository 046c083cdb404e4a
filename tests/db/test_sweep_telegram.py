"""The sweep through the Bot API: `sopbot sweep` and the JobQueue job, against the fake server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from sqlalchemy import select
from telegram.ext import Application

from bot.cli import main
from bot.config import load_config
from bot.db.models import AuditEvent
from bot.procedures.store import ProcedureStore
from bot.services.outbox import Outbox
from bot.telegram.sender import OutboxSender
from bot.telegram.sweep_job import schedule_sweeps
from tests.db.test_sweep import BUG_YAML, add_ticket, ticket
from tests.helpers.fake_telegram import FakeTelegram, group_chat

TEAM = -1001000000001
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch):
    """python-telegram-bot's opt-in to timedelta periods (no deprecation warning on 429)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def server():
    with FakeTelegram() as fake:
        fake.add_chat(group_chat(TEAM, "Team"))
        yield fake


def write_config(tmp_path: Path, database_url: str, server: FakeTelegram | None, **extra) -> Path:
    procedures = tmp_path / "procedures"
    procedures.mkdir(exist_ok=True)
    (procedures / "bug.yaml").write_text(BUG_YAML, encoding="utf-8")
    data = {
        "telegram": {"token": server.token if server else "", "base_url": server.base_url}
        if server
        else {"token": ""},
        "database": {"url": database_url, "auto_migrate": True},
        "procedures_dir": str(procedures),
        "timezone": "Europe/Berlin",
        "leads": [1],
        "chats": [{"id": TEAM, "name": "Team"}],
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def tickets(db):
    add_ticket(db, 1, due=NOW - timedelta(hours=3), chat=TEAM, title="Printer <on fire>")
    add_ticket(db, 2, due=NOW - timedelta(hours=1), chat=TEAM)
    return db


def test_sopbot_sweep_sends_one_digest_with_buttons_through_the_bot_api(
    tickets, database_url, tmp_path, server, capsys, monkeypatch
):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    config = write_config(tmp_path, database_url, server)

    assert main(["sweep", "--config", str(config), "--now", NOW.isoformat()]) == 0

    (message,) = server.sent(TEAM)
    assert "Printer <on fire>" in message["text"] and "3 hours late" in message["text"]
    keyboard = message["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in keyboard] == [
        ["r:on:1", "r:sn:1", "r:sh:1"],
        ["r:on:2", "r:sn:2", "r:sh:2"],
    ]
    out = capsys.readouterr().out
    assert f"sent digest to chat {TEAM} (message {message['message_id']}): #1, #2" in out
    assert ticket(tickets, 1).remind_count == 1

    # Run again at the same moment (cron twice, or a restart): nothing more is sent.
    assert main(["sweep", "--config", str(config), "--now", NOW.isoformat()]) == 0
    assert len(server.sent(TEAM)) == 1


def test_sopbot_sweep_leaves_what_telegram_refuses_for_now_owed_and_sends_it_once_later(
    tickets, database_url, tmp_path, server, capsys, monkeypatch
):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    config = write_config(tmp_path, database_url, server)
    for _ in range(4):  # more than the in-process retries
        server.fail_next("sendMessage", status=500)

    assert main(["sweep", "--config", str(config), "--now", NOW.isoformat()]) == 1

    assert server.sent(TEAM) == []
    err = capsys.readouterr().err
    assert f"waiting: digest to chat {TEAM}: #1, #2" in err
    assert "goes out with the bot's sender or the next sweep" in err
    assert ticket(tickets, 1).remind_count == 1  # reminded once: the digest is owed

    time.sleep(1.1)  # the outbox's first back-off
    later = (NOW + timedelta(minutes=1)).isoformat()
    assert main(["sweep", "--config", str(config), "--now", later]) == 0
    (message,) = server.sent(TEAM)
    assert "#1" in message["text"] and "#2" in message["text"]
    assert ticket(tickets, 1).remind_count == 1


def test_sopbot_sweep_reports_a_chat_that_refuses_for_good(
    tickets, database_url, tmp_path, server, capsys, monkeypatch
):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    config = write_config(tmp_path, database_url, server)
    server.fail_next("sendMessage", status=403, description="Forbidden: bot was kicked")

    assert main(["sweep", "--config", str(config), "--now", NOW.isoformat()]) == 1

    err = capsys.readouterr().err
    assert f"refused: digest to chat {TEAM}: #1, #2" in err and "bot was kicked" in err
    with tickets.reading() as s:
        undeliverable = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "message.undeliverable")
        ).all()
    assert [e.details["chat_id"] for e in undeliverable] == [TEAM]


def test_sopbot_sweep_dry_run_prints_what_it_would_send_and_sends_nothing(
    tickets, database_url, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    config = write_config(tmp_path, database_url, None)
    assert main(["sweep", "--config", str(config), "--now", NOW.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would send digest to Team:" in out and "Printer <on fire>" in out
    assert str(TEAM) not in out
    assert ticket(tickets, 1).remind_count == 0


def test_sopbot_sweep_without_a_token_refuses_with_exit_2(
    db, database_url, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    config = write_config(tmp_path, database_url, None)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--config", str(config)])
    assert exit_info.value.code == 2
    assert "no Telegram token" in capsys.readouterr().err


def test_sopbot_sweep_refuses_a_malformed_now(db, database_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    config = write_config(tmp_path, database_url, None)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--config", str(config), "--now", "yesterday", "--dry-run"])
    assert exit_info.value.code == 2
    assert "--now" in capsys.readouterr().err


def test_the_job_queue_runs_the_sweep_and_sends_through_the_applications_bot(
    db, database_url, tmp_path, server, monkeypatch
):
    monkeypatch.delenv("SOPBOT_TELEGRAM_TOKEN", raising=False)
    path = write_config(tmp_path, database_url, server, reminders={"sweep_every": "1s"})
    config = load_config(path)
    now = datetime.now(UTC)
    add_ticket(db, 5, due=now - timedelta(hours=1), chat=TEAM)
    services = SimpleNamespace(
        config=config, db=db, procedures=ProcedureStore(config.procedures_dir)
    )

    async def scenario() -> None:
        app = Application.builder().token(server.token).base_url(server.base_url).build()
        job = schedule_sweeps(app, services)
        assert job.name == "overdue-sweep"
        assert app.job_queue.jobs() == (job,)
        # The sweep owes; the outbox's sender, woken by it, sends.
        sender = OutboxSender(app.bot, Outbox(db, config))
        app.bot_data["sender"] = sender
        stop = asyncio.Event()
        async with app:
            await app.start()
            sending = asyncio.create_task(sender.run(stop))
            try:
                deadline = time.monotonic() + 30
                while not server.sent(TEAM) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
            finally:
                stop.set()
                await sending
                await app.stop()

    asyncio.run(scenario())
    (message,) = server.sent(TEAM)
    assert "#5" in message["text"]
    assert ticket(db, 5).remind_count == 1
