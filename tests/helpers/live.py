"""The live view served for real: uvicorn on a loopback port in a thread, stoppable and
restartable on the same port (a dropped connection, as browsers meet it)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

from bot.app import Services
from bot.config import Config, HttpConfig
from bot.db import migrate
from bot.db.engine import make_engine
from bot.http.server import build_server
from tests.helpers.engine import Harness, make_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_config(tmp: Path, database_url: str, port: int) -> Config:
    config = make_config(tmp, database_url)
    return replace(config, http=HttpConfig(enabled=True, port=port, dashboard=True))


def migrated(url: str) -> str:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


class LiveServer:
    """`sopbot run`'s HTTP server over `services`, in a thread of its own."""

    def __init__(self, config: Config, services: Services, *, poll: float = 0.05):
        self.config = config
        self.services = services
        self.poll = poll
        self.thread: threading.Thread | None = None
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.http.port}"

    def start(self) -> LiveServer:
        self.server = build_server(self.config, self.services)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live view did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)
        self.server = self.thread = None


def sign_in_link(harness: Harness, who) -> str:
    """The link `/dashboard` sends `who` in a private chat."""
    text = harness.say(who, "/dashboard").replies[0].text
    return text.split('href="', 1)[1].split('"', 1)[0]
