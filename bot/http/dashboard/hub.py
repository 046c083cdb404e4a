"""One reader of the audit head per process, pushing each new change to every browser allowed
to see it.

The hub looks at the head (the newest sequence number, one index lookup) every `poll` seconds,
and at once when this process commits; so a change committed by another sopbot process on the
same database reaches this process's browsers within `poll`. A batch is handed to the clients
and the hub's position moved past it with no await in between, so a browser that joins sees
each change exactly once: the hub's pushes after the position it joined at, its own replay up
to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.services import live
from bot.services.database import Database

log = logging.getLogger(__name__)

DEFAULT_POLL = 0.05
# A browser this many changes behind is cut off; it reconnects with its cursor and catches up
# from the database, so a slow reader never holds memory for long.
QUEUE_LIMIT = 1000


class Client:
    """One connected browser: who it is, and what is waiting to be sent to it."""

    __slots__ = ("queue", "viewer")

    def __init__(self, viewer: live.Viewer):
        self.viewer = viewer
        self.queue: asyncio.Queue[live.LiveChange | None] = asyncio.Queue(QUEUE_LIMIT)

    def offer(self, change: live.LiveChange) -> None:
        self.viewer = self.viewer.learning(change)
        if not self.viewer.sees(change):
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.cut_off()

    def cut_off(self) -> None:
        """Ask the connection to close; its browser reconnects with its cursor."""
        with contextlib.suppress(asyncio.QueueFull):
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Hub:
    """Started by the first browser that connects; runs in the HTTP server's event loop."""

    def __init__(self, db: Database, *, poll: float = DEFAULT_POLL):
        self.db = db
        self.poll = poll
        self.clients: set[Client] = set()
        self.seq = 0  # every change up to here has been handed to the clients
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    async def join(self, viewer: live.Viewer) -> tuple[Client, int]:
        """A new client and the position it joins at: it will be pushed every change after."""
        await self._start()
        client = Client(viewer)
        self.clients.add(client)
        return client, self.seq

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    async def _start(self) -> None:
        async with self._starting:
            if self._task is not None:
                return
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self.seq = await asyncio.to_thread(self._read_head)
            self.db.on_commit(self._poke)
            self._task = asyncio.create_task(self._run(), name="live-hub")

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)

    def _read_head(self) -> int:
        with self.db.reading() as session:
            return live.head_seq(session)

    def _read_after(self, seq: int, until: int | None) -> live.Batch:
        with self.db.reading() as session:
            return live.changes_after(session, seq, until=until)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            poked = False
            with contextlib.suppress(TimeoutError):
                poked = await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            try:
                await self._catch_up(poked)
            except Exception:  # the database may be briefly away; look again next time
                log.exception("the live view could not read new changes")
                await asyncio.sleep(1)

    async def _catch_up(self, poked: bool) -> None:
        # Poked by a commit here: read what is new at once. Otherwise look at the head first,
        # the cheapest query there is, and read only when it moved.
        head = None if poked else await asyncio.to_thread(self._read_head)
        while head is None or head > self.seq:
            batch = await asyncio.to_thread(self._read_after, self.seq, head)
            clients = list(self.clients)
            for change in batch.changes:
                for client in clients:
                    client.offer(change)
            if batch.last_seq == self.seq:
                return
            self.seq = batch.last_seq

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
