"""Codes and data from the domain, in the words people read (bot/templates/words/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot import words
from bot.domain import lifecycle
from bot.domain.durations import duration_parts
from bot.domain.fields import parse_answer
from bot.domain.procedure import FieldSpec
from bot.domain.ticket import TransitionError
from bot.render import render

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_duration_is_cut_into_its_two_largest_units():
    assert duration_parts(timedelta(days=1, hours=2, minutes=3)) == [(1, "day"), (2, "hour")]
    assert duration_parts(timedelta(minutes=-45)) == [(45, "minute")]
    assert duration_parts(timedelta(0)) == []


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1, hours=2), "1 day 2 hours"),
        (timedelta(minutes=45), "45 minutes"),
        (timedelta(hours=1, minutes=1), "1 hour 1 minute"),
        (timedelta(seconds=30), "30 seconds"),
        (timedelta(days=2, seconds=5), "2 days 5 seconds"),
        (timedelta(0), "0 minutes"),
    ],
)
def test_durations_are_said_in_words_singular_or_plural(delta, text):
    assert words.duration(delta) == text


@pytest.mark.parametrize(
    ("late", "text"),
    [
        (timedelta(seconds=20), "due now"),
        (timedelta(minutes=45), "45 minutes late"),
        (timedelta(hours=2, minutes=10), "2 hours 10 minutes late"),
        (timedelta(days=3, hours=4, minutes=5), "3 days 4 hours late"),
    ],
)
def test_lateness_is_said_in_words(late, text):
    assert words.lateness(NOW - late, NOW) == text


def test_when_a_ticket_is_due_is_said_in_words():
    assert words.due_words(NOW + timedelta(hours=2), NOW) == "due in 2 hours"
    assert words.due_words(NOW - timedelta(days=1, hours=3), NOW) == "overdue by 1 day 3 hours"
    assert words.due_words(None, NOW) == ""


def test_every_status_has_a_name_people_read():
    names = {code: words.status_name(code) for code in lifecycle.STATUSES}
    assert names[lifecycle.WAITING] == "waiting for info"
    assert names[lifecycle.IN_PROGRESS] == "in progress"
    assert all("_" not in name for name in names.values())


def test_the_status_filter_is_what_templates_use():
    text = render("chat/list.html", which="open", tickets=[_ticket()], now=NOW)
    assert "#7 · Printer &lt;on fire&gt; · waiting for info" in text


def test_a_refused_transition_is_said_from_its_codes():
    error = TransitionError(lifecycle.CANCELLED, lifecycle.OPEN)
    assert words.transition(error) == "a ticket that is cancelled cannot become open"


def test_values_and_expected_forms_are_said_in_words():
    duration = FieldSpec(name="d", question="?", type="duration")
    assert words.display(duration, 90) == "1 minute 30 seconds"
    assert words.display(None, False) == "no"
    assert words.display(None, None) == "—"
    assert words.display(None, 2.0) == "2"
    assert words.expected_form(duration) == "a duration like 30m, 8h or 2d"
    choice = FieldSpec(name="c", question="?", type="choice", choices=("a", "b"))
    assert words.expected_form(choice) == "one of: a, b"


def test_a_refusal_quoting_the_answer_is_escaped_in_the_message():
    spec = FieldSpec(name="n", question="?", type="integer")
    outcome = parse_answer(spec, "<b>1</b>", UTC)
    text = render("chat/invalid_value.html", spec=spec, reason=words.rejection(outcome))
    assert "&#39;&lt;b&gt;1&lt;/b&gt;&#39; is not a whole number." in text


def _ticket():
    return SimpleNamespace(
        id=7,
        title="Printer <on fire>",
        status=lifecycle.WAITING,
        is_active=True,
        assignee_name=None,
        due_at=None,
    )
