"""Whatever a procedure file holds, the loader returns a procedure or a clean ProcedureError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.procedure import FIELD_TYPES, Procedure
from bot.procedures import ProcedureError, parse_procedure
from bot.procedures.vocabulary import (
    CONDITION,
    FIELD,
    KNOWLEDGE,
    PROCEDURE,
    SLA,
    SLA_RULE,
    STEP,
    TRIGGERS,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = sorted(
    {
        k
        for s in (PROCEDURE, TRIGGERS, FIELD, CONDITION, STEP, SLA, SLA_RULE, KNOWLEDGE)
        for k in s.keys
    }
)


def load(data: bytes) -> Procedure | None:
    """The procedure, or None after a ProcedureError that names the file and says something."""
    try:
        return parse_procedure(data, procedure_id="fuzz", path="procedures/fuzz.yaml")
    except ProcedureError as e:
        assert e.problems
        for problem in e.problems:
            assert str(problem).startswith("procedures/fuzz.yaml")
            assert problem.message
        return None


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [*KEYS, *FIELD_TYPES, "8h", "0m", "1h30m", "^(x", "lead", "@bob", "0b_", "+.inf", "1e999"]
    ),
)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=40,
)


def field_like():
    return st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "severity", "A b", ""]), "question": scalars},
        optional={
            "type": st.sampled_from([*FIELD_TYPES, "nubmer"]),
            "choices": st.lists(scalars, max_size=4),
            "required": scalars,
            "required_when": st.dictionaries(st.sampled_from(list(CONDITION.keys)), scalars),
            "pattern": st.sampled_from(["^x$", "(", "[[a]", "\\d+"]),
            "min": scalars,
            "max": scalars,
            "min_length": scalars,
            "example": scalars,
        },
    )


procedures = st.fixed_dictionaries(
    {"title": scalars},
    optional={
        "fields": st.lists(field_like(), max_size=4),
        "steps": st.lists(
            st.fixed_dictionaries(
                {"id": scalars, "title": scalars},
                optional={
                    "requires": st.lists(st.sampled_from(["a", "b", "zz"]), max_size=3),
                    "when": st.dictionaries(st.sampled_from(list(CONDITION.keys)), scalars),
                    "role": st.sampled_from(["lead", "member", "boss"]),
                },
            ),
            max_size=3,
        ),
        "sla": st.dictionaries(st.sampled_from(list(SLA.keys)), structures, max_size=4),
        "triggers": st.dictionaries(st.sampled_from(list(TRIGGERS.keys)), structures),
        "knowledge": st.dictionaries(st.sampled_from(list(KNOWLEDGE.keys)), structures),
    },
)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_loader(data):
    load(data)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("abc:-[]{}!&*#|>'\"\n\t ?,%@`1")), max_size=200))
def test_random_yaml_like_text_never_crashes_the_loader(text):
    load(text.encode("utf-8"))


@FUZZ
@given(
    st.sampled_from(["escalate_after", "due", "remind_every"]),
    st.text(alphabet=st.sampled_from(list("0123456789bxo_.:+-eE infa")), max_size=12),
)
def test_odd_numbers_written_unquoted_never_crash_the_loader(key, raw):
    text = (
        f"title: A\nsla:\n  {key}: {raw}\n"
        f"fields:\n  - {{name: n, question: q, type: number, min: {raw}}}\n"
    )
    load(text.encode())


@FUZZ
@given(structures)
def test_random_structures_never_crash_the_loader(data):
    load(yaml.safe_dump(data).encode("utf-8"))


@FUZZ
@given(procedures)
def test_procedure_shaped_structures_load_or_fail_cleanly(data):
    procedure = load(yaml.safe_dump(data, allow_unicode=True).encode("utf-8"))
    if procedure is not None:
        assert procedure.id == "fuzz"
        assert len({f.name for f in procedure.fields}) == len(procedure.fields)
