"""A file field: which files answer it (kind, size, count), and how a procedure declares one."""

from __future__ import annotations

import pytest

from bot.domain.fields import Accepted, Reason, Rejected, parse_answer
from bot.domain.files import FileFacts, check_files, parse_size
from bot.domain.procedure import FieldSpec
from bot.procedures.errors import ProcedureInvalid
from bot.procedures.load import parse_procedure
from bot.render import render
from bot.words import expected_form

PHOTO = FileFacts("photo", "image/jpeg", None, 120_000)
LOG = FileFacts("document", "text/plain", "deploy.log", 4_000)
PDF = FileFacts("document", "application/octet-stream", "report.PDF", 90_000)
ZIP = FileFacts("document", "application/zip", "dump.zip", 3_000_000)


def spec(**kw) -> FieldSpec:
    return FieldSpec(name="screenshot", question="A screenshot?", type="file", **kw)


@pytest.mark.parametrize(
    ("accept", "taken", "refused"),
    [
        (("image",), [PHOTO, FileFacts("document", "image/png", "a.png", 1)], [LOG, PDF]),
        (("pdf",), [PDF], [PHOTO, LOG]),
        (("text",), [LOG, FileFacts("document", None, "trace.json", 1)], [PHOTO, ZIP]),
        (("application/zip", "video/*"), [ZIP, FileFacts("video", "video/mp4", None, 1)], [LOG]),
        (("any",), [PHOTO, LOG, PDF, ZIP], []),
        ((), [PHOTO, LOG, PDF, ZIP], []),
    ],
)
def test_a_field_takes_the_kinds_it_accepts_and_refuses_the_others(accept, taken, refused):
    for f in taken:
        assert isinstance(check_files(spec(accept=accept), [f]), Accepted), f
    for f in refused:
        outcome = check_files(spec(accept=accept), [f])
        assert isinstance(outcome, Rejected) and outcome.code == Reason.WRONG_KIND_OF_FILE, f


def test_size_and_count_limits_say_what_is_wrong_in_words():
    big = check_files(spec(max_size=parse_size("100KB")), [PHOTO])
    assert isinstance(big, Rejected) and big.code == Reason.FILE_TOO_LARGE
    words = render("words/rejection.txt", code=big.code, d=big.data)
    assert words == "That file is 117 KB; the largest allowed is 100 KB."
    few = check_files(spec(min_count=2), [PHOTO])
    assert isinstance(few, Rejected) and few.code == Reason.TOO_FEW_FILES
    assert "send 1 more" in render("words/rejection.txt", code=few.code, d=few.data)
    assert isinstance(check_files(spec(min_count=2), [PHOTO], already=1), Accepted)
    many = check_files(spec(max_count=2), [PHOTO, PHOTO], already=1)
    assert isinstance(many, Rejected) and many.code == Reason.TOO_MANY_FILES


def test_typed_words_never_answer_a_file_field():
    outcome = parse_answer(spec(accept=("image",)), "here it is", tz=None)
    assert isinstance(outcome, Rejected) and outcome.code == Reason.NOT_A_FILE
    said = render("words/rejection.txt", code=outcome.code, d=outcome.data)
    assert said == "Please send it as a file (an image or photo), with the paperclip, not as text."


def test_the_question_says_what_to_send_in_words():
    form = expected_form(spec(accept=("image", "pdf"), max_size=parse_size("10MB"), max_count=3))
    assert form == (
        "a file sent with the paperclip: an image or photo or a PDF, at most 10 MB (up to 3)"
    )


@pytest.mark.parametrize(
    ("text", "size"), [("10MB", 10 * 1024**2), ("500 KB", 500 * 1024), ("2048", 2048), ("x", None)]
)
def test_sizes_are_read_as_people_write_them(text, size):
    assert parse_size(text) == size


PROCEDURE = """\
title: Deploy help
fields:
  - name: deploy_log
    question: The log?
    type: file
{extra}
"""


def parse(text: str):
    return parse_procedure(text.encode(), procedure_id="deploy-help", path="deploy-help.yaml")


def test_a_procedure_declares_a_file_field_with_its_limits():
    extra = "    accept: [text, application/gzip]\n    max_size: 20MB\n    max_count: 2"
    procedure = parse(PROCEDURE.format(extra=extra))
    (field,) = procedure.fields
    assert (field.type, field.accept, field.max_size, field.max_count) == (
        "file",
        ("text", "application/gzip"),
        20 * 1024**2,
        2,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    accept: [spreadsheet]", "'spreadsheet' is not a kind of file"),
        ("    max_size: huge", "'huge' is not a size like 10MB"),
        ("    min_count: 3\n    max_count: 2", "max_count (2) is smaller than min_count (3)"),
    ],
)
def test_a_wrong_file_setting_is_reported_clearly(extra, message):
    with pytest.raises(ProcedureInvalid) as e:
        parse(PROCEDURE.format(extra=extra))
    assert message in str(e.value)


def test_file_settings_on_another_type_are_refused():
    text = PROCEDURE.format(extra="    accept: [image]").replace("type: file", "type: text")
    with pytest.raises(ProcedureInvalid) as e:
        parse(text)
    assert "accept only applies to file fields" in str(e.value)
