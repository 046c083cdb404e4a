"""The fake Bot API server speaks the protocol python-telegram-bot speaks, over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from telegram import Bot, InputFile, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    JobQueue,
    MessageHandler,
    filters,
)

from tests.helpers.fake_telegram import (
    BotThread,
    FakeTelegram,
    group_chat,
    parse_html,
    private_chat,
    user,
)

ALICE = user(42, "alice", "Alice")


def run(coroutine):
    return asyncio.run(coroutine)


def bot_for(server: FakeTelegram, **kw) -> Bot:
    return Bot(server.token, base_url=server.base_url, **kw)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say back what was said."""
    await update.effective_message.reply_text(f"you said: {update.effective_message.text}")


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press with its data."""
    await update.callback_query.answer(f"pressed {update.callback_query.data}")


def echo_application(server: FakeTelegram) -> Application:
    application = (
        Application.builder()
        .token(server.token)
        .base_url(server.base_url)
        .get_updates_read_timeout(3)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    return application


def test_echo_bot_answers_a_pushed_message_over_http(fake_telegram):
    with BotThread(echo_application(fake_telegram)):
        fake_telegram.push_message(ALICE, private_chat(ALICE), "hello")
        reply = fake_telegram.wait_sent(ALICE["id"])
    assert reply["text"] == "you said: hello"
    assert reply["from"]["username"] == fake_telegram.bot_username
    methods = [c.method for c in fake_telegram.calls()]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert "getUpdates" in methods


def test_a_bot_stopped_the_moment_it_runs_stops(fake_telegram, monkeypatch):
    started = JobQueue.start

    async def slow_start(self) -> None:
        await started(self)
        time.sleep(0.05)  # the bot's thread losing the GIL here, made certain

    monkeypatch.setattr(JobQueue, "start", slow_start)
    application = echo_application(fake_telegram)
    BotThread(application).start().stop(timeout=5)
    assert not application.running


def test_button_press_reaches_the_bot_and_is_answered(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    sent = run(_send(fake_telegram, chat["id"], "pick", reply_markup=_keyboard("a")))
    with BotThread(echo_application(fake_telegram)):
        fake_telegram.push_callback(ALICE, chat, sent["message_id"], "a")
        answer = fake_telegram.wait_for("answerCallbackQuery")
    assert answer.ok
    assert answer.params["text"] == "pressed a"


def test_updates_below_the_offset_are_confirmed_and_not_sent_again(fake_telegram):
    chat = private_chat(ALICE)
    first = fake_telegram.push_message(ALICE, chat, "one")
    fake_telegram.push_message(ALICE, chat, "two")

    async def poll():
        async with bot_for(fake_telegram) as bot:
            both = await bot.get_updates(timeout=0)
            rest = await bot.get_updates(offset=both[-1].update_id + 1, timeout=0)
            return both, rest

    both, rest = run(poll())
    assert [u.message.text for u in both] == ["one", "two"]
    assert both[0].message.message_id == first["message_id"]
    assert rest == ()
    assert fake_telegram.pending_updates() == []


def test_long_poll_waits_for_an_update_and_returns_as_soon_as_it_comes(fake_telegram):
    chat = private_chat(ALICE)
    timer = threading.Timer(0.3, fake_telegram.push_message, (ALICE, chat, "late"))

    async def poll():
        async with bot_for(fake_telegram) as bot:
            started = time.monotonic()
            timer.start()
            updates = await bot.get_updates(timeout=5)
            return updates, time.monotonic() - started

    updates, waited = run(poll())
    timer.join()
    assert [u.message.text for u in updates] == ["late"]
    assert 0.2 < waited < 3


def test_long_poll_returns_nothing_when_the_timeout_passes(fake_telegram):
    async def poll():
        async with bot_for(fake_telegram) as bot:
            started = time.monotonic()
            return await bot.get_updates(timeout=1), time.monotonic() - started

    updates, waited = run(poll())
    assert updates == ()
    assert 0.9 < waited < 3


def test_a_second_poller_ends_the_first_with_a_conflict(fake_telegram):
    async def two_pollers():
        async with bot_for(fake_telegram) as first, bot_for(fake_telegram) as second:
            waiting = asyncio.create_task(first.get_updates(timeout=5))
            await asyncio.sleep(0.2)
            await second.get_updates(timeout=0)
            with pytest.raises(Conflict, match="terminated by other getUpdates"):
                await waiting

    run(two_pollers())


def test_get_updates_is_refused_while_a_webhook_is_set(fake_telegram):
    async def poll():
        async with bot_for(fake_telegram) as bot:
            await bot.set_webhook("https://example.invalid/hook")
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates(timeout=0)
            await bot.delete_webhook()
            return await bot.get_updates(timeout=0)

    assert run(poll()) == ()


def test_429_with_retry_after_is_retried_by_the_rate_limiter(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1)

    async def send():
        limiter = AIORateLimiter(max_retries=2)
        bot = ExtBot(fake_telegram.token, base_url=fake_telegram.base_url, rate_limiter=limiter)
        async with bot:
            return await bot.send_message(chat["id"], "after a pause")

    started = time.monotonic()
    message = run(send())
    assert time.monotonic() - started >= 1
    assert message.text == "after a pause"
    statuses = [c.status for c in fake_telegram.calls("sendMessage")]
    assert statuses == [429, 200]
    assert fake_telegram.calls("sendMessage")[0].description.startswith("Too Many Requests")


def test_500_surfaces_as_a_network_error_once(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    fake_telegram.fail_next("sendMessage", status=500)

    async def send_twice():
        async with bot_for(fake_telegram) as bot:
            with pytest.raises(NetworkError, match="Internal Server Error"):
                await bot.send_message(chat["id"], "first")
            return await bot.send_message(chat["id"], "second")

    assert run(send_twice()).text == "second"
    assert [m["text"] for m in fake_telegram.sent(chat["id"])] == ["second"]


def test_unknown_methods_are_not_found(fake_telegram):
    async def call():
        async with bot_for(fake_telegram) as bot:
            await bot.do_api_request("frobnicate")

    with pytest.raises(EndPointNotFound):
        run(call())
    assert fake_telegram.calls("frobnicate")[0].status == 404


def test_a_wrong_token_is_unauthorized(fake_telegram):
    async def call():
        async with Bot("1:wrong", base_url=fake_telegram.base_url):
            pass

    with pytest.raises(InvalidToken):
        run(call())


def test_html_telegram_cannot_parse_is_refused(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        run(_send(fake_telegram, chat["id"], "<script>x</script>", parse_mode="HTML"))
    sent = run(_send(fake_telegram, chat["id"], "<b>a &lt; b</b>", parse_mode="HTML"))
    assert sent["text"] == "a < b"
    assert sent["html"] == "<b>a &lt; b</b>"


@pytest.mark.parametrize(
    ("markup", "problem"),
    [
        ("<b>open", "end tag"),
        ("<b>x</i>", "Unexpected end tag"),
        ("a &nbsp; b", "entity"),
        ("1 > 0", "Unexpected >"),
    ],
)
def test_html_mistakes_are_named(markup, problem):
    with pytest.raises(Exception, match=problem):
        parse_html(markup)


def test_a_message_over_4096_characters_is_refused(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        run(_send(fake_telegram, chat["id"], "x" * 4097))


def test_the_bot_cannot_write_first_to_a_user(fake_telegram):
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        run(_send(fake_telegram, 777, "hi"))


def test_a_left_group_cannot_be_written_to(fake_telegram):
    group = group_chat(-100123, "Elsewhere")
    fake_telegram.add_chat(group)

    async def leave_then_write():
        async with bot_for(fake_telegram) as bot:
            await bot.leave_chat(group["id"])
            await bot.send_message(group["id"], "still here?")

    with pytest.raises(Forbidden, match="not a member"):
        run(leave_then_write())
    assert fake_telegram.left_chats() == {group["id"]}


def test_editing_a_message_into_itself_is_refused_and_edits_show(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    sent = run(_send(fake_telegram, chat["id"], "pick", reply_markup=_keyboard("a")))

    where = {"chat_id": chat["id"], "message_id": sent["message_id"]}

    async def edit():
        async with bot_for(fake_telegram) as bot:
            await bot.edit_message_text("picked a", **where)
            with pytest.raises(BadRequest, match=r"(?i)not modified"):
                await bot.edit_message_text("picked a", **where)

    run(edit())
    (shown,) = fake_telegram.sent(chat["id"])
    assert shown["text"] == "picked a"
    assert "reply_markup" not in shown  # an edit without a keyboard removes it


def test_callback_data_over_64_bytes_is_refused(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        run(_send(fake_telegram, chat["id"], "pick", reply_markup=_keyboard("x" * 65)))


def test_documents_and_photos_arrive_as_multipart_uploads(fake_telegram):
    chat = private_chat(ALICE)
    fake_telegram.add_chat(chat)

    async def upload():
        async with bot_for(fake_telegram) as bot:
            await bot.send_document(
                chat["id"], InputFile(b"a,b\n1,2\n", filename="export.csv"), caption="the export"
            )
            await bot.send_photo(chat["id"], InputFile(b"\x89PNG fake", filename="chart.png"))

    run(upload())
    document, photo = fake_telegram.calls("sendDocument")[0], fake_telegram.calls("sendPhoto")[0]
    assert document.files["document"].content == b"a,b\n1,2\n"
    assert document.files["document"].filename == "export.csv"
    assert document.result["caption"] == "the export"
    assert photo.files["photo"].content == b"\x89PNG fake"


def test_commands_are_kept_and_read_back(fake_telegram):
    async def register():
        async with bot_for(fake_telegram) as bot:
            await bot.set_my_commands([("new", "Open a ticket"), ("help", "Help")])
            return await bot.get_my_commands()

    assert [c.command for c in run(register())] == ["new", "help"]


def test_pushed_messages_carry_command_mention_and_reply_entities(fake_telegram):
    group = group_chat(-100555, "Team", is_forum=True)
    first = fake_telegram.push_message(ALICE, group, "/new@sopbot_test_bot vpn", thread_id=7)
    second = fake_telegram.push_message(
        ALICE, group, "hey @sopbot_test_bot look", reply_to_message_id=first["message_id"]
    )
    assert first["entities"] == [{"type": "bot_command", "offset": 0, "length": 20}]
    assert first["reply_to_message"]["forum_topic_created"]["name"] == "Topic"
    assert first["is_topic_message"] is True
    assert second["entities"] == [{"type": "mention", "offset": 4, "length": 16}]
    assert second["reply_to_message"]["message_id"] == first["message_id"]


def test_wait_for_names_the_calls_it_saw_when_nothing_matches(fake_telegram):
    with pytest.raises(AssertionError, match="no matching call"):
        fake_telegram.wait_for("sendMessage", timeout=0.1)


async def _send(server: FakeTelegram, chat_id: int, text: str, **kw) -> dict:
    async with bot_for(server) as bot:
        message = await bot.send_message(chat_id, text, **kw)
    return server.message(chat_id, message.message_id)


def _keyboard(data: str):
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    return InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data=data)]])
