"""Photos, files and voice on tickets, through the real bot and the fake Bot API over HTTP (which
serves getFile and the download): nothing a person sends is dropped."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from bot.db.models import Attachment, AuditEvent, Ticket
from tests.helpers.fake_telegram import private_chat

PNG = b"\x89PNG\r\n\x1a\n" + b"screenshot of the VPN error" * 40


def attachments(running_bot) -> list[Attachment]:
    with running_bot.services.db.reading() as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)))


def events(running_bot, action: str) -> list[AuditEvent]:
    with running_bot.services.db.reading() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def tickets(running_bot) -> list[Ticket]:
    with running_bot.services.db.reading() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def text_of(messages) -> str:
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)


def test_a_screenshot_sent_alone_opens_a_ticket_and_is_kept_as_evidence(running_bot, member):
    chat = private_chat(member)
    answer = running_bot.send_file(member, chat, "photo", PNG)
    assert "I keep a photo" in text_of(answer) or "kind" in text_of(answer)
    assert tickets(running_bot) == []  # which kind of ticket? the photo waits for the answer
    running_bot.say(member, chat, "Bug report")
    (ticket,) = tickets(running_bot)
    (a,) = attachments(running_bot)
    assert (a.ticket_id, a.kind, a.size) == (ticket.id, "photo", len(PNG))
    assert a.sha256 == hashlib.sha256(PNG).hexdigest()
    stored = running_bot.services.files.path(a.sha256)
    assert stored.read_bytes() == PNG  # the bytes, under their hash
    (event,) = events(running_bot, "attachment.added")
    assert event.ticket_id == ticket.id
    assert event.details["sha256"] == a.sha256 and event.details["size"] == len(PNG)
    assert event.details["file_id"] == a.file_id


def test_a_caption_opens_the_ticket_as_its_first_message(running_bot, member):
    chat = private_chat(member)
    running_bot.send_file(member, chat, "photo", PNG, caption="/new bug the export crashes")
    (ticket,) = tickets(running_bot)
    assert ticket.procedure_id == "bug-report" and "export crashes" in ticket.title
    assert [a.ticket_id for a in attachments(running_bot)] == [ticket.id]


def test_a_caption_that_answers_the_question_answers_it_and_the_file_is_kept(running_bot, member):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new bug")  # asks: in one line, what is wrong?
    answer = running_bot.send_file(
        member, chat, "photo", PNG, caption="Export to CSV drops the last row"
    )
    assert "Which product" in text_of(answer)  # the next question: the caption answered
    (a,) = attachments(running_bot)
    assert a.note is None and a.ticket_id == tickets(running_bot)[0].id


def test_a_caption_that_is_only_a_note_is_kept_with_the_file_and_the_question_asked_again(
    running_bot, member
):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new bug")
    running_bot.say(member, chat, "Export to CSV drops the last row")
    running_bot.say(member, chat, "billing")  # component; now: which environment?
    answer = running_bot.send_file(member, chat, "photo", PNG, caption="see the red box")
    said = text_of(answer)
    assert "not one of the choices" not in said  # a note, not a wrong answer
    assert "Added to #1" in said and "Where did it happen" in said
    (a,) = attachments(running_bot)
    assert a.note == "see the red box"


def test_attach_n_as_a_caption_and_in_reply_to_a_file_in_the_team_chat(
    running_bot, member, team_chat
):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new bug")
    answer = running_bot.send_file(
        member, chat, "document", b"deploy failed: exit 1\n", file_name="deploy.log",
        mime_type="text/plain", caption="/attach 1 the log of the failed deploy",
    )  # fmt: skip
    assert "Added to #1" in text_of(answer) and "deploy.log" in text_of(answer)
    # In the team chat a file not addressed to the bot is not taken...
    since = running_bot.server.mark()
    doc = running_bot.server.push_file(
        member, team_chat, "document", b"second log", file_name="more.log", mime_type="text/plain"
    )
    running_bot.wait_quiet(since)
    assert len(attachments(running_bot)) == 1
    # ...until someone attaches it, replying to it.
    answer = running_bot.say(member, team_chat, "/attach 1", reply_to_message_id=doc["message_id"])
    assert "Added to #1" in text_of(answer) and "more.log" in text_of(answer)
    assert [(a.file_name, a.note) for a in attachments(running_bot)] == [
        ("deploy.log", "the log of the failed deploy"),
        ("more.log", None),
    ]
    # The same file again changes nothing.
    answer = running_bot.say(member, team_chat, "/attach 1", reply_to_message_id=doc["message_id"])
    assert "already" in text_of(answer) and len(attachments(running_bot)) == 2


def test_an_album_becomes_one_ticket_with_every_picture_and_one_answer(running_bot, member):
    chat = private_chat(member)
    since = running_bot.server.mark()
    for n in range(3):
        running_bot.server.push_file(
            member, chat, "photo", PNG + bytes([n]), media_group_id="album-1",
            caption="the login page is blank" if n == 0 else None,
        )  # fmt: skip
    running_bot.server.wait_sent(member["id"], since=since, timeout=10)
    running_bot.wait_quiet(since)
    assert len(tickets(running_bot)) == 1
    assert [a.ticket_id for a in attachments(running_bot)] == [1, 1, 1]
    assert len(events(running_bot, "attachment.added")) == 3
    answers = [c for c in running_bot.server.calls()[since:] if c.method == "sendMessage"]
    assert len(answers) == 1


def test_every_kind_of_file_is_taken(running_bot, member):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new bug")
    kinds = ["document", "voice", "audio", "video", "video_note", "animation"]
    for kind in kinds:
        answer = running_bot.send_file(member, chat, kind, kind.encode() * 10)
        assert answer, f"a {kind} got an answer"
    assert [a.kind for a in attachments(running_bot)] == kinds
    assert all(a.ticket_id == 1 and a.sha256 for a in attachments(running_bot))


def test_a_file_over_telegrams_download_limit_is_kept_by_its_id_and_said_so(running_bot, member):
    chat = private_chat(member)
    running_bot.say(member, chat, "/new bug")
    answer = running_bot.send_file(
        member, chat, "video", None, size=25 * 1024 * 1024, caption="/attach 1 screen recording"
    )
    assert "larger than 20 MB" in text_of(answer)
    (a,) = attachments(running_bot)
    assert a.sha256 is None and a.file_id and a.size == 25 * 1024 * 1024
    (event,) = events(running_bot, "attachment.added")
    assert event.details["too_big"] is True


SCREENS = """\
title: Screen problem
triggers:
  command: screen
