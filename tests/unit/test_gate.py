"""The completeness gate: which question comes next and when a ticket may open."""

from __future__ import annotations

import pytest

from bot import words
from bot.domain import gate, lifecycle
from bot.domain.procedure import Condition, FieldSpec
from bot.domain.ticket import TransitionError, check_transition

SYSTEM = FieldSpec("system", "Which system?", type="choice", choices=("github", "aws"))
WHY = FieldSpec("why", "Why?", min_length=5)
WHEN = FieldSpec("needed_by", "By when?", type="date", required=False)
PROD = FieldSpec("production", "Production?", type="boolean")
REF = FieldSpec("ticket_ref", "Change ticket?", required_when=Condition("production", equals=True))
FIELDS = (SYSTEM, WHY, WHEN, PROD, REF)


def test_missing_required_field_is_asked_for_first():
    assert gate.next_field(FIELDS, {}) is SYSTEM
    assert gate.next_field(FIELDS, {"system": "aws"}) is WHY


def test_optional_field_is_asked_once_and_can_be_skipped():
    values = {"system": "aws", "why": "because"}
    assert gate.next_field(FIELDS, values) is WHEN
    assert gate.can_skip(WHEN, values)
    assert not gate.can_skip(WHY, values)
    values["needed_by"] = None  # skipped
    assert gate.next_field(FIELDS, values) is PROD


def test_required_when_field_is_asked_only_while_its_condition_holds():
    values = {"system": "aws", "why": "because", "needed_by": None, "production": False}
    assert gate.next_field(FIELDS, values) is None
    assert gate.is_complete(FIELDS, values)
    values["production"] = True
    assert gate.next_field(FIELDS, values) is REF
    assert gate.missing_required(FIELDS, values) == [REF]
    assert not gate.is_complete(FIELDS, values)


def test_a_skipped_field_that_became_required_is_asked_again():
    fields = (PROD, FieldSpec("ref", "Ref?", required_when=Condition("production", equals=True)))
    values = {"production": True, "ref": None}
    assert gate.next_field(fields, values).name == "ref"


def test_condition_forms():
    values = {"severity": "high", "x": None}
    assert Condition("severity", in_=("high", "critical")).holds(values)
    assert not Condition("severity", equals="low").holds(values)
    assert Condition("severity", present=True).holds(values)
    assert Condition("x", present=False).holds(values)
    assert not Condition("missing").holds(values)


def test_named_value_lines_only_name_fields_of_the_procedure():
    text = "Need access please\nsystem: aws\nWhy: deploys need it\nfoo: bar\nhttp://x: y"
    found = gate.named_values(text, FIELDS)
    assert [(n.name, n.raw) for n in found] == [("system", "aws"), ("why", "deploys need it")]


def test_lifecycle_allows_only_the_documented_transitions():
    check_transition(lifecycle.WAITING, lifecycle.OPEN)
    check_transition(lifecycle.RESOLVED, lifecycle.REOPENED)
    check_transition(lifecycle.REOPENED, lifecycle.IN_PROGRESS)
    with pytest.raises(TransitionError) as refused:
        check_transition(lifecycle.WAITING, lifecycle.RESOLVED)
    assert (refused.value.current, refused.value.target) == (lifecycle.WAITING, lifecycle.RESOLVED)
    said = words.transition(refused.value)
    assert said == "a ticket that is waiting for info cannot become resolved"
    with pytest.raises(TransitionError):
        check_transition(lifecycle.CANCELLED, lifecycle.OPEN)
