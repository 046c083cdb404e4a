"""Bursts: many people opening tickets at once in one team, and sending at Telegram's limit.

The real sopbot application, as shipped (its flood limiter: 30 messages a second overall, 20 a
minute per group), long-polls the test suite's fake Bot API on 127.0.0.1 in a thread of this
process, on SQLite.

1. **40 people open a ticket within 10 s**, each announced in the team's group when opened.
   The group can take 20 messages a minute, so announcements pile up: before the outbox, each
   waited for the group's slot inside the conversation, and the next person's first question
   waited behind it (up to 57 s). Measured: the time from each `/new` to its first question,
   and from a bystander's `/help` (every half second meanwhile) to its answer.
2. **Sustained sending**: 1,700 messages owed to 100 chats at once; the sender works through
   them through the 30-per-second limiter. Measured: messages per second from first to last,
   and that each arrived exactly once.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Result, percentile
from bot.app import build_services
from bot.config import ChatConfig, Config, DatabaseConfig, TelegramConfig
from bot.services.messages import Reply
from bot.services.outbox import owe
from tests.helpers.fake_telegram import BotThread, FakeTelegram, group_chat, private_chat, user

AREA = "burst"
TEAM_CHAT_ID = -1001000000001
PROCEDURE = """\
title: Burst request
triggers: {command: burst}
fields:
  - {name: summary, question: What happened?, type: text, min_length: 10}
sla: {due: 8h}
knowledge: {deflect: false}
"""
WAIT = 120.0  # seconds a burst may take before the run is declared stuck


def _bot(server: FakeTelegram, folder: Path, members: list[int]) -> tuple[BotThread, Any]:
    from bot.telegram.application import build_application, run

    (folder / "procedures").mkdir(exist_ok=True)
    (folder / "procedures" / "burst.yaml").write_text(PROCEDURE, encoding="utf-8")
    config = Config(
        telegram=TelegramConfig(token=server.token, base_url=server.base_url),
        database=DatabaseConfig(
            url=f"sqlite:///{folder / f'burst-{time.monotonic_ns()}.db'}", auto_migrate=True
        ),
        procedures_dir=folder / "procedures",
        knowledge_dir=folder / "knowledge",
        members=frozenset(members),
        chats=(ChatConfig(TEAM_CHAT_ID, "Team"),),
    )
    services = build_services(config, migrate_db=True)
    application = build_application(services)
    return BotThread(application, lambda: run(application, config, stop_signals=None)), services


def _first_reply(server: FakeTelegram, chat_id: int, after: int, timeout: float) -> float:
    """When the bot's first message to `chat_id` after call `after` arrived (wall clock)."""
    call = server.wait_for(
        lambda c: c.method == "sendMessage" and c.ok and c.params.get("chat_id") == chat_id,
        since=after,
        timeout=timeout,
    )
    return call.at


def _opening(people: int, spread: float, seed: int) -> dict[str, Any]:
    """`people` open a ticket each within `spread` seconds; a bystander asks for /help."""
    rng = random.Random(seed)
    persons = [user(5_000 + i, f"p{i}", f"Person {i}") for i in range(people)]
    bystander = user(4_999, "bystander", "Bystander")
    first_question: list[float] = []
    help_latency: list[float] = []
    errors: list[BaseException] = []
    with tempfile.TemporaryDirectory(prefix="sopbot-bench-burst-") as tmp, FakeTelegram() as server:
        server.add_chat(group_chat(TEAM_CHAT_ID, "Team"))
        bot, services = _bot(server, Path(tmp), [p["id"] for p in [*persons, bystander]])
        bot.start()
        try:
            stop = threading.Event()

            def person(p: dict[str, Any], delay: float) -> None:
                try:
                    time.sleep(delay)
                    chat = private_chat(p)
                    mark = server.mark()
                    start = time.time()
                    server.push_message(p, chat, "/new burst")
                    first_question.append(_first_reply(server, p["id"], mark, WAIT) - start)
                    mark = server.mark()
                    server.push_message(p, chat, "the nightly export job fails")
                    _first_reply(server, p["id"], mark, WAIT)
                    server.push_message(p, chat, "yes")
                except BaseException as e:  # reported in the main thread
                    errors.append(e)

            def ask_for_help() -> None:
                chat = private_chat(bystander)
                while not stop.is_set():
                    mark = server.mark()
                    start = time.time()
                    server.push_message(bystander, chat, "/help")
                    help_latency.append(_first_reply(server, bystander["id"], mark, WAIT) - start)
                    time.sleep(0.5)

            helper = threading.Thread(target=ask_for_help, daemon=True)
            threads = [
                threading.Thread(target=person, args=(p, rng.uniform(0, spread)), daemon=True)
                for p in persons
            ]
            helper.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join(WAIT)
            stop.set()
            helper.join(WAIT)
            if errors:
                raise RuntimeError("a simulated person got stuck") from errors[0]
            # Every announcement reaches the group (merged when they piled up).
            deadline = time.monotonic() + WAIT
            while services.outbox.owed_count() and time.monotonic() < deadline:
                time.sleep(0.2)
            announced = "\n".join(m["text"] for m in server.sent(TEAM_CHAT_ID))
            missing = [n for n in range(1, people + 1) if f"#{n}" not in announced]
            group_messages = len(server.sent(TEAM_CHAT_ID))
        finally:
            bot.stop()
    if missing:
        raise RuntimeError(f"tickets never announced: {missing[:5]}")
    return {
        "first_p50": percentile(first_question, 50),
        "first_p99": percentile(first_question, 99),
        "help_p99": percentile(help_latency, 99),
        "group_messages": group_messages,
        "people": people,
    }


