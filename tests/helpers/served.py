"""The HTTP server of `sopbot run` for real on a loopback port, in a thread, for e2e tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bot.app import Services
from bot.config import Config
from bot.http.server import build_server


@contextmanager
def serving(config: Config, services: Services) -> Iterator[str]:
    """The base URL of the server, up until the block ends."""
    server = build_server(config, services, head_ttl=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
