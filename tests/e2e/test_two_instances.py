"""Two `sopbot run` processes on one PostgreSQL database, in webhook mode behind a "load
balancer" (this test) that posts each update to one of them, and some to both (a retry): each
update is handled once and each reply sent once."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.helpers import databases
from tests.helpers.fake_telegram import private_chat, user

SECRET = "s3cret-webhook-token"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, update: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(0.1)


@pytest.fixture
def shared_database(postgres_template):
    url = databases.new_postgres_database(postgres_template)
    yield url
    databases.drop_postgres_database(url)


def test_two_instances_share_a_burst_handling_each_update_once_and_sending_each_reply_once(
    fake_telegram, bot_config_file, tmp_path, shared_database
):
    people = [user(6000 + n, f"w{n}", f"Webhook {n}") for n in range(10)]
    for p in people:
        fake_telegram.add_chat(private_chat(p))
    base = yaml.safe_load(bot_config_file.read_text())
    base["members"] = [p["id"] for p in people]
    base["database"] = {"url": shared_database, "auto_migrate": False}
    ports = [free_port(), free_port()]
    processes = []
    try:
        for i, port in enumerate(ports):
            config = dict(base)
            config["telegram"] = dict(
                base["telegram"],
                mode="webhook",
                webhook={
                    "url": "https://bot.example.com/telegram",
                    "listen": "127.0.0.1",
                    "port": port,
                    "path": "telegram",
                    "secret_token": SECRET,
                },
            )
            path = tmp_path / f"instance-{i}.yaml"
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            env = {k: v for k, v in os.environ.items() if not k.startswith("SOPBOT_")}
            with (tmp_path / f"instance-{i}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "run", "--config", str(path)],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=tmp_path,
                        env=env,
                    )
                )
        for port in ports:
            wait_until(lambda port=port: _listening(port), timeout=30)

        rng = random.Random(7)
        update_id = 90_000
        for round_ in range(5):
            for n, p in enumerate(people):
                update_id += 1
                update = {
                    "update_id": update_id,
                    "message": {
                        "message_id": 100 * round_ + n + 1,
                        "date": int(time.time()),
                        "chat": {"id": p["id"], "type": "private", "first_name": p["first_name"]},
                        "from": p,
                        "text": f"/new bug round {round_} from {p['first_name']}",
                        "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
                    },
                }
                first = rng.choice(ports)
                assert post(first, update) == 200
                if rng.random() < 0.3:  # the balancer retries on the other instance
                    assert post(ports[1 - ports.index(first)], update) == 200

        def numbers() -> list[int]:
            return [
                int(m)
                for p in people
                for sent in fake_telegram.sent(p["id"])
                for m in re.findall(r"#(\d+)", sent["text"])
            ]

        wait_until(lambda: len(set(numbers())) == 50, timeout=60)
        time.sleep(1.0)  # anything sent twice would show by now
        assert sorted(numbers()) == list(range(1, 51))  # each reply once
        engine = create_engine(shared_database)
        with engine.connect() as conn:
            tickets = conn.execute(text("SELECT count(*) FROM tickets")).scalar()
            waiting = conn.execute(
                text("SELECT count(*) FROM inbox WHERE handled_at IS NULL")
            ).scalar()
        engine.dispose()
        assert tickets == 50 and waiting == 0  # each update handled once
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(15)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
