"""Each field type and check: the value stored, or exactly what is wrong."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.fields import MAX_ANSWER_LENGTH, Accepted, Reason, Rejected, parse_answer
from bot.domain.procedure import FieldSpec
from bot.procedures.patterns import compile_pattern
from bot.words import display, rejection

TZ = ZoneInfo("Europe/Berlin")


def spec(**kw) -> FieldSpec:
    if kw.get("pattern") is not None:
        kw["matcher"] = compile_pattern(kw["pattern"])  # as the loader does
    return FieldSpec(name=kw.pop("name", "f"), question="?", **kw)


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        (spec(type="text"), "  hello  ", "hello"),
        (spec(type="integer"), "42", 42),
        (spec(type="integer"), "-7", -7),
        (spec(type="number"), "3,5", 3.5),
        (spec(type="boolean"), "Yes", True),
        (spec(type="boolean"), "no", False),
        (spec(type="choice", choices=("github", "aws")), "GitHub", "github"),
        (spec(type="date"), "2026-03-31", "2026-03-31"),
        (spec(type="datetime"), "2026-03-31 14:30", "2026-03-31T14:30+02:00"),
        (spec(type="duration"), "1h30m", 5400),
        (spec(type="email"), "a.b@example.com", "a.b@example.com"),
        (spec(type="url"), "https://example.com/x?y=1", "https://example.com/x?y=1"),
        (spec(type="user"), "@alice_1", "@alice_1"),
        (spec(type="user"), "alice_1", "@alice_1"),
    ],
)
def test_valid_answers_are_stored_in_their_canonical_form(field, raw, value):
    assert parse_answer(field, raw, TZ) == Accepted(value)


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        (spec(type="text", min_length=20), "too short", "at least 20"),
        (spec(type="text", max_length=3), "four", "at most 3"),
        (spec(type="text", pattern=r"^CHG-\d{4,}$", example="CHG-1234"), "CHG-12", "CHG-1234"),
        (spec(type="integer"), "4.5", "not a whole number"),
        (spec(type="integer", min=1), "0", "smallest allowed is 1"),
        (spec(type="number", max=10), "10.5", "largest allowed is 10"),
        (spec(type="number"), "nan", "not a number"),
        (spec(type="boolean"), "maybe", "yes or no"),
        (spec(type="choice", choices=("github", "aws")), "gitlab", "github, aws"),
        (spec(type="date"), "31.03.2026", "YYYY-MM-DD"),
        (spec(type="date"), "2026-02-30", "YYYY-MM-DD"),
        (spec(type="datetime"), "2026-03-31", "no time of day"),
        (spec(type="duration"), "soon", "30m, 8h or 2d"),
        (spec(type="email"), "not-an-email", "not an email"),
        (spec(type="url"), "javascript:alert(1)", "web address"),
        (spec(type="user"), "@a b", "@username"),
        (spec(type="text"), "   ", "empty"),
    ],
)
def test_invalid_answers_are_refused_with_the_reason(field, raw, reason):
    outcome = parse_answer(field, raw, TZ)
    assert isinstance(outcome, Rejected)
    assert reason in rejection(outcome)


@pytest.mark.parametrize(
    ("field", "raw", "code", "data"),
    [
        (spec(type="text"), "   ", Reason.EMPTY, {}),
        (spec(type="text", min_length=20), "too short", Reason.TOO_SHORT, {"length": 9, "min": 20}),
        (spec(type="text", max_length=3), "four", Reason.TOO_LONG, {"length": 4, "max": 3}),
        (
            spec(type="text", pattern=r"^CHG-\d{4,}$", example="CHG-1234", help="A change id"),
            "CHG-12",
            Reason.UNEXPECTED_FORM,
            {"example": "CHG-1234", "help": "A change id"},
        ),
        (spec(type="integer"), "4.5", Reason.NOT_WHOLE_NUMBER, {"text": "4.5"}),
        (
            spec(type="integer", min=1),
            "0",
            Reason.TOO_SMALL,
            {"value": 0, "min": 1, "type": "integer"},
        ),
        (
            spec(type="duration", max=3600),
            "2h",
            Reason.TOO_LARGE,
            {"value": 7200, "max": 3600, "type": "duration"},
        ),
        (spec(type="number"), "inf", Reason.NOT_NUMBER, {"text": "inf"}),
        (spec(type="number"), "1e999", Reason.NOT_FINITE, {"text": "1e999"}),
        (spec(type="boolean"), "maybe", Reason.NOT_YES_OR_NO, {}),
        (
            spec(type="choice", choices=("github", "aws")),
            "gitlab",
            Reason.NOT_A_CHOICE,
            {"text": "gitlab", "choices": ["github", "aws"]},
        ),
        (spec(type="date"), "31.03.2026", Reason.NOT_A_DATE, {"text": "31.03.2026"}),
        (spec(type="datetime"), "soon", Reason.NOT_A_DATETIME, {"text": "soon"}),
        (spec(type="datetime"), "2026-03-31", Reason.NO_TIME_OF_DAY, {"text": "2026-03-31"}),
        (spec(type="duration"), "soon", Reason.NOT_A_DURATION, {"text": "soon"}),
        (spec(type="email"), "x", Reason.NOT_AN_EMAIL, {"text": "x"}),
        (
            spec(type="url"),
            "javascript:alert(1)",
            Reason.NOT_A_URL,
            {"text": "javascript:alert(1)"},
        ),
        (spec(type="user"), "@a b", Reason.NOT_A_USERNAME, {"text": "@a b"}),
    ],
)
def test_a_refusal_is_a_reason_code_with_its_data(field, raw, code, data):
    assert parse_answer(field, raw, TZ) == Rejected(code, data)


def test_an_answer_longer_than_a_telegram_message_is_refused():
    outcome = parse_answer(spec(type="text"), "x" * 5000, TZ)
    assert outcome == Rejected(Reason.TOO_LONG, {"length": 5000, "max": 4096})
    assert "too long" in rejection(outcome) and "4096" in rejection(outcome)


def test_a_pattern_refusal_shows_the_example_or_the_help_never_the_regex():
    pattern = r"^CHG-\d{4,}$"
    with_example = parse_answer(spec(pattern=pattern, example="CHG-1234"), "CHG-12", TZ)
    with_help = parse_answer(spec(pattern=pattern, help="Like CHG- and 4 digits."), "x", TZ)
    bare = parse_answer(spec(pattern=pattern), "x", TZ)
    assert rejection(with_example) == "That does not have the expected form. For example: CHG-1234."
    assert rejection(with_help) == "That does not have the expected form. Like CHG- and 4 digits."
    assert "form the question asks for" in rejection(bare)
    assert all(pattern not in rejection(o) for o in (with_example, with_help, bare))


def test_a_refusal_says_the_limit_in_characters_and_never_seconds():
    short = parse_answer(spec(min_length=20), "too short", TZ)
    assert rejection(short) == "That is 9 characters; at least 20 are needed."
    long = parse_answer(spec(type="duration", max=3600), "1d2h", TZ)
    assert rejection(long) == "1 day 2 hours is too long; the longest allowed is 1 hour."
    small = parse_answer(spec(type="number", min=0.5), "0.25", TZ)
    assert rejection(small) == "0.25 is too small; the smallest allowed is 0.5."


def test_a_refusal_quotes_the_answer_shortened():
    outcome = parse_answer(spec(type="integer"), "<b>" + "9" * 300, TZ)
    words = rejection(outcome)
    assert words.startswith("'<b>999") and words.endswith("…' is not a whole number.")
    assert len(words) < 100  # escaping is the .html message's job: it shows this as text


def test_values_are_displayed_as_people_write_them():
    assert display(spec(type="boolean"), True) == "yes"
    assert display(spec(type="duration"), 5400) == "1 hour 30 minutes"
    assert display(spec(type="number"), 2.0) == "2"
    assert display(None, None) == "—"


# Patterns that backtrack: the answer is judged at once, never after minutes -------------------

BACKTRACKING = r"^([a-z]+\.?)+$"  # exponential in Python's `re` on 'aaaa…a!'


def judged_within_bounds(field: FieldSpec, raw: str):
    """The outcome, and proof it came fast: generous, since a backtracking engine takes minutes."""
    start = time.perf_counter()
    outcome = parse_answer(field, raw, TZ)
    assert time.perf_counter() - start < 2
    return outcome


def test_a_backtracking_pattern_refuses_a_hostile_answer_at_once():
    field = spec(pattern=BACKTRACKING, example="jane.doe")
    outcome = judged_within_bounds(field, "a" * 34 + "!")
    assert outcome == Rejected(Reason.UNEXPECTED_FORM, {"example": "jane.doe", "help": None})


def test_a_backtracking_pattern_still_accepts_what_it_describes():
    field = spec(pattern=BACKTRACKING)
    assert judged_within_bounds(field, "jane.doe.") == Accepted("jane.doe.")
    assert judged_within_bounds(field, "a" * 4000 + ".b") == Accepted("a" * 4000 + ".b")


def test_the_longest_hostile_answer_is_refused_at_once():
    field = spec(pattern=BACKTRACKING)
    longest = judged_within_bounds(field, "a" * (MAX_ANSWER_LENGTH - 1) + "!")
    assert isinstance(longest, Rejected) and longest.code == Reason.UNEXPECTED_FORM
    longer = judged_within_bounds(field, "a" * 9_999 + "!")
    assert longer == Rejected(Reason.TOO_LONG, {"length": 10_000, "max": MAX_ANSWER_LENGTH})


def test_the_matcher_itself_is_linear_even_beyond_the_longest_answer():
    matches = compile_pattern(BACKTRACKING)
    start = time.perf_counter()
    assert not matches("a" * 9_999 + "!")
    assert matches("a." * 5_000)
    assert time.perf_counter() - start < 2


def test_a_field_with_a_pattern_cannot_exist_without_its_matcher():
    with pytest.raises(ValueError, match="no matcher"):
        FieldSpec(name="f", question="?", pattern=BACKTRACKING)


def test_a_pattern_refusal_says_the_hint_and_the_example():
    field = spec(pattern=r"^CHG-\d{4,}$", hint="CHG- followed by four digits", example="CHG-1234")
    said = rejection(parse_answer(field, "CHG-12", TZ))
    assert said == (
        "That does not have the expected form: CHG- followed by four digits. For example: CHG-1234."
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("now", "2026-03-02T10:00+01:00"),
        ("Just now", "2026-03-02T10:00+01:00"),
        ("5 min ago", "2026-03-02T09:55+01:00"),
        ("2 hours ago", "2026-03-02T08:00+01:00"),
    ],
)
def test_a_time_may_be_now_or_a_while_ago_counted_from_the_now_passed_in(raw, value):
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert parse_answer(spec(type="datetime"), raw, TZ, now) == Accepted(value)


def test_without_a_now_passed_in_now_is_not_a_time():
    outcome = parse_answer(spec(type="datetime"), "now", TZ)
    assert outcome == Rejected(Reason.NOT_A_DATETIME, {"text": "now"})


def test_a_stored_time_is_shown_in_the_team_s_zone_in_words():
    assert display(spec(type="datetime"), "2026-11-30T14:20+00:00", TZ) == "Mon 30 Nov, 15:20"


def test_a_field_is_read_by_its_label_made_from_its_name_unless_given():
    assert spec(name="access_level").label == "Access level"
    assert spec(name="ticket_ref", label="Change ticket").label == "Change ticket"
