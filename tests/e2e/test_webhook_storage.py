"""Webhook mode while the database cannot store: Telegram is not told an update arrived until it
is stored, so its retry (after a timeout) loses nothing, and the update is handled once."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from tests.e2e.test_two_instances import SECRET, _listening, free_port, wait_until
from tests.helpers.fake_telegram import private_chat


def deliver(port: int, update: dict, timeout: float) -> int | None:
    """POST as Telegram does; None when no answer came in time (Telegram then sends it again)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except (TimeoutError, urllib.error.URLError):
        return None


def test_an_update_posted_while_the_database_is_locked_is_answered_only_once_stored(
    fake_telegram, bot_config_file, tmp_path, member
):
    fake_telegram.add_chat(private_chat(member))
    config = yaml.safe_load(bot_config_file.read_text())
    port = free_port()
    config["telegram"] |= {
        "mode": "webhook",
        "webhook": {
            "url": "https://bot.example.com/telegram",
            "listen": "127.0.0.1",
            "port": port,
            "path": "telegram",
            "secret_token": SECRET,
        },
    }
    bot_config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPBOT_")}
    with (tmp_path / "bot.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(bot_config_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
    try:
        wait_until(lambda: _listening(port), timeout=30)
        update = {
            "update_id": 4242,
            "message": {
                "message_id": 7,
                "date": int(time.time()),
                "chat": {"id": member["id"], "type": "private", "first_name": member["first_name"]},
                "from": member,
                "text": "/new bug the export is broken",
                "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
            },
        }
        # Another program holds the database's write lock: nothing can be stored.
        locker = sqlite3.connect(tmp_path / "sopbot.db", timeout=10)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            assert deliver(port, update, timeout=2) is None  # not confirmed: not stored
            assert deliver(port, update, timeout=2) is None  # Telegram's retry, the same
            assert fake_telegram.sent(member["id"]) == []
        finally:
            locker.rollback()
            locker.close()
        # The lock is gone: the next retry is confirmed, and the update handled once.
        wait_until(lambda: deliver(port, update, timeout=10) == 200, timeout=60)
        fake_telegram.wait_sent(member["id"], contains="#1", timeout=30)
        time.sleep(1.5)  # a second ticket or a second answer would show by now
        sent = [m["text"] for m in fake_telegram.sent(member["id"])]
        assert sum("#1" in t for t in sent) == 1 and not any("#2" in t for t in sent)
        with sqlite3.connect(tmp_path / "sopbot.db") as conn:
            assert conn.execute("SELECT count(*) FROM tickets").fetchone() == (1,)
            assert conn.execute("SELECT count(*) FROM inbox").fetchone() == (1,)
    finally:
        process.terminate()
        process.wait(15)
