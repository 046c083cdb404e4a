"""Replies become Bot API calls: split at 4,096, buttons on the last part, edits, attachments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from telegram import Chat, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.render import TELEGRAM_LIMIT
from bot.services.messages import Attachment, Button, Reply
from bot.telegram import send
from bot.telegram.send import DeliveryError, deliver, keyboard, plan

YES_NO = ((Button("Yes", "q:1:yes"), Button("No", "q:1:no")),)


def test_a_short_reply_is_one_message():
    (send,) = plan(Reply(chat_id=42, text="<b>Ticket #1</b> opened"))
    assert send.method == "send_message"
    assert send.kwargs == {"chat_id": 42, "text": "<b>Ticket #1</b> opened", "reply_markup": None}


def test_buttons_become_an_inline_keyboard_row_by_row():
    markup = keyboard((*YES_NO, (Button("Cancel", "q:1:cancel"),)))
    assert isinstance(markup, InlineKeyboardMarkup)
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [[("Yes", "q:1:yes"), ("No", "q:1:no")], [("Cancel", "q:1:cancel")]]


def test_no_buttons_means_no_keyboard():
    assert keyboard(()) is None
    assert keyboard(((),)) is None


def test_callback_data_over_64_bytes_is_a_bug_caught_before_sending():
    with pytest.raises(ValueError, match="1-64 bytes"):
        keyboard(((Button("x", "é" * 33),),))


def test_a_question_in_a_group_replies_to_the_reporters_message_in_its_topic():
    (send,) = plan(Reply(chat_id=-100, text="Which laptop?", reply_to=77, thread_id=5))
    assert send.kwargs["message_thread_id"] == 5
    params = send.kwargs["reply_parameters"]
    assert isinstance(params, ReplyParameters)
    assert (params.message_id, params.allow_sending_without_reply) == (77, True)


def test_a_long_reply_is_split_with_buttons_under_the_last_part_only():
    text = "\n".join(f"line {i}: " + "x" * 90 for i in range(120))
    sends = plan(Reply(chat_id=1, text=text, buttons=YES_NO, reply_to=9, thread_id=3))
    assert len(sends) > 1
    assert all(s.method == "send_message" for s in sends)
    assert all(len(s.kwargs["text"]) <= TELEGRAM_LIMIT for s in sends)
    assert "\n".join(s.kwargs["text"] for s in sends) == text
    with_keyboard = [s.kwargs["reply_markup"] is not None for s in sends]
    assert with_keyboard == [False] * (len(sends) - 1) + [True]
    assert "reply_parameters" in sends[0].kwargs
    assert all("reply_parameters" not in s.kwargs for s in sends[1:])
    assert all(s.kwargs["message_thread_id"] == 3 for s in sends)


def test_an_edit_changes_the_pressed_message_and_keeps_its_keyboard_choice():
    (send,) = plan(Reply(chat_id=1, text="Laptop: <b>yes</b>", edit_message_id=12, reply_to=3))
    assert send.method == "edit_message_text"
    assert send.kwargs == {
        "chat_id": 1,
        "message_id": 12,
        "text": "Laptop: <b>yes</b>",
        "reply_markup": None,
    }


def test_an_edit_too_long_for_one_message_continues_in_new_messages():
    text = "\n".join("y" * 100 for _ in range(60))
    sends = plan(Reply(chat_id=1, text=text, edit_message_id=12, buttons=YES_NO))
    assert sends[0].method == "edit_message_text"
    assert sends[0].kwargs["reply_markup"] is None
    assert [s.method for s in sends[1:]] == ["send_message"] * (len(sends) - 1)
    assert sends[-1].kwargs["reply_markup"] is not None


def test_a_photo_with_short_text_carries_it_as_caption():
    photo = Attachment("chart.png", b"\x89PNG", is_photo=True)
    (send,) = plan(Reply(chat_id=1, text="This week", attachment=photo, buttons=YES_NO))
    assert send.method == "send_photo"
    assert send.kwargs["caption"] == "This week"
    assert send.kwargs["photo"].filename == "chart.png"
    assert send.kwargs["reply_markup"] is not None


def test_a_document_with_long_text_comes_after_the_text():
    document = Attachment("audit.csv", b"a,b\n")
    sends = plan(Reply(chat_id=1, text="z" * 2000, attachment=document, reply_to=4))
    assert [s.method for s in sends] == ["send_message", "send_document"]
    assert sends[1].kwargs["caption"] is None
    assert sends[1].kwargs["document"].filename == "audit.csv"
    assert "reply_parameters" in sends[0].kwargs
    assert "reply_parameters" not in sends[1].kwargs


# --- delivering, against an in-memory bot ---------------------------------------------------


class RecordingBot:
    """Answers like the Bot API: each sent message gets the next id; failures on demand."""

    def __init__(self, fail: dict[int, Exception] | None = None, once: bool = False):
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail or {}
        self.once = once
        self.next_id = 100

    def __getattr__(self, method: str):
        async def call(**kwargs):
            self.calls.append((method, kwargs))
            chat_id = kwargs["chat_id"]
            if chat_id in self.fail:
                raise self.fail.pop(chat_id) if self.once else self.fail[chat_id]
            if method == "edit_message_text":
                raise BadRequest("Message is not modified: specified new message content ...")
            self.next_id += 1
            chat = Chat(kwargs["chat_id"], "private")
            return Message(self.next_id, datetime(2026, 1, 1, tzinfo=UTC), chat)

        return call


class Sink:
    def __init__(self):
        self.seen: list[tuple[int | None, int, int]] = []

    def messages_sent(self, delivered) -> None:
        self.seen += [(d.reply.ticket_id, d.chat_id, d.message_id) for d in delivered]


def test_the_engine_learns_where_each_ticket_message_landed():
    bot, sink = RecordingBot(), Sink()
    long_text = "\n".join("w" * 100 for _ in range(50))
    replies = [
        Reply(chat_id=1, text="Opened", ticket_id=7),
        Reply(chat_id=-5, text=long_text, ticket_id=7, kind="announcement"),
        Reply(chat_id=1, text="no ticket here"),
    ]
    asyncio.run(deliver(bot, replies, sink))
    # The bot numbers messages in the order it is called; chats may be served side by side.
    ids = [(call["chat_id"], call["text"]) for _, call in bot.calls]
    landed = {n: chat for n, (chat, _) in enumerate(ids, 101)}
    opened = next(n for n, (chat, text) in enumerate(ids, 101) if text == "Opened")
    announcement = [n for n, chat in landed.items() if chat == -5]
    assert len(announcement) == 2  # split in two messages, both lead to the ticket
    assert sorted(sink.seen) == sorted([(7, 1, opened), *((7, -5, n) for n in announcement)])


class SlowChatBot(RecordingBot):
    """Takes a while to answer for one chat, like a group under Telegram's flood limits."""

    def __init__(self, slow_chat: int):
        super().__init__()
        self.slow_chat = slow_chat
        self.order: list[str] = []

    def __getattr__(self, method: str):
        answer = super().__getattr__(method)

        async def call(**kwargs):
            if kwargs["chat_id"] == self.slow_chat:
                await asyncio.sleep(0.05)
            self.order.append(kwargs["text"])
            return await answer(**kwargs)

        return call


