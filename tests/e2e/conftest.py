"""End-to-end fixtures: the fake Bot API server, the team, and the bot running against both.

A test reads like a conversation:

    def test_private_message_gets_an_answer(running_bot, member):
        replies = running_bot.say(member, private_chat(member), "/help")
        assert "procedure" in replies[-1]["text"]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config, load_config
from bot.db import migrate
from bot.db.engine import make_engine
from tests.helpers.fake_telegram import (
    BotThread,
    FakeTelegram,
    JSONDict,
    group_chat,
    user,
)

ROOT = Path(__file__).resolve().parents[2]
TEAM_CHAT_ID = -1001000000001


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch):
    """python-telegram-bot warns on every RetryAfter unless opted in to timedelta periods
    (bot.telegram.application opts in for the bot; bare PTB objects in tests need this)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A fake Bot API server on 127.0.0.1 with an ephemeral port."""
    with FakeTelegram() as server:
        yield server


# --- the team --------------------------------------------------------------------------------


@pytest.fixture
def lead() -> JSONDict:
    return user(1001, "lena", "Lena")


@pytest.fixture
def member() -> JSONDict:
    return user(1002, "max", "Max")


@pytest.fixture
def stranger() -> JSONDict:
    return user(1999, "eve", "Eve")


@pytest.fixture
def team_chat() -> JSONDict:
    return group_chat(TEAM_CHAT_ID, "Support team")


@pytest.fixture
def forum_chat() -> JSONDict:
    return group_chat(-1001000000002, "Support forum", is_forum=True)


# --- configuration ---------------------------------------------------------------------------


@pytest.fixture
def bot_config_file(tmp_path, fake_telegram, lead, member, team_chat, forum_chat) -> Path:
    """A config file for the bot under test: the fake server, a temp SQLite file and a temp
    copy of procedures/ (so a test may break a procedure without touching the real ones)."""
    procedures = tmp_path / "procedures"
    shutil.copytree(ROOT / "procedures", procedures)
    (tmp_path / "knowledge").mkdir()
    data = {
        "telegram": {"token": fake_telegram.token, "base_url": fake_telegram.base_url},
        "database": {"url": "sqlite:///sopbot.db", "auto_migrate": True},
        "procedures_dir": "procedures",
        "knowledge_dir": "knowledge",
        "leads": [lead["id"]],
        "members": [member["id"]],
        "chats": [
            {"id": team_chat["id"], "name": team_chat["title"]},
            {"id": forum_chat["id"], "name": forum_chat["title"]},
        ],
        "log_level": "INFO",
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    # The bot's group chats exist on the "Telegram" side: the bot is a member of them.
    fake_telegram.add_chat(team_chat)
    fake_telegram.add_chat(forum_chat)
    return path


@pytest.fixture
def bot_config(bot_config_file) -> Config:
    """The effective configuration, read from `bot_config_file` as `sopbot run` reads it."""
    return load_config(bot_config_file, env={})


@pytest.fixture
def migrated(bot_config) -> Config:
    engine = make_engine(bot_config.database.url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return bot_config


# --- the bot, running --------------------------------------------------------------------------


@dataclass
class RunningBot:
    """The bot under test, polling the fake server; `say` and `press` act as a person."""

    server: FakeTelegram
    application: Any
    config: Config
    thread: BotThread
    services: Any = None
    quiet: float = 0.3
    extra: dict[str, Any] = field(default_factory=dict)

    def say(self, person: JSONDict, chat: JSONDict, text: str, **kw: Any) -> list[JSONDict]:
        """Write as `person`; returns what the bot sent (to any chat) in answer."""
        since = self.server.mark()
        self.server.push_message(person, chat, text, **kw)
        return self._answer(since)

    def send_file(
        self, person: JSONDict, chat: JSONDict, kind: str, content: bytes | None, **kw: Any
    ) -> list[JSONDict]:
        """Send a file as `person` (see `FakeTelegram.push_file`); returns the bot's answer."""
        since = self.server.mark()
        self.server.push_file(person, chat, kind, content, **kw)
        return self._answer(since)

    def press(
        self, person: JSONDict, chat: JSONDict, message_id: int, data: str
    ) -> tuple[str | None, list[JSONDict]]:
        """Press a button; returns the toast and what the bot sent or edited."""
        since = self.server.mark()
        query = self.server.push_callback(person, chat, message_id, data)
        answer = self.server.wait_for(
            lambda c: (
                c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") == query["id"]
            ),
            since=since,
        )
        return answer.params.get("text"), self._answer(since)

    def _answer(self, since: int) -> list[JSONDict]:
        self.server.wait_for(_shows_something, since=since)
        self.wait_quiet(since)
        return [
            c.result
            for c in self.server.calls()[since:]
            if c.ok and c.method in _SHOWING and isinstance(c.result, dict)
        ]

    def wait_quiet(self, since: int = 0, timeout: float = 10.0) -> None:
        """Wait until the bot has made no call but polling for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [c for c in self.server.calls()[since:] if c.method != "getUpdates"]
            last = max((c.at for c in busy), default=0.0)
            if time.time() - last >= self.quiet:
                return
            time.sleep(self.quiet / 3)
        raise AssertionError("the bot kept calling Telegram")


_SHOWING = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "sendVoice",
    "sendAudio",
    "sendVideo",
    "sendVideoNote",
    "sendAnimation",
    "editMessageText",
    "editMessageReplyMarkup",
)


def _shows_something(call) -> bool:
    return call.ok and call.method in (*_SHOWING, "answerCallbackQuery", "leaveChat")


@pytest.fixture
def start_bot(fake_telegram) -> Iterator[Callable[[Config, Any], RunningBot]]:
    """Start the adapter for `services` as `sopbot run` does, polling in a thread; stopped at
    the end of the test. `services` needs `.config`, `.conversation` and optionally `.db`."""
    from bot.telegram.application import build_application, run

    started: list[RunningBot] = []

    def start(config: Config, services: Any) -> RunningBot:
        application = build_application(services)
        thread = BotThread(application, lambda: run(application, config, stop_signals=None))
        thread.start()
        bot = RunningBot(fake_telegram, application, config, thread, services)
        started.append(bot)
        return bot

    yield start
    for bot in reversed(started):
        bot.thread.stop()


@pytest.fixture
def running_bot(start_bot, migrated) -> RunningBot:
    """The real bot (composition root, engine, SQLite) polling the fake server."""
    from bot.app import build_services

    return start_bot(migrated, build_services(migrated))


# --- `sopbot run` as a real process ----------------------------------------------------------


@dataclass
class SopbotProcess:
    """A `sopbot run` process; its output goes to a log file (read it with `log()`)."""

    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as systemd stops a service; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or power loss."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


@pytest.fixture
def sopbot_process(
    fake_telegram, bot_config_file, tmp_path
) -> Iterator[Callable[..., SopbotProcess]]:
    """Start `sopbot run --config <bot_config_file>` as a process; waits until it polls."""
    started: list[SopbotProcess] = []

    def start(*extra_args: str, wait: bool = True, timeout: float = 20.0) -> SopbotProcess:
        log_path = tmp_path / f"sopbot-{len(started)}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPBOT_")}
        since = fake_telegram.mark()
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(bot_config_file), *extra_args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
                env=env,
            )
        process = SopbotProcess(popen, log_path)
        started.append(process)
        if wait:
            try:
                fake_telegram.wait_for("getUpdates", timeout=timeout, since=since, answered=False)
            except AssertionError as e:
                process.kill()
                raise AssertionError(
                    f"sopbot did not start polling; its log:\n{process.log()}"
                ) from e
        return process

    yield start
    for process in started:
        process.kill()
