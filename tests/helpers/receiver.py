"""A webhook receiver on 127.0.0.1 that checks the signature the way a real one should, and
can be told to fail its first requests (500) to exercise retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.services.webhooks import verify


@dataclass
class Receiver:
    secret: str
    fail_first: int = 0
    url: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: bytes, signature: str) -> int:
        with self.lock:
            if not verify(self.secret, body, signature):
                self.bad_signatures += 1
                return 401
            if self.fail_first > 0:
                self.fail_first -= 1
                self.refused += 1
                return 500
            self.accepted.append(json.loads(body))
            return 204


@contextmanager
def receiving(secret: str, fail_first: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(secret, fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.handle(body, self.headers.get("X-Sopbot-Signature", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # a sender posts every ticket's lane at once

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
