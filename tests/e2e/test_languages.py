"""Each person in their own language: Chinese for a Telegram app in Chinese, English otherwise,
/language to choose, and a team chat in the team's language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.fake_telegram import JSONDict, private_chat, user
from tests.helpers.terminal import Terminal, shipped_config

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def member() -> JSONDict:
    """The team's member, whose Telegram app is in Simplified Chinese."""
    return {**user(1002, "xiaoming", "小明"), "language_code": "zh-hans"}


def buttons(message: dict) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def last_with_buttons(replies: list[dict]) -> dict:
    return next(r for r in reversed(replies) if buttons(r))


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def to(chat: JSONDict, replies: list[dict]) -> list[dict]:
    return [r for r in replies if r["chat"]["id"] == chat["id"]]


def test_a_whole_ticket_in_chinese_from_first_message_to_close(
    running_bot, member, lead, team_chat
):
    bot = running_bot
    me = private_chat(member)
    replies = bot.say(member, me, "我需要 grafana 的访问权限，用来看值班仪表盘")
    question = last_with_buttons(replies)
    assert "你需要哪个系统的权限？" in question["text"]
    assert list(buttons(question))[:3] == ["GitHub", "AWS", "Grafana"]

    _, shown = bot.press(member, me, question["message_id"], buttons(question)["Grafana"])
    edited = [r for r in shown if r["message_id"] == question["message_id"]]
    assert edited and "✔ Grafana" in edited[0]["text"]
    question = last_with_buttons(shown)
    assert "需要什么级别的权限？" in question["text"]
    _, shown = bot.press(member, me, question["message_id"], buttons(question)["只读"])
    assert "为什么需要？" in texts(shown)

    assert "只有 3 个字符，至少需要 20 个" in texts(bot.say(member, me, "仪表盘"))
    bot.say(member, me, "我下周开始参加值班轮换，需要查看值班仪表盘上的告警和各项指标。")
    assert "由谁审批？" in texts(bot.say(member, me, "/skip"))
    assert "是生产环境的权限吗？" in texts(bot.say(member, me, "@lena"))
    question = last_with_buttons(bot.say(member, me, "否"))
    assert "提交前请核对" in question["text"]
    assert "权限级别：只读" in question["text"] and "生产环境权限：否" in question["text"]
    _, shown = bot.press(member, me, question["message_id"], buttons(question)["确认"])
    assert "工单 #1 已创建" in texts(to(me, shown))
    # The team chat reads the announcement in the team's language, the procedure's texts too,
    # and so the request for the approval of @lena, who has not written to the bot yet.
    announcement, asked = to(team_chat, shown)
    assert "Access request, reported by 小明" in announcement["text"]
    assert "Access level: read" in announcement["text"]
    assert {"Assign to me", "Steps", "Show"} <= set(buttons(announcement))
    assert "@lena: this needs your approval: Approved by the approver" in asked["text"]

    shown = bot.say(member, me, "/show 1")
    assert "状态：待处理" in texts(shown) and "系统：Grafana" in texts(shown)

    # @lena approves in the team chat; the reporter hears it in Chinese.
    _, shown = bot.press(lead, team_chat, asked["message_id"], buttons(asked)["✅ Approve #1"])
    assert "“Approved by the approver” is approved by Lena" in texts(to(team_chat, shown))
    assert "“审批人已批准”已由 Lena 批准" in texts(to(me, shown))

    checklist = last_with_buttons(
        bot.press(lead, team_chat, announcement["message_id"], buttons(announcement)["Steps"])[1]
    )
    for step in ("Access granted", "The person confirmed it works"):
        _, shown = bot.press(
            lead, team_chat, checklist["message_id"], buttons(checklist)[f"Done: {step}"]
        )
        if step != "The person confirmed it works":
            checklist = last_with_buttons(shown)
    question = bot.say(lead, team_chat, "/resolve 1")[-1]
    assert "What was done to resolve it?" in question["text"]
    replies = bot.say(
        lead,
        team_chat,
        "Added 小明 to the grafana viewers",
        reply_to_message_id=question["message_id"],
    )
    assert "#1 is resolved" in texts(to(team_chat, replies))
    assert "你的工单 #1（" in texts(to(me, replies)) and "已解决" in texts(to(me, replies))
    assert "#1 已关闭。" in texts(bot.say(member, me, "/close 1"))

    # Everything the member read in their private chat was in Chinese.
    private = [
        c.result
        for c in bot.server.calls()
        if c.ok
        and c.method in ("sendMessage", "editMessageText")
        and isinstance(c.result, dict)
        and c.result["chat"]["id"] == member["id"]
    ]
    assert private and all(CJK.search(m["text"]) for m in private)
    # The knowledge article is the team's: its headings in the team's language.
    (article,) = (bot.config.knowledge_dir / "access-request").glob("*.md")
    body = article.read_text(encoding="utf-8")
    assert "## Problem" in body and "## Solution" in body


def test_one_group_answers_a_chinese_and_an_english_member_each_in_their_language(
    running_bot, member, lead, team_chat
):
    bot = running_bot
    (question,) = to(team_chat, bot.say(member, team_chat, "/new bug 搜索带引号的词时没有任何结果"))
    assert "出现在哪个产品、服务或页面？" in question["text"]
    assert question["reply_to_message"]["from"]["id"] == member["id"]
    assert "Your tickets" in texts(bot.say(lead, team_chat, "/mine"))
    assert "我的工单" in texts(bot.say(member, team_chat, "/mine"))
    said = texts(bot.say(lead, team_chat, "/open"))
    assert "Open tickets" in said and "waiting for info" in said
    said = texts(bot.say(member, team_chat, "/open"))
    assert "未完成的工单" in said and "待补充信息" in said


def test_language_changes_the_language_and_is_remembered(running_bot, lead):
    bot = running_bot
    me = private_chat(lead)
    shown = last_with_buttons(bot.say(lead, me, "/language"))
    assert "I speak English with you, as your Telegram app does" in shown["text"]
    _, replies = bot.press(lead, me, shown["message_id"], buttons(shown)["简体中文"])
    assert "好的，以后我和你说简体中文。" in texts(replies)
    assert "我能做什么" in texts(bot.say(lead, me, "/help"))  # remembered for the next message
    assert "I follow your Telegram app's language again" in texts(
        bot.say(lead, me, "/language auto")
    )
    assert "what I can do" in texts(bot.say(lead, me, "/help"))
    assert "I don't speak “fr”" in texts(bot.say(lead, me, "/language fr"))


def test_the_command_menu_is_registered_in_each_language(running_bot, fake_telegram):
    menus = {c["command"]: c["description"] for c in fake_telegram.commands("all_private_chats:zh")}
    assert menus["new"] == "/new [流程] 内容：新建工单"
    english = {c["command"]: c["description"] for c in fake_telegram.commands("all_private_chats")}
    assert english["language"] == "the language I speak with you"


def test_the_terminal_chat_speaks_chinese_with_language_zh_cn(tmp_path: Path):
    you = Terminal(shipped_config(tmp_path), "xiaoming", language="zh-CN")
    try:
        said = you.type("我需要 grafana 的访问权限")
        assert "你需要哪个系统的权限？" in said
        assert "[1] GitHub  [2] AWS  [3] Grafana  [4] VPN  [5] 其他" in said
        said = you.type("3")
        assert "需要什么级别的权限？" in said
        said = you.type("管理员")  # a choice typed as its label
        assert "为什么需要？" in said
        assert "/language — 我和你说哪种语言" in you.type("/help")
    finally:
        you.close()
