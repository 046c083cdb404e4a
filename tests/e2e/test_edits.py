"""An edited message through the fake Bot API: an edited answer is validated again and replaces
the earlier one (audited); any other edit is answered with how to change a field."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import AuditEvent, TicketField
from tests.helpers.fake_telegram import private_chat


def value(running_bot, name: str):
    with running_bot.services.db.reading() as s:
        row = s.scalars(select(TicketField).where(TicketField.name == name)).one()
        return row.value


def text_of(messages) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def edit(running_bot, member, chat, message_id: int, text: str) -> str:
    since = running_bot.server.mark()
    running_bot.server.push_edit(member, chat, message_id, text)
    return text_of(running_bot._answer(since))


def test_an_edited_answer_is_checked_again_and_replaces_the_earlier_one(running_bot, member):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new access I need access for the on-call rotation")
    answer = running_bot.server.push_message(member, chat, "grafana")
    running_bot.wait_quiet(running_bot.server.mark())
    said = edit(running_bot, member, chat, answer["message_id"], "aws")
    assert "System is now aws" in said
    assert value(running_bot, "system") == "aws"
    with running_bot.services.db.reading() as s:
        accepted = s.scalars(select(AuditEvent).where(AuditEvent.action == "answer.accepted"))
        (event,) = [e for e in accepted if e.details.get("edited")]
    assert event.details["old"] == "grafana" and event.details["value"] == "aws"


def test_an_edit_the_field_does_not_take_keeps_the_earlier_answer(running_bot, member):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new access I need access for the on-call rotation")
    running_bot.say(member, chat, "grafana")
    level = running_bot.server.push_message(member, chat, "read")
    running_bot.wait_quiet(running_bot.server.mark())
    said = edit(running_bot, member, chat, level["message_id"], "superuser")
    assert "Your edit was not taken for Access level" in said and "stays read" in said
    assert value(running_bot, "access_level") == "read"


def test_any_other_edit_says_how_to_change_a_field(running_bot, member):
    chat = private_chat(member)
    first = running_bot.server.push_message(member, chat, "hello")
    running_bot.wait_quiet(running_bot.server.mark())
    said = edit(running_bot, member, chat, first["message_id"], "hello there")
    assert "/set" in said