def test_a_slow_chat_does_not_hold_up_another_and_each_chat_keeps_its_order():
    bot, sink = SlowChatBot(slow_chat=-5), Sink()
    replies = [
        Reply(chat_id=-5, text="team 1", ticket_id=7),
        Reply(chat_id=1, text="person 1", ticket_id=7),
        Reply(chat_id=-5, text="team 2", ticket_id=7),
        Reply(chat_id=1, text="person 2", ticket_id=7),
    ]
    asyncio.run(deliver(bot, replies, sink))
    assert bot.order == ["person 1", "person 2", "team 1", "team 2"]
    assert len(sink.seen) == 4


class SlowEditBot(RecordingBot):
    """Edits take a while to answer; new messages do not."""

    def __init__(self):
        super().__init__()
        self.order: list[str] = []

    def __getattr__(self, method: str):
        answer = super().__getattr__(method)

        async def call(**kwargs):
            if method == "edit_message_text":
                await asyncio.sleep(0.05)
            self.order.append(kwargs["text"])
            return await answer(**kwargs)

        return call


def test_the_next_question_does_not_wait_for_the_pressed_one_to_be_edited():
    bot, sink = SlowEditBot(), Sink()
    replies = [
        Reply(chat_id=1, text="✔ api", edit_message_id=40, kind="edit"),
        Reply(chat_id=1, text="How many users?", ticket_id=7, kind="question"),
        Reply(chat_id=1, text="(optional) anything else?", ticket_id=7),
    ]
    asyncio.run(deliver(bot, replies, sink))
    assert bot.order == ["How many users?", "(optional) anything else?", "✔ api"]
    assert len(sink.seen) == 2


def test_one_reply_that_cannot_be_sent_does_not_keep_back_the_others():
    bot, sink = RecordingBot(fail={-5: Forbidden("bot was kicked")}), Sink()
    replies = [
        Reply(chat_id=-5, text="Announcement", ticket_id=7),
        Reply(chat_id=1, text="Opened", ticket_id=7),
    ]
    with pytest.raises(DeliveryError, match="chat -5: bot was kicked") as raised:
        asyncio.run(deliver(bot, replies, sink))
    assert sink.seen == [(7, 1, 101)]
    assert isinstance(raised.value.__cause__, Forbidden)


def test_an_edit_that_changes_nothing_is_not_an_error():
    bot, sink = RecordingBot(), Sink()
    asyncio.run(deliver(bot, [Reply(chat_id=1, text="same", edit_message_id=3)], sink))
    assert [m for m, _ in bot.calls] == ["edit_message_text"]
    assert sink.seen == []


def test_a_server_error_is_tried_again_and_the_reply_arrives(monkeypatch):
    monkeypatch.setattr(send, "RETRY_DELAY", 0)
    bot, sink = RecordingBot(fail={1: NetworkError("Internal Server Error")}, once=True), Sink()
    asyncio.run(deliver(bot, [Reply(chat_id=1, text="Opened", ticket_id=7)], sink))
    assert [m for m, _ in bot.calls] == ["send_message", "send_message"]
    assert sink.seen == [(7, 1, 101)]


def test_a_refusal_is_not_tried_again():
    bot, sink = RecordingBot(fail={1: Forbidden("blocked")}), Sink()
    with pytest.raises(DeliveryError):
        asyncio.run(deliver(bot, [Reply(chat_id=1, text="Opened")], sink))
    assert len(bot.calls) == 1
