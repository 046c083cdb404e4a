"""What a newcomer meets on Telegram: /start, menus per scope, the members-only refusal with the
id to send, and an answer to every message (edits, stickers, locations, ...), never silence."""

from __future__ import annotations

from tests.helpers.fake_telegram import private_chat


def menu(fake_telegram, scope: str) -> list[str]:
    return [c["command"] for c in fake_telegram.commands(scope)]


def test_start_greets_and_shows_the_id_and_role(running_bot, member, lead, stranger):
    (said,) = running_bot.say(member, private_chat(member), "/start")
    assert "sopbot" in said["text"] and str(member["id"]) in said["text"]
    assert "member of this team" in said["text"]
    (said,) = running_bot.say(lead, private_chat(lead), "/start")
    assert str(lead["id"]) in said["text"] and "a lead" in said["text"]
    (said,) = running_bot.say(stranger, private_chat(stranger), "/start")
    assert str(stranger["id"]) in said["text"] and "not a member" in said["text"]


def test_the_members_only_refusal_shows_the_id_to_send_to_a_lead(running_bot, stranger):
    (refusal,) = running_bot.say(stranger, private_chat(stranger), "I need access")
    assert "only work for my team" in refusal["text"] and str(stranger["id"]) in refusal["text"]


def test_menus_per_scope_keep_lead_commands_for_leads(running_bot, fake_telegram, lead):
    members = menu(fake_telegram, "all_private_chats")
    assert "start" in members and "new" in members
    assert "audit" not in members and "stats" not in members
    assert menu(fake_telegram, "default") == members
    leads = menu(fake_telegram, f"chat:{lead['id']}")
    assert {"start", "new", "audit", "stats"} <= set(leads)
    groups = menu(fake_telegram, "all_group_chats")
    assert "new" in groups and "start" not in groups and "audit" not in groups


def test_an_edited_message_is_answered_with_how_to_change_a_field(
    running_bot, fake_telegram, member
):
    chat = private_chat(member)
    since = fake_telegram.mark()
    sent = fake_telegram.push_message(member, chat, "/mine")
    running_bot._answer(since)
    since = fake_telegram.mark()
    fake_telegram.push_edit(member, chat, sent["message_id"], "hello again")
    (said,) = running_bot._answer(since)
    assert "/set" in said["text"]


def test_a_sticker_or_a_location_gets_a_short_answer_of_what_the_bot_takes(
    running_bot, fake_telegram, member
):
    chat = private_chat(member)
    for content, word in (
        ({"sticker": STICKER}, "stickers"),
        ({"location": {"latitude": 52.5, "longitude": 13.4}}, "locations"),
        ({"dice": {"emoji": "🎲", "value": 3}}, "dice"),
    ):
        since = fake_telegram.mark()
        fake_telegram.push_content(member, chat, content)
        (said,) = running_bot._answer(since)
        assert f"I cannot read {word}" in said["text"]


def test_in_a_group_only_a_sticker_addressed_to_the_bot_is_answered(
    running_bot, fake_telegram, member, team_chat
):
    fake_telegram.push_content(member, team_chat, {"sticker": STICKER})
    (question,) = running_bot.say(member, team_chat, "/new the printer is on fire")
    since = fake_telegram.mark()
    fake_telegram.push_content(
        member, team_chat, {"sticker": STICKER}, reply_to_message_id=question["message_id"]
    )
    answers = running_bot._answer(since)
    assert len(answers) == 1 and "I cannot read stickers" in answers[0]["text"]


STICKER = {
    "file_id": "sticker-1",
    "file_unique_id": "u-sticker-1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
