"""Agents in Telegram: another bot's messages (a command to us, or a reply to us) are handled
like a member's when its id is under `agents:`, and ignored otherwise."""

from __future__ import annotations

import time

import pytest
import yaml

from bot.config import load_config
from bot.db import migrate
from bot.db.engine import make_engine
from tests.helpers.fake_telegram import user

AGENT_ID, ROGUE_ID = 777000111, 777000222


def a_bot(id: int, username: str) -> dict:
    return {**user(id, username), "is_bot": True}


@pytest.fixture
def agents_bot(start_bot, bot_config_file):
    data = yaml.safe_load(bot_config_file.read_text())
    data["agents"] = [AGENT_ID]
    bot_config_file.write_text(yaml.safe_dump(data))
    config = load_config(bot_config_file, env={})
    engine = make_engine(config.database.url)
    migrate.upgrade(engine)
    engine.dispose()
    from bot.app import build_services

    return start_bot(config, build_services(config))


def test_a_listed_agent_bot_is_answered_like_a_member(agents_bot, fake_telegram, team_chat):
    agent = a_bot(AGENT_ID, "helper_agent_bot")
    replies = agents_bot.say(agent, team_chat, f"/help@{fake_telegram.bot_username}")
    assert replies and all(r["chat"]["id"] == team_chat["id"] for r in replies)
    assert "/new" in replies[0]["text"]  # the help a member gets, not the stranger's refusal


def test_an_unlisted_bot_would_not_pass_as_a_member_either(bot_config):
    assert not bot_config.is_member(ROGUE_ID)


def test_another_bot_is_ignored_not_even_refused(agents_bot, fake_telegram, team_chat):
    rogue = a_bot(ROGUE_ID, "rogue_bot")
    since = fake_telegram.mark()
    fake_telegram.push_message(rogue, team_chat, f"/new@{fake_telegram.bot_username} hi")
    time.sleep(1.0)  # the bot polls every few hundred ms: time enough to have answered
    agents_bot.wait_quiet(since)
    sent = [c for c in fake_telegram.calls()[since:] if c.method == "sendMessage"]
    assert sent == []
