"""Each field type and check: the value stored, or exactly what is wrong."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.domain.fields import Accepted, Rejected, display, parse_answer
from bot.domain.procedure import FieldSpec

TZ = ZoneInfo("Europe/Berlin")


def spec(**kw) -> FieldSpec:
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
    assert reason in outcome.reason


def test_an_answer_longer_than_a_telegram_message_is_refused():
    outcome = parse_answer(spec(type="text"), "x" * 5000, TZ)
    assert isinstance(outcome, Rejected) and "too long" in outcome.reason


def test_values_are_displayed_as_people_write_them():
    assert display(spec(type="boolean"), True) == "yes"
    assert display(spec(type="duration"), 5400) == "1h 30m"
    assert display(spec(type="number"), 2.0) == "2"
    assert display(None, None) == "—"
