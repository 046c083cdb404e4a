"""The real bot (engine, SQLite, procedures) on the fake Telegram: in-process and as `sopbot run`.

Whole ticket flows live with the engine's e2e tests; these check that the pieces meet.
"""

from __future__ import annotations

from tests.helpers.fake_telegram import private_chat


def test_a_member_gets_help_in_a_private_chat(running_bot, member):
    replies = running_bot.say(member, private_chat(member), "/help")
    assert replies
    assert all(r["chat"]["id"] == member["id"] for r in replies)


def test_someone_not_on_the_team_is_refused_politely(running_bot, stranger):
    (refusal,) = running_bot.say(stranger, private_chat(stranger), "/new I need access")
    assert refusal["chat"]["id"] == stranger["id"]
    assert refusal["text"]


def test_the_engines_commands_are_the_telegram_menu(running_bot, fake_telegram):
    names = [c["command"] for c in fake_telegram.commands()]
    assert {"new", "mine", "help"} <= set(names)


def test_sopbot_run_serves_telegram_and_stops_cleanly_on_sigterm(
    sopbot_process, fake_telegram, member
):
    process = sopbot_process()
    fake_telegram.push_message(member, private_chat(member), "/help")
    fake_telegram.wait_sent(member["id"], timeout=15)
    assert process.stop() == 0
    log = process.log()
    assert f"running on Telegram as @{fake_telegram.bot_username} (long polling)" in log
    assert "sopbot stopped" in log
    assert fake_telegram.token not in log
    assert fake_telegram.token.split(":")[1] not in log


def test_sopbot_run_names_an_invalid_procedure_and_starts_anyway(sopbot_process, bot_config_file):
    broken = bot_config_file.parent / "procedures" / "broken.yaml"
    broken.write_text("id: broken\ntitle: [unclosed\n", encoding="utf-8")
    process = sopbot_process()
    assert process.stop() == 0
    assert "procedure broken is invalid" in process.log()


def test_a_message_sent_while_sopbot_was_killed_is_answered_after_restart(
    sopbot_process, fake_telegram, member
):
    sopbot_process().kill()
    fake_telegram.push_message(member, private_chat(member), "/help")
    restarted = sopbot_process()
    fake_telegram.wait_sent(member["id"], timeout=15, since=0)
    assert restarted.stop() == 0
