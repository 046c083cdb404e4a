"""Nothing lost, nothing doubled: redelivered updates and a bot killed at random moments during a
burst, against the fake Bot API (which, like Telegram, sends an update again until a later
getUpdates offset confirms it)."""

from __future__ import annotations

import random
import re
import socket
import time
import urllib.request

import yaml
from sqlalchemy import create_engine, text

from bot.services.database import DatabaseBusy
from tests.helpers.fake_telegram import private_chat, user


def wait_until(predicate, timeout: float = 30.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(every)


def test_the_same_update_twice_and_the_same_message_under_a_new_update_make_one_ticket(
    running_bot, fake_telegram, member
):
    me = private_chat(member)
    message = fake_telegram.push_message(member, me, "/new bug the export button does nothing")
    again = fake_telegram.push_update({"message": message})  # a new update id, the same message
    fake_telegram.push_update(again)  # and that update once more
    wait_until(lambda: fake_telegram.sent(member["id"]))
    time.sleep(1.5)  # time for any doubled answer to show
    assert len(fake_telegram.sent(member["id"])) == 1
    with running_bot.services.db.reading() as s:
        from sqlalchemy import func, select

        from bot.db.models import InboxUpdate, Ticket

        assert s.scalar(select(func.count(Ticket.id))) == 1
        assert s.scalar(select(func.count(InboxUpdate.update_id))) == 1


def test_a_burst_survives_kill_9_at_random_moments_with_every_message_handled_once(
    sopbot_process, fake_telegram, bot_config_file, database_url
):
    people = [user(3000 + n, f"person{n}", f"Person {n}") for n in range(10)]
    config = yaml.safe_load(bot_config_file.read_text())
    config["members"] = [p["id"] for p in people]
    config["database"] = {"url": database_url, "auto_migrate": True}
    bot_config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    rng = random.Random(20261130)
    process = sopbot_process()
    pushed = 0
    kills = 0
    for round_ in range(5):
        for person in people:
            fake_telegram.push_message(
                person, private_chat(person), f"/new bug round {round_} of {person['first_name']}"
            )
            pushed += 1
        time.sleep(rng.uniform(0.05, 0.6))
        process.kill()
        kills += 1
        process = sopbot_process()

    # Every message answered with a question of its own ticket.
    def answered() -> dict[int, list[str]]:
        return {p["id"]: [m["text"] for m in fake_telegram.sent(p["id"])] for p in people}

    try:
        wait_until(lambda: all(len(a) >= 5 for a in answered().values()), timeout=60)
    except AssertionError:
        unsent = "outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        state = {
            "tickets": count(database_url, "tickets"),
            "inbox waiting": count(database_url, "inbox WHERE handled_at IS NULL"),
            "outbox owed": count(database_url, unsent),
            "answered": {k: len(v) for k, v in answered().items()},
            "pending": len(fake_telegram.pending_updates()),
        }
        raise AssertionError(f"{state}\n{process.log()[-3000:]}") from None
    assert process.stop() == 0
    tickets = count(database_url, "tickets")
    waiting = count(database_url, "inbox WHERE handled_at IS NULL")
    owed = count(database_url, "outbox WHERE sent_at IS NULL AND failed_at IS NULL")
    assert tickets == pushed == 50  # each message handled exactly once
    assert waiting == 0 and owed == 0
    numbers = [
        int(n) for texts in answered().values() for t in texts for n in re.findall(r"#(\d+)", t)
    ]
    assert set(numbers) == set(range(1, 51))  # every ticket's question reached its person
    # Telegram cannot be asked to send a message only once: a kill between its answer and our
    # record of it sends that one again. At most one per kill.
    assert len(numbers) - 50 <= kills


def count(url: str, rows: str) -> int:
    """`SELECT count(*) FROM <rows>` on the bot's database (either backend)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {rows}")).scalar_one()
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_without_telegram_the_feed_comes_up_and_the_bot_keeps_trying_until_it_connects(
    sopbot_process, fake_telegram, bot_config_file, member
):
    port = free_port()
    config = yaml.safe_load(bot_config_file.read_text())
    config["http"] = {"listen": "127.0.0.1", "port": port}
    bot_config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    for _ in range(3):  # Telegram unreachable for the first tries
        fake_telegram.fail_next("getMe", 502)
    process = sopbot_process(wait=False)
    wait_until(lambda: _healthy(port), timeout=15)  # up while Telegram is not
    fake_telegram.wait_for("getUpdates", timeout=30, answered=False)  # and it kept trying
    fake_telegram.push_message(member, private_chat(member), "/help")
    fake_telegram.wait_sent(member["id"], timeout=15)
    assert process.stop() == 0
    log = process.log()
    tries = [line for line in log.splitlines() if "cannot reach Telegram" in line]
    assert len(tries) == 3 and all("trying again at" in line for line in tries)
    assert fake_telegram.token not in log and fake_telegram.token.split(":")[1] not in log


def test_stopped_while_telegram_is_unreachable_it_exits_cleanly(
    sopbot_process, fake_telegram, member
):
    for _ in range(50):
        fake_telegram.fail_next("getMe", 502)
    process = sopbot_process(wait=False)
    wait_until(lambda: "cannot reach Telegram" in process.log(), timeout=15)
    assert process.stop() == 0


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def test_a_message_the_database_was_too_busy_for_is_handled_again_without_bothering_anyone(
    running_bot, fake_telegram, member
):
    tries = []

    def flaky(ctx, args):
        tries.append(ctx.now)
        if len(tries) == 1:
            raise DatabaseBusy("the database is busy")  # as Database.run says after its retries
        ctx.say("chat/empty.html")

    running_bot.services.registry.command("flaky", flaky)
    fake_telegram.push_message(member, private_chat(member), "/flaky")
    wait_until(lambda: fake_telegram.sent(member["id"]), timeout=20)
    time.sleep(1.0)
    (answer,) = fake_telegram.sent(member["id"])  # the answer, once; no apology first
    assert "Tell me in words" in answer["text"]
    assert len(tries) == 2