def _sustained(messages: int, chats: int) -> dict[str, Any]:
    """`messages` owed at once to `chats` chats, sent through the shipped limiter."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="sopbot-bench-send-") as tmp, FakeTelegram() as server:
        people = [user(7_000 + i, f"s{i}", f"S {i}") for i in range(chats)]
        for p in people:
            server.add_chat(private_chat(p))
        bot, services = _bot(server, Path(tmp), [p["id"] for p in people])
        with services.db.transaction() as s:
            owe(
                s,
                [
                    Reply(people[i % chats]["id"], f"message {i}", kind="notice")
                    for i in range(messages)
                ],
                now,
            )
        mark = server.mark()
        bot.start()
        try:
            deadline = time.monotonic() + WAIT * 3
            while services.outbox.owed_count() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            bot.stop()
        sent = [c for c in server.calls()[mark:] if c.method == "sendMessage" and c.ok]
    if len(sent) != messages:
        raise RuntimeError(f"{len(sent)} messages sent of {messages} owed")
    texts = [c.params["text"] for c in sent]
    if len(set(texts)) != messages:
        raise RuntimeError("a message was sent twice")
    elapsed = sent[-1].at - sent[0].at
    return {"rate": (messages - 1) / elapsed, "seconds": elapsed, "messages": messages}


def run(quick: bool = False) -> list[Result]:
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    people, runs = (20, 1) if quick else (40, 3)
    burst = [_opening(people, 10.0, seed) for seed in range(runs)]
    sustained = _sustained(300 if quick else 1_700, 100)
    first_p99 = statistics.median(b["first_p99"] for b in burst) * 1000
    help_p99 = statistics.median(b["help_p99"] for b in burst) * 1000
    note = f"{people} people within 10 s, announcements on; median of {runs} runs"
    return [
        Result(
            AREA,
            "/new to the first question, p99",
            first_p99,
            "ms",
            "< 2000 ms",
            first_p99 < 2000,
            note,
        ),
        Result(
            AREA,
            "/new to the first question, p50",
            statistics.median(b["first_p50"] for b in burst) * 1000,
            "ms",
        ),
        Result(
            AREA,
            "a bystander's /help, p99",
            help_p99,
            "ms",
            "< 1000 ms",
            help_p99 < 1000,
            "one /help every half second during the burst",
        ),
        Result(
            AREA,
            "messages to the group for the announcements",
            statistics.median(b["group_messages"] for b in burst),
            "messages",
            "",
            None,
            f"{people} tickets opened; piled-up announcements merged",
        ),
        Result(
            AREA,
            "sustained sending through the 30/s limiter",
            sustained["rate"],
            "msg/s",
            ">= 28 msg/s",
            sustained["rate"] >= 28,
            f"{sustained['messages']} messages to 100 chats in {sustained['seconds']:.0f} s;"
            " each arrived exactly once",
        ),
    ]
