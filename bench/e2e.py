"""End to end: whole tickets over HTTP through the fake Bot API, against a bare echo bot.

The conversation of `bench.engine` (first message, five answers with one invalid, confirm, two
steps, resolve) is pushed as Telegram updates into the test suite's fake Bot API server on
127.0.0.1; the real sopbot application (composition root, SQLite, `bot.telegram`) long-polls it
in a thread of this process. The floor is a bare python-telegram-bot application on the same
server in the same run: one MessageHandler answering with one `send_message`, one
CallbackQueryHandler answering with `answer_callback_query`, the same concurrency cap as sopbot.
Only one bot polls the server at a time, so the two take turns, run after run.

sopbot is measured twice. With its flood limiter lifted (no proactive 30 messages/s overall
and 20 a minute per group; "retry after" still waited out) it is compared with the echo bot,
which has no limiter: that ratio is the cost of sopbot's own work per message. As shipped, the
limiter caps it at Telegram's 30 sent messages a second, whatever the machine.

Closed loop: the next update is pushed only once the bot has finished the previous one (all its
calls answered), seen by a last handler group that both bots get. Each message's latency is
from the push to that moment. "Parallel" runs a few simulated people at once, each with their
own lead, so per-chat ordering does not serialise everything.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bench.common import Result, percentile
from bench.engine import LEAD, PROCEDURE, _script
from bot.app import build_services
from bot.config import ChatConfig, Config, DatabaseConfig, TelegramConfig
from bot.services.buttons import short_hash
from tests.helpers.fake_telegram import (
    BotThread,
    FakeTelegram,
    JSONDict,
    group_chat,
    private_chat,
    user,
)

AREA = "e2e"
TEAM_CHAT_ID = -1001000000001
TARGET_RATIO = 0.8
WAIT = 10.0  # seconds a single update may take before the run is declared stuck
LAST_GROUP = 1_000  # the handler group that notes an update as done, after every other
_TICKET = re.compile(r"#(\d+)")
_STEP_HASHES = {0: short_hash("triage"), 1: short_hash("fix")}


class _Done:
    """Which updates a bot has finished, so the driver can push the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: set[tuple[Any, ...]] = set()
        # sopbot sends what an update owes through its outbox, after the update's handlers
        # return: the update is finished once nothing is owed any more.
        self.owed: Callable[[], int] | None = None

    async def note(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The last handler group: every earlier handler of this update has returned."""
        if update.callback_query is not None:
            key: tuple[Any, ...] = ("q", update.callback_query.id)
        elif update.effective_message is not None:
            key = ("m", update.effective_message.chat_id, update.effective_message.message_id)
        else:
            return
        with self._cond:
            self._seen.add(key)
            self._cond.notify_all()

    def wait(self, key: tuple[Any, ...]) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._seen, timeout=WAIT):
                raise RuntimeError(f"the bot did not finish update {key} within {WAIT}s")
            self._seen.discard(key)
        if self.owed is not None:
            deadline = time.monotonic() + WAIT
            while self.owed():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the replies to update {key} were not sent within {WAIT}s")
                time.sleep(0.0005)


class _Person:
    """One simulated person with their own lead: two private chats with the bot."""

    def __init__(self, index: int):
        self.person = user(2_000 + index, f"person{index}", f"Person {index}")
        self.lead = user(1_000 + index, f"lead{index}", f"Lead {index}")

    def who(self, actor: Any) -> JSONDict:
        return self.lead if actor == LEAD else self.person


# --- the two bots ----------------------------------------------------------------------------


def _sopbot(
    server: FakeTelegram, folder: Path, leads: list[int], done: _Done, *, shipped: bool
) -> BotThread:
    from bot.telegram.application import RATE_LIMIT_RETRIES, build_application, run

    (folder / "procedures").mkdir(exist_ok=True)
    (folder / "procedures" / "bench.yaml").write_text(PROCEDURE, encoding="utf-8")
    db = folder / f"e2e-{time.monotonic_ns()}.db"
    config = Config(
        telegram=TelegramConfig(token=server.token, base_url=server.base_url),
        database=DatabaseConfig(url=f"sqlite:///{db}", auto_migrate=True),
        procedures_dir=folder / "procedures",
        knowledge_dir=folder / "knowledge",
        leads=frozenset(leads),
        chats=(ChatConfig(TEAM_CHAT_ID, "Team"),),
    )
    lifted = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=RATE_LIMIT_RETRIES)
    services = build_services(config, migrate_db=True)
    application = build_application(services, rate_limiter=None if shipped else lifted)
    application.add_handler(TypeHandler(Update, done.note), group=LAST_GROUP)
    done.owed = services.outbox.owed_count
    return BotThread(application, lambda: run(application, config, stop_signals=None))


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a message with its own text."""
    message = update.effective_message
    await context.bot.send_message(message.chat_id, message.text or "?")


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press."""
    await context.bot.answer_callback_query(update.callback_query.id, "ok")


def _echo_bot(server: FakeTelegram, done: _Done) -> BotThread:
    from bot.telegram.application import MAX_CONCURRENT_UPDATES, POLL_TIMEOUT

    application = (
        Application.builder()
        .token(server.token)
        .base_url(server.base_url)
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, _echo))
    application.add_handler(CallbackQueryHandler(_answer))
    application.add_handler(TypeHandler(Update, done.note), group=LAST_GROUP)
    return BotThread(
        application,
        lambda: application.run_polling(stop_signals=None, timeout=POLL_TIMEOUT),
    )


# --- driving conversations -------------------------------------------------------------------


def _last_bot_message(server: FakeTelegram, chat_id: int) -> int:
    sent = server.sent(chat_id)
    if not sent:
        raise RuntimeError(f"no message of the bot in chat {chat_id} to press a button under")
    return sent[-1]["message_id"]


def _say(server: FakeTelegram, done: _Done, who: JSONDict, text: str) -> float:
    chat = private_chat(who)
    start = time.perf_counter()
    message = server.push_message(who, chat, text)
    done.wait(("m", chat["id"], message["message_id"]))
    return time.perf_counter() - start


def _press(server: FakeTelegram, done: _Done, who: JSONDict, data: str) -> float:
    chat = private_chat(who)
    under = _last_bot_message(server, chat["id"])
    start = time.perf_counter()
    query = server.push_callback(who, chat, under, data)
    done.wait(("q", query["id"]))
    return time.perf_counter() - start


def _ticket(server: FakeTelegram, done: _Done, p: _Person, fallback: int) -> list[float]:
    """One whole ticket, each update pushed once the previous one is finished."""
    script = _script(0)
    who, text, _ = script[0]
    latencies = [_say(server, done, p.who(who), text)]
    shown = server.sent(p.person["id"])[-1].get("text", "")
    found = _TICKET.search(shown)
    number = int(found.group(1)) if found else fallback  # the echo bot has no numbers
    for who, text, button in _script(number)[1:]:
        if button is None:
            latencies.append(_say(server, done, p.who(who), text))
        else:
            if button.startswith("sd:"):
                button += _STEP_HASHES[int(button.split(":")[2])]
            latencies.append(_press(server, done, p.who(who), button))
    return latencies


def _drive(server: FakeTelegram, done: _Done, people: list[_Person], tickets: int):
    """`tickets` whole tickets per person, the people in parallel; (latencies, seconds)."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def person(index: int, p: _Person) -> None:
        try:
            for t in range(tickets):
                got = _ticket(server, done, p, fallback=index * tickets + t + 1)
                with lock:
                    latencies.extend(got)
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    threads = [
        threading.Thread(target=person, args=(i, p), name=f"bench-person-{i}", daemon=True)
        for i, p in enumerate(people)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError("a simulated person got stuck") from errors[0]
    return latencies, elapsed


def _warm_up(server: FakeTelegram, done: _Done, people: list[_Person]) -> None:
    """Every lead has a chat with the bot (a button needs a message to sit under); one ticket
    goes through, so connections are open and templates compiled before the clock starts."""
    for p in people:
        _say(server, done, p.lead, "/help")
    _ticket(server, done, people[0], fallback=1)


def _measure(
    server: FakeTelegram,
    start_bot: Callable[[_Done], BotThread],
    people: list[_Person],
    tickets: int,
    parallel: bool = True,
) -> dict[str, Any]:
    done = _Done()
    since = len(server.calls())
    bot = start_bot(done).start()
    try:
        _warm_up(server, done, people)
        closed, closed_s = _drive(server, done, people[:1], tickets)
        figures = {
            "closed": len(closed) / closed_s,
            "p50": percentile(closed, 50) * 1000,
            "p99": percentile(closed, 99) * 1000,
            "messages": len(closed),
        }
        opened = 1 + tickets
        if parallel:
            each = -(-tickets // len(people))
            together, together_s = _drive(server, done, people, each)
            figures |= {"parallel": len(together) / together_s, "together": len(together)}
            opened += each * len(people)
        _check(server, since, bot.application, opened)
    finally:
        bot.stop()
    return figures


def _check(server: FakeTelegram, since: int, application: Any, opened: int) -> None:
    """Every call was accepted, and sopbot resolved every ticket it was given."""
    refused = [c for c in server.calls()[since:] if c.status is not None and not c.ok]
    if refused:
        raise RuntimeError(f"the fake Bot API refused {len(refused)} calls, e.g. {refused[0]!r}")
    services = application.bot_data.get("services")
    if services is None:  # the echo bot
        return
    with services.db.engine.connect() as conn:
        statuses = dict(
            conn.execute(text("SELECT status, count(*) FROM tickets GROUP BY status")).all()
        )
    if statuses != {"resolved": opened}:
        raise RuntimeError(f"expected {opened} resolved tickets, found {statuses}")


def run(quick: bool = False) -> list[Result]:
    # Bare python-telegram-bot objects warn on every RetryAfter unless opted in (the bot's own
    # application opts in the same way).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    tickets, runs, parallel = (2, 3, 3) if quick else (10, 5, 4)
    people = [_Person(i) for i in range(parallel)]
    echo: list[dict[str, Any]] = []
    lifted: list[dict[str, Any]] = []
    shipped: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sopbot-bench-e2e-") as tmp, FakeTelegram() as server:
        folder = Path(tmp)
        server.add_chat(group_chat(TEAM_CHAT_ID, "Team"))  # where tickets are announced
        leads = [p.lead["id"] for p in people]

        def sopbot(shipped: bool) -> Callable[[_Done], BotThread]:
            return lambda done: _sopbot(server, folder, leads, done, shipped=shipped)

        # The bots take turns on the one server, run after run, so load from the machine's
        # other tenants falls on all of them alike.
        for _ in range(runs):
            echo.append(_measure(server, lambda done: _echo_bot(server, done), people, tickets))
            lifted.append(_measure(server, sopbot(False), people, tickets))
            shipped.append(_measure(server, sopbot(True), people, tickets, parallel=False))
    return results(echo, lifted, shipped, runs, parallel)


def _med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def _ratio(sop: list[dict[str, Any]], echo: list[dict[str, Any]], key: str) -> float:
    """The median of per-run ratios: each against the floor measured beside it."""
    return statistics.median(s[key] / e[key] for s, e in zip(sop, echo, strict=True))


def results(
    echo: list[dict[str, Any]],
    sop: list[dict[str, Any]],
    shipped: list[dict[str, Any]],
    runs: int,
    parallel: int,
) -> list[Result]:
    """The table's rows: each bot's figures per run (echo, sopbot lifted, sopbot shipped)."""
    one, many = _ratio(sop, echo, "closed"), _ratio(sop, echo, "parallel")
    target = f"≥ {TARGET_RATIO:g}"
    lifted = "flood limiter lifted"
    return [
        Result(
            AREA,
            "echo bot: messages/s, one person",
            _med(echo, "closed"),
            "msg/s",
            note=f"bare PTB; {echo[0]['messages']} updates, closed loop; {runs} runs",
        ),
        Result(AREA, "sopbot: messages/s, one person", _med(sop, "closed"), "msg/s", note=lifted),
        Result(AREA, "sopbot / echo, one person", one, "x", target, one >= TARGET_RATIO),
        Result(
            AREA,
            f"echo bot: messages/s, {parallel} people",
            _med(echo, "parallel"),
            "msg/s",
            note=f"{echo[0]['together']} updates, each person with their own lead",
        ),
        Result(
            AREA,
            f"sopbot: messages/s, {parallel} people",
            _med(sop, "parallel"),
            "msg/s",
            note=lifted,
        ),
        Result(AREA, f"sopbot / echo, {parallel} people", many, "x", target, many >= TARGET_RATIO),
        Result(
            AREA,
            "sopbot: latency p50 over HTTP",
            _med(sop, "p50"),
            "ms",
            note="push to the update's last Bot API call answered; one person",
        ),
        Result(AREA, "sopbot: latency p99 over HTTP", _med(sop, "p99"), "ms"),
        Result(AREA, "echo bot: latency p50 over HTTP", _med(echo, "p50"), "ms"),
        Result(
            AREA,
            "sopbot as shipped: messages/s, one person",
            _med(shipped, "closed"),
            "msg/s",
            note="with its flood limiter: at most 30 sent messages/s (Telegram's limit)",
        ),
        Result(AREA, "sopbot as shipped: latency p99", _med(shipped, "p99"), "ms"),
    ]
