"""Running the HTTP API inside the bot's own event loop, beside python-telegram-bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator

import uvicorn

from bot.app import Services
from bot.config import Config
from bot.http.app import DEFAULT_HEAD_TTL, create_app
from bot.http.dashboard.app import Dashboard

log = logging.getLogger(__name__)


class HttpServerError(Exception):
    """The HTTP API could not start (most often: the port is taken)."""


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the bot's entry point owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_server(
    config: Config,
    services: Services,
    *,
    head_ttl: float = DEFAULT_HEAD_TTL,
    dashboard: Dashboard | None = None,
) -> uvicorn.Server:
    """A uvicorn server for `config.http` over the database of `services`."""
    api = services.api if config.http.clients else None
    app = create_app(config, services.db, head_ttl=head_ttl, api=api, dashboard=dashboard)
    return _Server(
        uvicorn.Config(
            app,
            host=config.http.listen,
            port=config.http.port,
            log_config=None,  # logging is configured once, at the entry point
            access_log=False,
            lifespan="on" if api is not None else "off",  # the MCP endpoint's sessions
            server_header=False,
            # The sans-I/O protocol costs the least per pushed frame (docs/performance.md).
            ws="websockets-sansio",
        )
    )


async def serve(config: Config, services: Services, stop_event: asyncio.Event) -> None:
    """Serve the API until `stop_event` is set; then finish open requests and return."""
    # Webhooks are delivered from this loop too, with or without the HTTP API itself.
    sender = None
    if config.webhooks:
        from bot.http.webhook_sender import WebhookSender

        sender = asyncio.create_task(WebhookSender(services.webhooks).run(stop_event))
    if not config.http.enabled:
        await stop_event.wait()
        if sender is not None:
            await sender
        return
    server = build_server(config, services)

    async def stop_when_asked() -> None:
        await stop_event.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stop_when_asked())
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits when it cannot bind; never let that end the bot
        raise HttpServerError(
            f"cannot listen on {config.http.listen}:{config.http.port} (port taken?)"
        ) from None
    finally:
        watcher.cancel()
        if sender is not None:
            stop_event.set()
            await sender


class ServerThread:
    """The HTTP API in a thread of its own, up before the bot reaches Telegram (and while it
    cannot): `/healthz` and the change feed answer whatever Telegram does."""

    def __init__(self, config: Config, services: Services):
        self.config = config
        self.services = services
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="http", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(5)
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            try:
                await serve(self.config, self.services, self._stop)
            except HttpServerError as e:
                log.error("%s", e)

        asyncio.run(main())

    def stop(self, timeout: float = 10.0) -> None:
        """Finish open requests and stop."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
