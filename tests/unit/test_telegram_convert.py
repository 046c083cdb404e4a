"""Telegram updates become the engine's Incoming: who, where, what, and whether it is for us."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telegram import CallbackQuery, Message

from bot.domain.actors import Actor
from bot.telegram import convert
from tests.helpers.fake_telegram import entities_for, group_chat, private_chat, user

BOT = user(500, "sopbot_test_bot", "SOP bot") | {"is_bot": True}
ALICE = user(42, "alice", "Alice")
BOB = user(43, None, "Bob")
GROUP = group_chat(-100777, "Team")
FORUM = group_chat(-100888, "Forum", is_forum=True)
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
IDS = {"bot_id": BOT["id"], "bot_username": BOT["username"]}


def message(text="hi", chat=None, sender=ALICE, message_id=10, **extra) -> Message:
    data = {
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": chat or private_chat(sender),
        "from": sender,
        **extra,
    }
    if text is not None:
        data["text"] = text
        if entities_for(text):
            data["entities"] = entities_for(text)
    return Message.de_json(data, None)


def raw(msg: Message) -> dict:
    return msg.to_dict()


def incoming(msg: Message):
    return convert.from_message(msg, now=NOW, **IDS)


def test_a_private_message_carries_the_person_the_chat_and_the_text():
    got = incoming(message("my laptop is broken"))
    assert got.user == Actor(42, "Alice", "alice")
    assert (got.chat_id, got.chat_type, got.is_private) == (42, "private", True)
    assert got.text == "my laptop is broken"
    assert got.message_id == 10
    assert got.bot_username == "sopbot_test_bot"
    assert got.callback_data is None


def test_the_clock_is_the_adapters_not_the_updates_date():
    assert incoming(message()).now == NOW


def test_a_person_without_username_is_named_by_their_name():
    assert incoming(message(sender=BOB)).user == Actor(43, "Bob", None)


def test_private_messages_are_always_for_the_bot():
    assert convert.is_addressed_to_bot(message("anything at all"), **IDS)


@pytest.mark.parametrize(
    ("text", "addressed"),
    [
        ("just chatting", False),
        ("/new", True),
        ("/new@sopbot_test_bot vpn", True),
        ("/new@SopBot_Test_Bot", True),
        ("/new@some_other_bot", False),
        ("@sopbot_test_bot please help", True),
        ("hey @someone_else", False),
        ("mail me at a@sopbot_test_bot.example", False),
    ],
)
def test_in_groups_only_commands_and_mentions_are_for_the_bot(text, addressed):
    assert convert.is_addressed_to_bot(message(text, chat=GROUP), **IDS) is addressed


def test_in_groups_replies_to_the_bot_are_for_the_bot():
    mine = raw(message("a question", chat=GROUP, sender=BOT, message_id=5))
    others = raw(message("hello", chat=GROUP, sender=BOB, message_id=6))
    to_bot = message("my answer", chat=GROUP, message_id=7, reply_to_message=mine)
    to_bob = message("hi Bob", chat=GROUP, message_id=8, reply_to_message=others)
    assert convert.is_addressed_to_bot(to_bot, **IDS)
    assert not convert.is_addressed_to_bot(to_bob, **IDS)
    assert (incoming(to_bot).reply_to_message_id, incoming(to_bot).reply_to_bot) == (5, True)
    assert (incoming(to_bob).reply_to_message_id, incoming(to_bob).reply_to_bot) == (6, False)


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("/new@sopbot_test_bot vpn access", "/new vpn access"),
        ("/new vpn", "/new vpn"),
        ("@sopbot_test_bot please help", "please help"),
        ("hey @SOPBOT_TEST_BOT look at this", "hey look at this"),
        ("ask @someone_else", "ask @someone_else"),
        ("🙂 @sopbot_test_bot hi", "🙂 hi"),
        ("line one @sopbot_test_bot\nline two", "line one\nline two"),
    ],
)
def test_the_bots_own_name_is_taken_out_of_the_text(text, cleaned):
    assert incoming(message(text, chat=GROUP)).text == cleaned


def test_a_mention_sets_mentions_bot():
    assert incoming(message("@sopbot_test_bot hi", chat=GROUP)).mentions_bot
    assert not incoming(message("/new", chat=GROUP)).mentions_bot


def test_a_text_mention_of_the_bot_counts_as_a_mention():
    msg = message(
        "SOP bot help",
        chat=GROUP,
        entities=[{"type": "text_mention", "offset": 0, "length": 7, "user": BOT}],
    )
    assert convert.is_addressed_to_bot(msg, **IDS)
    assert incoming(msg).mentions_bot


def test_a_caption_is_the_text_of_a_photo():
    msg = message(None, caption="screenshot of the error", photo=[])
    assert incoming(msg).text == "screenshot of the error"


def test_a_forum_topic_keeps_its_thread_and_the_topic_opening_is_no_reply():
    opening = {
        "message_id": 3,
        "date": 1_700_000_000,
        "chat": FORUM,
        "from": ALICE,
        "message_thread_id": 3,
        "is_topic_message": True,
        "forum_topic_created": {"name": "Printers", "icon_color": 7322096},
    }
    msg = message(
        "/new",
        chat=FORUM,
        message_thread_id=3,
        is_topic_message=True,
        reply_to_message=opening,
    )
    got = incoming(msg)
    assert got.thread_id == 3
    assert got.reply_to_message_id is None
    assert not got.reply_to_bot


def test_a_reply_chain_in_an_ordinary_group_is_not_a_topic():
    earlier = raw(message("first", chat=GROUP, sender=BOB, message_id=4))
    msg = message("/new", chat=GROUP, message_thread_id=4, reply_to_message=earlier)
    assert incoming(msg).thread_id is None


def test_a_message_without_sender_is_skipped():
    msg = Message.de_json(
        {"message_id": 1, "date": 1_700_000_000, "chat": GROUP, "text": "channel post"}, None
    )
    assert incoming(msg) is None


def test_a_button_press_carries_its_data_and_the_pressed_message():
    pressed = raw(message("pick one", chat=GROUP, sender=BOT, message_id=12))
    query = CallbackQuery.de_json(
        {"id": "1", "from": ALICE, "chat_instance": "x", "message": pressed, "data": "t:5:ok"},
        None,
    )
    got = convert.from_callback(query, bot_username="sopbot_test_bot", now=NOW)
    assert got.user == Actor(42, "Alice", "alice")
    assert (got.chat_id, got.chat_type) == (GROUP["id"], "supergroup")
    assert (got.callback_data, got.callback_message_id) == ("t:5:ok", 12)
    assert got.message_id is None
    assert got.now == NOW


def test_a_button_without_a_chat_is_skipped():
    query = CallbackQuery.de_json(
        {"id": "1", "from": ALICE, "chat_instance": "x", "inline_message_id": "abc", "data": "d"},
        None,
    )
    assert convert.from_callback(query, bot_username="sopbot_test_bot", now=NOW) is None
