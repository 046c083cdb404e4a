"""Signed webhooks to a receiver on 127.0.0.1: each change-feed item once, in order per ticket,
after retries with back-off when the receiver answered 500; and `sopbot webhooks test`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
import yaml

from bot.cli import main
from bot.config import WebhookTargetConfig
from bot.http.webhook_sender import WebhookSender
from tests.helpers.engine import ANN, BOB, Harness, make_config
from tests.helpers.receiver import receiving

SECRET = "s" * 32


def team_with(tmp_path, database_url, now, *targets: WebhookTargetConfig) -> Harness:
    return Harness(replace(make_config(tmp_path, database_url), webhooks=targets), now)


def deliver(team: Harness, rounds: int = 12) -> None:
    """Run the sender as `sopbot run` does, with the test's clock, moving past each back-off."""
    sender = WebhookSender(team.services.webhooks, clock=lambda: team.now)

    async def go() -> None:
        try:
            for _ in range(rounds):
                await sender.run_once()
                team.tick(seconds=61)
        finally:
            await sender.http.aclose()

    asyncio.run(go())


@pytest.mark.backends
def test_items_arrive_signed_once_each_and_in_order_per_ticket_after_500s(
    tmp_path, database_url, now
):
    with receiving(SECRET, fail_first=3) as receiver:
        team = team_with(
            tmp_path, database_url, now, WebhookTargetConfig("ops", receiver.url, SECRET)
        )
        try:
            deliver(team, rounds=1)  # a new webhook starts at the feed's head
            team.say(ANN, "/new bug")
            team.say(ANN, "the printer is on fire")
            team.say(BOB, "/new bug")
            team.say(BOB, "the coffee machine leaks")
            team.say(ANN, "yes")
            deliver(team)
            waiting = team.services.webhooks.waiting()
        finally:
            team.close()

    seqs = [a["item"]["seq"] for a in receiver.accepted]
    assert receiver.refused == 3 and receiver.bad_signatures == 0
    assert len(seqs) == len(set(seqs)) and waiting == 0
    for ticket in {a["item"]["ticket"] for a in receiver.accepted}:
        mine = [a["item"]["seq"] for a in receiver.accepted if a["item"]["ticket"] == ticket]
        assert mine == sorted(mine)
    assert {a["item"]["kind"] for a in receiver.accepted} >= {"ticket.opened", "field.set"}
    last = receiver.accepted[-1]
    assert last["cursor"] == last["item"]["hash"]  # resume /changes?cursor= from here


@pytest.mark.backends
def test_a_webhook_gets_only_the_kinds_it_lists(tmp_path, database_url, now):
    with receiving(SECRET) as receiver:
        target = WebhookTargetConfig("opened", receiver.url, SECRET, events=("ticket.opened",))
        team = team_with(tmp_path, database_url, now, target)
        try:
            deliver(team, rounds=1)
            team.say(ANN, "/new bug")
            team.say(ANN, "the printer is on fire")
            deliver(team, rounds=2)
        finally:
            team.close()

    assert [a["item"]["kind"] for a in receiver.accepted] == ["ticket.opened"]


def test_a_receiver_that_stays_down_is_retried_with_growing_back_off(tmp_path, now):
    from bot.services.webhooks import backoff

    assert [backoff(n) for n in (0, 1, 2, 3)] == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert backoff(30) == timedelta(minutes=5)


def test_webhooks_test_sends_a_signed_sample(tmp_path, capsys):
    with receiving(SECRET) as receiver:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump({"webhooks": [{"name": "ops", "url": receiver.url, "secret": SECRET}]})
        )
        code = main(["webhooks", "test", "ops", "--config", str(config)])
        with pytest.raises(SystemExit) as unknown:
            main(["webhooks", "test", "nope", "--config", str(config)])

    assert code == 0 and unknown.value.code == 2
    assert [a["item"]["kind"] for a in receiver.accepted] == ["webhook.test"]
    assert "ops" in capsys.readouterr().out
