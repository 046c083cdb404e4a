"""Whole tickets over real HTTP: people on the fake Telegram, sopbot polling it."""

from __future__ import annotations

from tests.helpers.fake_telegram import private_chat


def buttons(message: dict) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def last_with_buttons(replies: list[dict]) -> dict:
    return next(r for r in reversed(replies) if buttons(r))


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_a_whole_ticket_from_a_private_message_to_close(running_bot, member, lead, team_chat):
    bot = running_bot
    me = private_chat(member)
    replies = bot.say(member, me, "I need access to grafana for the on-call dashboards")
    question = last_with_buttons(replies)
    assert "Which system do you need access to?" in question["text"]

    _, shown = bot.press(member, me, question["message_id"], buttons(question)["grafana"])
    edited = [r for r in shown if r["message_id"] == question["message_id"]]
    assert edited and "Which system" in edited[0]["text"] and "grafana" in edited[0]["text"]
    question = last_with_buttons(shown)
    _, shown = bot.press(member, me, question["message_id"], buttons(question)["read"])
    assert "Why do you need it?" in texts(shown)

    assert "at least 20" in texts(bot.say(member, me, "dashboards"))
    bot.say(member, me, "I join the on-call rotation next week")
    bot.say(member, me, "/skip")
    bot.say(member, me, "@lena")
    question = last_with_buttons(bot.say(member, me, "no"))  # not production
    assert "please check before I open it" in question["text"]
    _, shown = bot.press(member, me, question["message_id"], buttons(question)["Confirm"])
    assert "Ticket #1 is open" in texts(shown)
    announcement = [r for r in shown if r["chat"]["id"] == team_chat["id"]]
    assert announcement and "#1" in announcement[0]["text"]

    # The approver named in the request is asked in the team chat (the bot cannot write to
    # them privately yet), and approves with a tap.
    (asked,) = [r for r in shown if r["chat"]["id"] == team_chat["id"] and "approval" in r["text"]]
    assert "@lena" in asked["text"]
    _, shown = bot.press(lead, team_chat, asked["message_id"], buttons(asked)["✅ Approve #1"])
    assert "is approved by Lena" in texts(shown)

    group_buttons = buttons(announcement[0])
    _, shown = bot.press(lead, team_chat, announcement[0]["message_id"], group_buttons["Steps"])
    checklist = last_with_buttons(shown)
    assert "☑ Approved by the approver" in checklist["text"]
    steps = ("Access granted", "The person confirmed it works")
    for step in steps:
        data = buttons(checklist)[f"Done: {step}"]
        _, shown = bot.press(lead, team_chat, checklist["message_id"], data)
        assert f"“{step}” done" in texts(shown)
        if step != steps[-1]:
            checklist = last_with_buttons(shown)

    replies = bot.say(lead, team_chat, "/resolve 1")
    assert "What was done to resolve it?" in texts(replies)
    question = replies[-1]
    replies = bot.say(
        lead,
        team_chat,
        "Added max to the grafana viewers group",
        reply_to_message_id=question["message_id"],
    )
    assert "#1 is resolved" in texts(replies)
    assert any(r["chat"]["id"] == member["id"] and "resolved" in r["text"] for r in replies)
    assert "#1 is closed" in texts(bot.say(member, me, "/close 1"))
    assert (bot.config.knowledge_dir / "access-request").is_dir()


def test_a_ticket_started_in_a_group_asks_there_in_replies(running_bot, member, team_chat):
    bot = running_bot
    replies = bot.say(member, team_chat, "/new bug search returns nothing for quoted words")
    question = replies[-1]
    assert question["chat"]["id"] == team_chat["id"]
    assert question.get("reply_to_message") is not None
    # An answer is a reply to the bot's question; plain chatter in the group is left alone.
    bot.server.push_message(member, team_chat, "lunch anyone?")
    bot.wait_quiet()
    assert texts(bot.server.sent(team_chat["id"])).count("lunch") == 0
    replies = bot.say(member, team_chat, "search", reply_to_message_id=question["message_id"])
    assert replies and replies[-1]["chat"]["id"] == team_chat["id"]


def test_someone_not_on_the_team_is_refused_and_nothing_is_created(running_bot, stranger):
    replies = running_bot.say(stranger, private_chat(stranger), "I need access to aws")
    assert "only work for my team" in texts(replies)
    assert not (running_bot.config.knowledge_dir / "access-request").exists()


def test_a_lead_only_command_is_refused_to_a_member(running_bot, member):
    replies = running_bot.say(member, private_chat(member), "/audit 1")
    assert "for leads only" in texts(replies)


def test_telegram_flood_limits_and_server_errors_are_retried_and_nothing_is_lost(
    running_bot, fake_telegram, member
):
    me = private_chat(member)
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1)
    replies = running_bot.say(member, me, "/new bug export")
    assert "In one line, what is wrong?" in texts(replies)
    fake_telegram.fail_next("sendMessage", status=500)
    replies = running_bot.say(member, me, "the export button on the report page does nothing")
    assert "Which product, service or page is it in?" in texts(replies)
    failed = [c for c in fake_telegram.calls("sendMessage") if not c.ok]
    assert len(failed) == 2


def test_the_bot_killed_mid_conversation_carries_on_after_restart(
    sopbot_process, fake_telegram, member
):
    me = private_chat(member)
    process = sopbot_process()
    fake_telegram.push_message(member, me, "/new bug export")
    fake_telegram.wait_sent(member["id"], contains="In one line, what is wrong?", timeout=15)
    process.kill()
    fake_telegram.push_message(member, me, "the export button on the report page does nothing")
    restarted = sopbot_process()
    fake_telegram.wait_sent(member["id"], contains="Which product, service", timeout=15)
    assert restarted.stop() == 0