fields:
  - name: what
    label: What is wrong
    question: What is wrong on the screen?
  - name: screenshots
    label: Screenshots
    question: Send screenshots of it.
    type: file
    accept: [image]
    max_size: 2KB
    min_count: 2
    max_count: 3
"""


def test_a_file_field_is_asked_for_and_takes_only_what_it_accepts(running_bot, member):
    (running_bot.config.procedures_dir / "screens.yaml").write_text(SCREENS)
    chat = private_chat(member)
    running_bot.say(member, chat, "/new screen")
    asked = text_of(running_bot.say(member, chat, "the menu is cut off"))
    assert "Send screenshots" in asked and "sent with the paperclip: an image or photo" in asked
    said = text_of(running_bot.say(member, chat, "here"))
    assert "Please send it as a file" in said  # words do not answer a file field
    said = text_of(
        running_bot.send_file(
            member, chat, "document", b"log", file_name="app.log", mime_type="text/plain"
        )
    )
    assert "app.log is not what this question needs: please send an image or photo" in said
    assert "It is kept on the ticket" in said
    said = text_of(running_bot.send_file(member, chat, "photo", b"x" * 4000))
    assert "is 4 KB; the largest allowed is 2 KB" in said
    said = text_of(running_bot.send_file(member, chat, "photo", b"first" * 10))
    assert "1 file so far; 2 are needed: please send 1 more" in said
    said = text_of(running_bot.send_file(member, chat, "photo", b"second" * 10))
    assert ("Screenshots" in said and "Confirm" in said) or "check" in said.lower()
    on_ticket = attachments(running_bot)
    assert [a.field for a in on_ticket] == [None, None, "screenshots", "screenshots"]
    with running_bot.services.db.reading() as s:
        from bot.db.models import TicketField

        (value,) = s.scalars(select(TicketField).where(TicketField.name == "screenshots"))
    assert [v["attachment"] for v in value.value] == [on_ticket[2].id, on_ticket[3].id]


def test_audit_verify_files_finds_a_stored_file_that_was_changed_on_disk(
    running_bot, member, bot_config_file, capsys
):
    from bot.cli import main

    chat = private_chat(member)
    running_bot.say(member, chat, "/new bug")
    running_bot.send_file(member, chat, "photo", PNG, caption="/attach 1")
    running_bot.send_file(
        member, chat, "document", None, size=30 * 1024 * 1024, caption="/attach 1"
    )
    config = ["--config", str(bot_config_file)]
    assert main(["audit", "verify", "--files", *config]) == 0
    out = capsys.readouterr().out
    assert "1 file checked, each matches its recorded sha256" in out
    assert "1 kept by Telegram id only" in out

    (a, _) = attachments(running_bot)
    running_bot.services.files.path(a.sha256).write_bytes(PNG + b"edited")
    assert main(["audit", "verify", "--files", *config]) == 1
    said = capsys.readouterr()
    assert "the chain is intact" in said.out  # the database was not touched...
    assert "of #1" in said.err and "its bytes changed" in said.err  # ...the file was
    running_bot.services.files.path(a.sha256).unlink()
    assert main(["audit", "verify", "--files", *config]) == 1
    assert "missing from the attachments folder" in capsys.readouterr().err
