"""The Telegram adapter over real HTTP, with a scripted engine in place of the real one.

These check the adapter's own promises (what reaches the engine, how replies are shown, faults);
whole ticket flows with the real engine use the `running_bot` fixture.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import Config
from bot.db import migrate
from bot.services.database import Database
from bot.services.messages import Button, Incoming, Outcome, Reply
from bot.services.outbox import Outbox
from bot.telegram.commands import COMMANDS
from tests.helpers.fake_telegram import group_chat, private_chat


class ScriptedConversation:
    """A stand-in engine: answers by simple rules and records what it was given."""

    def __init__(self, team_chat_id: int):
        self.team_chat_id = team_chat_id
        self.incoming: list[Incoming] = []
        self.sent: list[tuple[int | None, int, int]] = []
        self.left: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()

    def handle(self, incoming: Incoming) -> Outcome:
        with self._lock:
            self.incoming.append(incoming)
        here = {
            "chat_id": incoming.chat_id,
            "thread_id": incoming.thread_id,
            "reply_to": None if incoming.is_private else incoming.message_id,
        }
        if incoming.callback_data is not None:
            choice = html.escape(incoming.callback_data)
            return Outcome(
                replies=[
                    Reply(
                        incoming.chat_id,
                        f"Chosen: <b>{choice}</b>",
                        edit_message_id=incoming.callback_message_id,
                    )
                ],
                toast=f"You chose {incoming.callback_data}",
            )
        text = incoming.text
        if text == "/boom":
            raise RuntimeError("the engine fell over")
        if text == "/ask":
            buttons = ((Button("Yes", "q:1:yes"), Button("No", "q:1:no")),)
            return Outcome([Reply(text="Laptop?", buttons=buttons, ticket_id=1, **here)])
        if text == "/long":
            return Outcome([Reply(text="\n".join(["line " + "x" * 95] * 100), **here)])
        if text == "/announce":
            return Outcome(
                [
                    Reply(text="Ticket #1 opened", ticket_id=1, **here),
                    Reply(self.team_chat_id, "New ticket #1", ticket_id=1, kind="announcement"),
                ]
            )
        return Outcome([Reply(text=f"echo: {html.escape(text)}", ticket_id=1, **here)])

    def messages_sent(self, delivered) -> None:
        with self._lock:
            self.sent += [(d.reply.ticket_id, d.chat_id, d.message_id) for d in delivered]

    def left_unknown_chat(self, chat_id: int, title: str | None, now) -> None:
        with self._lock:
            self.left.append((chat_id, title))


class ClosingDatabase(Database):
    """A real database that remembers being closed."""

    disposed = False

    def dispose(self) -> None:
        super().dispose()
        self.disposed = True


@dataclass
class Services:
    """The stand-in engine answers with replies to send; the outbox is real (the adapter owes
    its own reports there)."""

    config: Config
    conversation: ScriptedConversation
    db: ClosingDatabase
    outbox: Outbox
    inbox: Any = None  # the stand-in keeps no inbox: updates go straight to it
    procedures: Any = None

    def close(self) -> None:
        self.db.dispose()


@pytest.fixture
def services(bot_config, team_chat, tmp_path) -> Services:
    db = ClosingDatabase.from_url(f"sqlite:///{tmp_path / 'adapter.db'}")
    migrate.upgrade(db.engine)
    return Services(bot_config, ScriptedConversation(team_chat["id"]), db, Outbox(db, bot_config))


@pytest.fixture
def bot(start_bot, bot_config, services):
    return start_bot(bot_config, services)


def test_commands_are_registered_with_telegram_at_start(bot, fake_telegram):
    registered = [c["command"] for c in fake_telegram.commands()]
    assert registered == [c.command for c in COMMANDS]
    assert "catchup" in registered and "kb" in registered


def test_a_private_message_reaches_the_engine_and_its_answer_the_chat(bot, services, member):
    chat = private_chat(member)
    (reply,) = bot.say(member, chat, "my laptop <b>broke</b> & more")
    assert reply["text"] == "echo: my laptop <b>broke</b> & more"
    (seen,) = services.conversation.incoming
    assert (seen.user.user_id, seen.user.username) == (member["id"], "max")
    assert seen.chat_id == chat["id"]
    assert seen.is_private and seen.bot_username == "sopbot_test_bot"
    assert services.conversation.sent == [(1, chat["id"], reply["message_id"])]


def test_in_a_group_only_what_is_addressed_to_the_bot_reaches_it(
    bot, services, fake_telegram, member, team_chat
):
    fake_telegram.push_message(member, team_chat, "lunch anyone?")
    fake_telegram.push_message(member, team_chat, "/help@some_other_bot")
    (answer,) = bot.say(member, team_chat, "/ask@sopbot_test_bot")
    assert answer["reply_to_message"]["from"]["id"] == member["id"]
    bot.say(member, team_chat, "@sopbot_test_bot printer on fire")
    bot.say(member, team_chat, "yes", reply_to_message_id=answer["message_id"])
    texts = [(i.text, i.mentions_bot, i.reply_to_bot) for i in services.conversation.incoming]
    assert texts == [
        ("/ask", False, False),
        ("printer on fire", True, False),
        ("yes", False, True),
    ]


def test_a_forum_topic_keeps_its_thread(bot, services, member, forum_chat):
    (answer,) = bot.say(member, forum_chat, "/ask", thread_id=42)
    assert answer["message_thread_id"] == 42
    assert services.conversation.incoming[0].thread_id == 42


def test_a_button_press_is_answered_and_the_message_shows_the_choice(bot, member):
    chat = private_chat(member)
    (question,) = bot.say(member, chat, "/ask")
    assert question["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "q:1:yes"
    toast, shown = bot.press(member, chat, question["message_id"], "q:1:yes")
    assert toast == "You chose q:1:yes"
    (edited,) = shown
    assert edited["message_id"] == question["message_id"]
    assert edited["text"] == "Chosen: q:1:yes"
    assert "reply_markup" not in edited


def test_pressing_the_same_button_twice_is_harmless(bot, fake_telegram, member):
    chat = private_chat(member)
    (question,) = bot.say(member, chat, "/ask")
    bot.press(member, chat, question["message_id"], "q:1:yes")
    toast, _ = bot.press(member, chat, question["message_id"], "q:1:yes")
    assert toast == "You chose q:1:yes"
    edits = fake_telegram.calls("editMessageText")
    assert [c.status for c in edits] == [200, 400]  # "not modified", ignored


def test_a_long_answer_is_split_into_messages_telegram_accepts(bot, member):
    parts = bot.say(member, private_chat(member), "/long")
    assert len(parts) == 3
    assert all(len(p["text"]) <= 4096 for p in parts)


def test_an_announcement_goes_to_the_team_chat_and_is_linked_to_the_ticket(
    bot, services, member, team_chat
):
    # Replies to different chats are sent side by side, so they may arrive in either order.
    sent = {m["chat"]["id"]: m for m in bot.say(member, private_chat(member), "/announce")}
    assert sorted(sent) == sorted([member["id"], team_chat["id"]])
    announcement = sent[team_chat["id"]]
    assert (1, team_chat["id"], announcement["message_id"]) in services.conversation.sent


def test_a_group_that_is_not_the_teams_is_left_with_a_message(bot, services, fake_telegram, member):
    elsewhere = group_chat(-100999, "Random group")
    (goodbye,) = bot.say(member, elsewhere, "/new")
    assert goodbye["text"] == bot.config.telegram.unknown_chat_message
    fake_telegram.wait_for("leaveChat")
    assert fake_telegram.left_chats() == {elsewhere["id"]}
    assert services.conversation.incoming == []
    assert services.conversation.left == [(elsewhere["id"], "Random group")]  # audited


def test_being_added_to_an_unknown_group_makes_the_bot_leave(bot, fake_telegram, member):
    elsewhere = group_chat(-100998, "Another group")
    fake_telegram.push_bot_added(member, elsewhere)
    fake_telegram.wait_for("leaveChat")
    assert fake_telegram.left_chats() == {elsewhere["id"]}


def test_a_failing_update_is_reported_and_the_bot_carries_on(bot, fake_telegram, member, team_chat):
    chat = private_chat(member)
    shown = bot.say(member, chat, "/boom")
    sorry = [m for m in shown if m["chat"]["id"] == chat["id"]]
    report = [m for m in shown if m["chat"]["id"] == team_chat["id"]]
    assert "something went wrong" in sorry[0]["text"]
    assert "RuntimeError: the engine fell over" in report[0]["text"]
    assert fake_telegram.token not in report[0]["text"]
    (after,) = bot.say(member, chat, "still there?")
    assert after["text"] == "echo: still there?"


def test_a_failure_report_outlasts_an_outage_and_arrives_once(
    bot, fake_telegram, member, team_chat
):
    for _ in range(5):  # more than a send's own retries: the outbox keeps them
        fake_telegram.fail_next("sendMessage", status=502)
    chat = private_chat(member)
    fake_telegram.push_message(member, chat, "/boom")
    sorry = fake_telegram.wait_sent(chat["id"], timeout=30)
    report = fake_telegram.wait_sent(team_chat["id"], timeout=30)
    assert "something went wrong" in sorry["text"]
    assert "RuntimeError: the engine fell over" in report["text"]
    time.sleep(1.0)  # nothing more may follow
    assert len(fake_telegram.sent(chat["id"])) == 1
    assert len(fake_telegram.sent(team_chat["id"])) == 1


def test_flood_limits_are_waited_out_and_nothing_is_lost(bot, fake_telegram, member):
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1)
    (reply,) = bot.say(member, private_chat(member), "hello")
    assert reply["text"] == "echo: hello"
    assert [c.status for c in fake_telegram.calls("sendMessage")] == [429, 200]


def test_a_server_error_while_polling_is_retried(bot, fake_telegram, member):
    fake_telegram.fail_next("getUpdates", status=500)
    chat = private_chat(member)
    (reply,) = bot.say(member, chat, "after the outage")
    assert reply["text"] == "echo: after the outage"
    assert 500 in [c.status for c in fake_telegram.calls("getUpdates")]


def test_a_server_error_while_sending_is_retried_and_nothing_is_lost(bot, fake_telegram, member):
    fake_telegram.fail_next("sendMessage", status=500)
    (reply,) = bot.say(member, private_chat(member), "hello")
    assert reply["text"] == "echo: hello"
    assert [c.status for c in fake_telegram.calls("sendMessage")] == [500, 200]


def test_a_reply_telegram_refuses_is_reported_to_the_leads(bot, fake_telegram, member, team_chat):
    fake_telegram.fail_next("sendMessage", status=403)
    shown = bot.say(member, private_chat(member), "hello")
    (report,) = [m for m in shown if m["chat"]["id"] == team_chat["id"]]
    assert "not delivered" in report["text"] and "blocked" in report["text"]


def test_stopping_disposes_the_database(start_bot, bot_config, services):
    bot = start_bot(bot_config, services)
    bot.thread.stop()
    assert services.db.disposed
