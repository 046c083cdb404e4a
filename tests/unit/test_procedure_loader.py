"""The procedure loader: every kind of mistake reported with its position, re-read on every load."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from bot.domain.fields import Accepted, Reason, Rejected, parse_answer
from bot.procedures import (
    Problem,
    ProcedureInvalid,
    ProcedureNotFound,
    ProcedureStore,
    load_file,
    parse_procedure,
)

LABEL = "procedures/access.yaml"

VALID = """\
title: Access request
fields:
  - name: system
    question: Which system?
    type: choice
    choices: [github, aws]
  - name: production
    question: Production? (yes/no)
    type: boolean
steps:
  - id: grant
    title: Access granted
    requires: [system]
"""


def problems(text: str) -> list[str]:
    """Every problem the loader reports for `text`, as people read them."""
    with pytest.raises(ProcedureInvalid) as caught:
        parse_procedure(dedent(text).encode(), procedure_id="access", path=LABEL)
    return [str(p) for p in caught.value.problems]


def only_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def write(directory: Path, procedure_id: str, text: str) -> Path:
    path = directory / f"{procedure_id}.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


# The file as a whole ---------------------------------------------------------------------------


def test_a_valid_file_loads_with_the_sha256_of_its_bytes_as_version():
    data = VALID.encode()
    procedure = parse_procedure(data, procedure_id="access", path=LABEL)
    assert procedure.version == hashlib.sha256(data).hexdigest()
    assert procedure.short_version == procedure.version[:8]
    assert [f.name for f in procedure.fields] == ["system", "production"]
    assert procedure.step("grant").requires == ("system",)
    assert procedure.path == LABEL


def test_unparsable_yaml_is_reported_with_its_line_and_column():
    text = "title: A\nfields:\n  - name: x\n    question: [unclosed\n"
    message = only_problem(text)
    assert message.startswith(f"{LABEL}:5:1: not valid YAML: ")


def test_a_colon_inside_a_value_gets_a_hint_to_quote_it():
    message = only_problem("title: Access: request form\n")
    assert message == (
        f"{LABEL}:1:14: not valid YAML: mapping values are not allowed in this context; "
        "if a value contains ': ', put the value in quotes"
    )


def test_an_empty_file_is_refused():
    assert only_problem("") == (
        f"{LABEL}:1:1: the file is empty; a procedure needs at least a title and the questions "
        "to ask"
    )


def test_a_document_that_is_not_a_mapping_is_refused():
    assert only_problem("- title: A\n") == (
        f"{LABEL}:1:1: a procedure file must be a mapping of keys like 'title: Access request', "
        "got a list"
    )


def test_two_documents_in_one_file_are_refused():
    message = only_problem("title: A\n---\ntitle: B\n")
    assert message == (
        f"{LABEL}:2:1: not valid YAML: the file holds more than one document ('---'); keep one"
    )


def test_a_file_that_is_not_utf8_is_refused_at_the_bad_byte():
    with pytest.raises(ProcedureInvalid) as caught:
        parse_procedure(b"title: A\ndescription: caf\xe9\n", procedure_id="access", path=LABEL)
    assert [str(p) for p in caught.value.problems] == [
        f"{LABEL}:2:17: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"
    ]


def test_python_tags_are_refused_and_never_run():
    message = only_problem("title: !!python/object/apply:os.system ['true']\n")
    assert message == (
        f"{LABEL}:1:8: title: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os."
        "system'; remove it"
    )


def test_a_tagged_document_is_refused():
    assert only_problem("!!omap\ntitle: A\n") == (
        f"{LABEL}:1:1: unsupported YAML tag 'tag:yaml.org,2002:omap'; remove it"
    )


@pytest.mark.parametrize(
    "nesting",
    ["[" * 5000 + "]" * 5000, "{a: " * 2000 + "1" + "}" * 2000, "- " * 3000 + "x"],
    ids=["lists", "mappings", "block-lists"],
)
def test_nesting_deeper_than_any_procedure_needs_is_refused_without_crashing(nesting):
    # libyaml refuses very deep nesting itself since PyYAML 6.0.4, in its own words; people
    # read ours, with the line, whichever parser noticed first.
    with pytest.raises(ProcedureInvalid) as caught:
        parse_procedure(
            f"title: A\ndescription:\n  {nesting}\n".encode(), procedure_id="access", path=LABEL
        )
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == (LABEL, 3)
    assert problem.message == "nested more than 64 levels deep"


def test_aliases_that_multiply_work_are_refused():
    lines = ["title: A", "a0: &a0 {name: x, question: q}"]
    lines.append("fields: [" + ", ".join(["*a0"] * 30_000) + "]")
    found = problems("\n".join(lines) + "\n")
    assert found[0] == (
        f"{LABEL}:1:1: the file is too large or repeats itself too much to check (look for '*' "
        "aliases that refer to each other)"
    )


# Keys ------------------------------------------------------------------------------------------


def test_an_unknown_top_level_key_is_reported_with_the_keys_allowed():
    assert only_problem(VALID + "descripton: typo\n") == (
        f"{LABEL}:14:1: descripton: unknown key 'descripton' (expected one of: title, "
        "description, tags, triggers, fields, steps, sla, resolution, knowledge, retro)"
    )


def test_an_unknown_field_key_is_reported_at_the_key():
    text = """\
    title: A
    fields:
      - name: x
        qestion: What?
    """
    assert problems(text) == [
        f"{LABEL}:3:5: fields[0].question: required key is missing (the question the bot asks)",
        f"{LABEL}:4:5: fields[0].qestion: unknown key 'qestion' (expected one of: name, "
        "question, label, type, required, required_when, choices, pattern, min, max, "
        "min_length, max_length, help, hint, example, from_text, accept, max_size, min_count, "
        "max_count)",
    ]


def test_a_missing_title_is_reported():
    assert only_problem("description: no title\n") == (
        f"{LABEL}:1:1: title: required key is missing (short name people see, like 'Access "
        "request')"
    )


def test_a_key_given_twice_is_reported_with_the_first_line():
    assert only_problem("title: A\ntitle: B\n") == (
        f"{LABEL}:2:1: title: given twice (first on line 1); keep one"
    )


# Fields ----------------------------------------------------------------------------------------


def test_an_unknown_type_is_reported_with_the_types_allowed():
    text = """\
    title: A
    fields:
      - name: x
        question: What?
      - name: y
        question: Why?
      - name: count
        question: How many?
        type: nubmer
    """
    assert only_problem(text) == (
        f"{LABEL}:9:11: fields[2].type: unknown type 'nubmer' (expected one of: text, integer, "
        "number, boolean, choice, date, datetime, duration, email, url, user, file, person)"
    )


def test_a_bad_regular_expression_is_reported():
    text = """\
    title: A
    fields:
      - name: ref
        question: Ref?
        pattern: '^(CHG'
    """
    assert only_problem(text) == (
        f"{LABEL}:5:14: fields[0].pattern: not a valid regular expression: missing ), "
        "unterminated subpattern at position 1"
    )


def with_pattern(pattern: str) -> str:
    """A procedure whose one field has `pattern`, written on line 5 from column 14."""
    return f"title: A\nfields:\n  - name: ref\n    question: Ref?\n    pattern: '{pattern}'\n"


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (r"^(a+)\1$", r"a back-reference (\1)"),
        (r"^(?P<x>a)(?P=x)$", "a back-reference by name (?P=name)"),
        (r"^a(?=b)", "a look-ahead (?=...)"),
        (r"^a(?!b)", "a negative look-ahead (?!...)"),
        (r"(?<=a)b", "a look-behind (?<=...)"),
        (r"(?<!a)b", "a negative look-behind (?<!...)"),
        (r"^(?>a+)b", "an atomic group (?>...)"),
        (r"^a++b", "a possessive repetition (++)"),
        (r"^(a)?(?(1)b|c)$", "a conditional group (?(1)...|...)"),
    ],
)
def test_a_pattern_that_only_backtracking_can_run_is_reported_saying_what(pattern, what):
    assert only_problem(with_pattern(pattern)) == (
        f"{LABEL}:5:14: fields[0].pattern: cannot be run safely: {what} needs backtracking, "
        "which some answers could make run for minutes"
    )


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"^a{1001}$", "it repeats too often ({1001}; at most 1000 in all"),
        (r"^((a{100}){100}){100}$", "it repeats too often"),
        (r"^CHG-\d+\Z", r"\Z is not supported; write \z or $ for the end of the answer"),
        (r"^\u00e9$", r"\u is not supported; write the character itself"),
        (r"(?x) a b", "the flag x in (?x) is not supported"),
        (r"(?#note)a", "comments (?#...) are not supported"),
        (r"^a{,3}$", "'{,3}' would match those characters themselves; write {0,3}"),
        (r"^\p{Foo}$", r"invalid character class range: \p{Foo}"),
    ],
)
def test_a_pattern_the_safe_engine_cannot_run_as_meant_is_reported(pattern, words):
    message = only_problem(with_pattern(pattern))
    assert message.startswith(f"{LABEL}:5:14: fields[0].pattern: ")
    assert words in message
    assert "Traceback" not in message and "b'" not in message


def test_a_procedure_with_an_unsafe_pattern_is_refused_by_the_bot(tmp_path):
    write(tmp_path, "access", with_pattern(r"^(a+)\1$"))
    with pytest.raises(ProcedureInvalid) as caught:
        ProcedureStore(tmp_path, label="procedures").load("access")
    assert [str(p) for p in caught.value.problems] == [
        r"procedures/access.yaml:5:14: fields[0].pattern: cannot be run safely: a back-reference "
        r"(\1) needs backtracking, which some answers could make run for minutes"
    ]


def test_a_backtracking_pattern_loads_and_its_field_answers_at_once(tmp_path):
    write(tmp_path, "access", with_pattern(r"^([a-z]+\.?)+$"))
    ref = ProcedureStore(tmp_path).load("access").field("ref")
    start = time.perf_counter()
    refused = parse_answer(ref, "a" * 34 + "!", ZoneInfo("UTC"))
    accepted = parse_answer(ref, "jane.doe", ZoneInfo("UTC"))
    assert time.perf_counter() - start < 2  # Python's `re` would take minutes
    assert isinstance(refused, Rejected) and refused.code == Reason.UNEXPECTED_FORM
    assert accepted == Accepted("jane.doe")


def test_a_pattern_may_use_the_safe_engine_s_own_classes():
    procedure = parse_procedure(
        with_pattern(r"^\p{L}+$").encode(), procedure_id="access", path=LABEL
    )
    ref = procedure.field("ref")
    assert parse_answer(ref, "Müller", ZoneInfo("UTC")) == Accepted("Müller")
    assert isinstance(parse_answer(ref, "M1", ZoneInfo("UTC")), Rejected)


def test_a_pattern_on_a_field_that_ignores_patterns_is_reported():
    text = """\
    title: A
    fields:
      - name: n
        question: How many?
        type: integer
        pattern: '^\\d+$'
    """
    assert only_problem(text) == (
        f"{LABEL}:6:14: fields[0].pattern: pattern only applies to text, email, url and user "
        "fields (this field's type is integer)"
    )


def test_choices_on_a_field_that_is_not_a_choice_are_reported():
    text = """\
    title: A
    fields:
      - name: size
        question: Size?
        choices: [s, m, l]
    """
    assert only_problem(text) == (
        f"{LABEL}:5:14: fields[0].choices: choices only apply to choice fields (this field's "
        "type is text); set 'type: choice' or remove choices"
    )


def test_a_choice_field_without_choices_is_reported():
    text = """\
    title: A
    fields:
      - name: size
        question: Size?
        type: choice
    """
    assert only_problem(text) == (
        f"{LABEL}:3:5: fields[0].choices: a choice field needs its choices, like "
        "'choices: [low, medium, high]'"
    )


def test_a_choice_listed_twice_is_reported():
    text = """\
    title: A
    fields:
      - name: size
        question: Size?
        type: choice
        choices: [s, m, S]
    """
    assert only_problem(text) == f"{LABEL}:6:21: fields[0].choices[2]: 'S' is listed twice"


def test_unquoted_yes_and_no_choices_are_taken_as_written():
    text = """\
    title: A
    fields:
      - name: agree
        question: Agree?
        type: choice
        choices: [yes, no, 1]
    """
    procedure = parse_procedure(dedent(text).encode(), procedure_id="a", path=LABEL)
    assert procedure.fields[0].choices == ("yes", "no", "1")


def test_min_on_a_text_field_points_to_min_length():
    text = """\
    title: A
    fields:
      - name: why
        question: Why?
        min: 20
    """
    assert only_problem(text) == (
        f"{LABEL}:5:10: fields[0].min: min only applies to integer, number and duration fields "
        "(this field's type is text); for the length of a text use min_length"
    )


def test_min_length_on_a_choice_field_is_reported():
    text = """\
    title: A
    fields:
      - name: s
        question: Size?
        type: choice
        choices: [s]
        min_length: 2
    """
    assert only_problem(text) == (
        f"{LABEL}:7:17: fields[0].min_length: min_length only applies to text fields (this "
        "field's type is choice)"
    )


def test_max_below_min_is_reported_at_max():
    text = """\
    title: A
    fields:
      - name: n
        question: How many?
        type: integer
        min: 10
        max: 5
    """
    assert only_problem(text) == f"{LABEL}:7:10: fields[0].max: max (5) is smaller than min (10)"


def test_duration_bounds_are_written_as_durations():
    text = """\
    title: A
    fields:
      - name: how_long
        question: How long?
        type: duration
        min: 5m
        max: 2h
    """
    spec = parse_procedure(dedent(text).encode(), procedure_id="a", path=LABEL).fields[0]
    assert (spec.min, spec.max) == (300, 7200)


def test_duplicate_field_names_are_reported_at_the_second():
    text = """\
    title: A
    fields:
      - name: system
        question: Which?
      - name: system
        question: Again?
    """
    assert only_problem(text) == (
        f"{LABEL}:5:11: fields[1].name: 'system' is already the name of fields[0]; field names "
        "must be unique"
    )


def test_a_resolution_field_may_not_reuse_an_intake_name():
    text = """\
    title: A
    fields:
      - name: solution
        question: Which?
    resolution:
      fields:
        - name: solution
          question: What was done?
    """
    assert only_problem(text) == (
        f"{LABEL}:7:13: resolution.fields[0].name: 'solution' is already the name of fields[0]; "
        "field names must be unique"
    )


def test_a_field_name_that_is_not_a_plain_name_is_reported():
    text = """\
    title: A
    fields:
      - name: Needed By
        question: When?
    """
    assert only_problem(text) == (
        f"{LABEL}:3:11: fields[0].name: 'Needed By' is not a valid field name (lowercase "
        "letters, digits and _, starting with a letter; at most 32)"
    )


def test_a_wrong_value_type_says_what_was_found():
    text = """\
    title: A
    fields:
      - name: x
        question: What?
        required: yes please
    """
    assert only_problem(text) == (
        f"{LABEL}:5:15: fields[0].required: expected true or false, got the text 'yes please'"
    )


def test_a_title_that_is_a_list_is_reported():
    assert only_problem("title: [a, b]\n") == (f"{LABEL}:1:8: title: expected text, got a list")


def test_an_example_the_field_would_refuse_is_reported():
    text = """\
    title: A
    fields:
      - name: ref
        question: Ref?
        pattern: '^CHG-\\d{4,}$'
        example: CHG-12
    """
    assert only_problem(text) == (
        f"{LABEL}:6:14: fields[0].example: the field would refuse its own example: unexpected form"
    )


# Conditions ------------------------------------------------------------------------------------


def test_a_condition_naming_an_unknown_field_lists_the_known_ones():
    text = VALID + "    when: {field: prod, equals: true}\n"
    assert only_problem(text) == (
        f"{LABEL}:14:19: steps[0].when.field: unknown field 'prod' (expected one of: system, "
        "production)"
    )


def test_a_condition_on_a_field_asked_later_is_reported():
    text = """\
    title: A
    fields:
      - name: ref
        question: Ref?
        required_when: {field: production, equals: true}
      - name: production
        question: Production?
        type: boolean
    """
    assert only_problem(text) == (
        f"{LABEL}:5:28: fields[0].required_when.field: 'production' is asked later; a condition "
        "can only look at fields asked before this one (move this field below it)"
    )


def test_a_condition_value_that_is_not_one_of_the_choices_is_reported():
    text = """\
    title: A
    fields:
      - name: severity
        question: How bad?
        type: choice
        choices: [low, high, critical]
    sla:
      due: 8h
      rules:
        - when: {field: severity, in: [hihg, critical]}
          due: 1h
    """
    assert only_problem(text) == (
        f"{LABEL}:10:36: sla.rules[0].when.in[0]: 'hihg' is not one of the choices of "
        "'severity' (low, high, critical)"
    )


def test_a_condition_on_a_yes_no_field_needs_true_or_false():
    text = """\
    title: A
    fields:
      - name: production
        question: Production?
        type: boolean
      - name: ref
        question: Ref?
        required_when: {field: production, equals: "yes"}
    """
    assert only_problem(text) == (
        f"{LABEL}:8:48: fields[1].required_when.equals: 'production' is a yes/no field; write "
        "true or false, got the text 'yes'"
    )


def test_a_condition_without_an_operator_is_reported():
    text = VALID + "    when: {field: production}\n"
    assert only_problem(text) == (
        f"{LABEL}:14:11: steps[0].when: a condition needs one of: equals, in, present (like "
        "{field: production, equals: true})"
    )


def test_a_condition_with_two_operators_is_reported():
    text = VALID + "    when: {field: production, equals: true, present: true}\n"
    assert only_problem(text) == (
        f"{LABEL}:14:54: steps[0].when.present: use only one of equals, in, present (found "
        "equals, present)"
    )


def test_required_true_next_to_required_when_is_reported():
    text = """\
    title: A
    fields:
      - name: production
        question: Production?
        type: boolean
      - name: ref
        question: Ref?
        required: true
        required_when: {field: production, equals: true}
    """
    assert only_problem(text) == (
        f"{LABEL}:8:15: fields[1].required: 'required: true' contradicts required_when (the "
        "field is required only while its condition holds); remove 'required'"
    )


def test_conditions_load_as_the_domain_reads_them():
    text = """\
    title: A
    fields:
      - name: severity
        question: How bad?
        type: choice
        choices: [low, high]
      - name: production
        question: Production?
        type: boolean
      - name: ref
        question: Ref?
        required_when: {field: production, equals: true}
    steps:
      - id: page
        title: Paged
        when: {field: severity, in: [high]}
      - id: note
        title: Noted
        optional: true
        when: {field: ref, present: true}
    sla:
      due: 8h
      rules:
        - when: {field: severity, in: [high]}
          due: 1h
    """
    p = parse_procedure(dedent(text).encode(), procedure_id="a", path=LABEL)
    assert p.field("ref").is_required({"production": True})
    assert not p.field("ref").applies({"production": False})
    assert p.step("page").applies({"severity": "high"})
    assert not p.step("page").applies({"severity": "low"})
    assert p.step("note").optional and p.step("note").applies({"ref": "CHG-1"})
    assert p.sla.due_after({"severity": "high"}).total_seconds() == 3600
    assert p.sla.due_after({"severity": "low"}).total_seconds() == 8 * 3600


# Steps, SLA, knowledge -------------------------------------------------------------------------


def test_a_step_requiring_an_unknown_field_is_reported():
    text = VALID.replace("requires: [system]", "requires: [sytem]")
    assert only_problem(text) == (
        f"{LABEL}:13:16: steps[0].requires[0]: unknown field 'sytem' (expected one of: system, "
        "production)"
    )


def test_duplicate_step_ids_are_reported():
    text = VALID + "  - id: grant\n    title: Again\n"
    assert only_problem(text) == (
        f"{LABEL}:14:9: steps[1].id: 'grant' is already the id of steps[0]; step ids must be unique"
    )


def test_an_unknown_role_is_reported():
    text = VALID + "    role: admin\n"
    assert only_problem(text) == (
        f"{LABEL}:14:11: steps[0].role: unknown role 'admin' (expected one of: member, lead)"
    )


def test_a_bad_duration_is_reported_with_how_to_write_one():
    assert only_problem(VALID + "sla:\n  due: 8 hours\n") == (
        f"{LABEL}:15:8: sla.due: '8 hours' is not a duration; write it like 30m, 8h, 2d or "
        "1h30m (s, m, h, d, w)"
    )


def test_a_negative_escalation_count_is_reported():
    assert only_problem(VALID + "sla:\n  escalate_after: -1\n") == (
        f"{LABEL}:15:19: sla.escalate_after: must be at least 0, got -1"
    )


def test_a_command_with_a_slash_gets_the_fix_suggested():
    assert only_problem(VALID + "triggers:\n  command: /Access\n") == (
        f"{LABEL}:15:12: triggers.command: '/Access' is not a valid command; write it without "
        "the slash, like 'access'"
    )


def test_a_knowledge_template_with_a_folder_is_refused():
    assert only_problem(VALID + "knowledge:\n  template: ../x.md.j2\n") == (
        f"{LABEL}:15:13: knowledge.template: '../x.md.j2' is not a plain file name; name a "
        "file in the procedures folder's templates/, like 'incident.md.j2' (no folders)"
    )


def test_every_problem_of_a_file_is_reported_not_just_the_first():
    text = """\
    title: A
    colour: blue
    fields:
      - name: a
        question: A?
        type: nubmer
      - name: a
        question: Again?
    steps:
      - id: s
        title: S
        requires: [b]
    sla:
      due: soon
    """
    found = problems(text)
    assert [p.split(": ")[1] for p in found] == [
        "colour",
        "fields[0].type",
        "fields[1].name",
        "steps[0].requires[0]",
        "sla.due",
    ]


# The store: fresh reads, paths -----------------------------------------------------------------


def test_editing_the_file_between_two_loads_gives_the_new_version(tmp_path):
    store = ProcedureStore(tmp_path)
    path = write(tmp_path, "access", VALID)
    first = store.load("access")
    edited = VALID.replace("steps:", "  - name: ticket_ref\n    question: Change ticket?\nsteps:")
    path.write_text(edited, encoding="utf-8")
    second = store.load("access")
    assert second.version == hashlib.sha256(edited.encode()).hexdigest() != first.version
    assert [f.name for f in second.fields] == ["system", "production", "ticket_ref"]
    path.write_text(VALID, encoding="utf-8")
    assert store.load("access") == first


def test_a_file_made_invalid_then_fixed_loads_again(tmp_path):
    store = ProcedureStore(tmp_path)
    path = write(tmp_path, "access", VALID)
    store.load("access")
    path.write_text(VALID.replace("type: boolean", "type: bool"), encoding="utf-8")
    with pytest.raises(ProcedureInvalid) as caught:
        store.load("access")
    assert caught.value.title == "Access request"
    assert "unknown type 'bool'" in str(caught.value)
    path.write_text(VALID, encoding="utf-8")
    assert store.load("access").title == "Access request"


def test_a_removed_file_is_not_found(tmp_path):
    store = ProcedureStore(tmp_path)
    path = write(tmp_path, "access", VALID)
    store.load("access")
    path.unlink()
    with pytest.raises(ProcedureNotFound):
        store.load("access")


def test_errors_name_the_file_inside_the_folder(tmp_path):
    store = ProcedureStore(tmp_path, label="procedures")
    write(tmp_path, "access", VALID + "colour: blue\n")
    with pytest.raises(ProcedureInvalid) as caught:
        store.load("access")
    assert caught.value.problems[0].path == "procedures/access.yaml"
    assert caught.value.procedure_id == "access"


@pytest.mark.parametrize(
    "procedure_id",
    [
        "../secret",
        "../../etc/passwd",
        "/etc/passwd",
        "a/b",
        "a\\b",
        "access\x00",
        ".hidden",
        "..",
        "",
        "Access",
        "access.yaml",
        " access",
        "access\n",
        "a" * 65,
    ],
)
def test_ids_that_are_not_plain_ids_are_refused_without_opening_a_file(
    tmp_path, monkeypatch, procedure_id
):
    folder = tmp_path / "procedures"
    folder.mkdir()
    write(folder, "access", VALID)
    (tmp_path / "secret.yaml").write_text(VALID, encoding="utf-8")
    opened = []
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k)
    )
    with pytest.raises(ProcedureNotFound) as caught:
        ProcedureStore(folder).load(procedure_id)
    assert opened == []
    assert "is not a procedure id" in str(caught.value)


def test_a_symlink_pointing_outside_the_folder_is_refused(tmp_path):
    folder = tmp_path / "procedures"
    folder.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text(VALID, encoding="utf-8")
    (folder / "access.yaml").symlink_to(outside)
    with pytest.raises(ProcedureNotFound) as caught:
        ProcedureStore(folder).load("access")
    assert "points outside the procedures folder" in str(caught.value)


def test_a_symlink_within_the_folder_is_followed(tmp_path):
    write(tmp_path, "access", VALID)
    (tmp_path / "access-v2.yaml").symlink_to(tmp_path / "access.yaml")
    assert ProcedureStore(tmp_path).load("access-v2").title == "Access request"


def test_a_folder_named_like_a_procedure_is_invalid_not_a_crash(tmp_path):
    (tmp_path / "access.yaml").mkdir()
    with pytest.raises(ProcedureInvalid) as caught:
        ProcedureStore(tmp_path).load("access")
    assert "cannot read the file: not a regular file" in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_named_like_a_procedure_does_not_hang_the_loader(tmp_path):
    os.mkfifo(tmp_path / "access.yaml")
    with pytest.raises(ProcedureInvalid):
        ProcedureStore(tmp_path).load("access")


def test_a_file_too_large_to_be_a_procedure_is_refused(tmp_path):
    write(tmp_path, "big", VALID + "description: " + "x" * 300_000 + "\n")
    with pytest.raises(ProcedureInvalid) as caught:
        ProcedureStore(tmp_path).load("big")
    assert "the file is too large" in str(caught.value)


def test_with_1000_files_a_load_opens_one_file_and_lists_nothing(tmp_path, monkeypatch):
    for n in range(1000):
        write(tmp_path, f"p{n:04d}", VALID)
    store = ProcedureStore(tmp_path)
    opened: list[str] = []
    listed: list[str] = []
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k)
    )
    monkeypatch.setattr(os, "scandir", lambda *a: listed.append("scandir"))
    monkeypatch.setattr(os, "listdir", lambda *a: listed.append("listdir"))
    assert store.load("p0500").id == "p0500"
    assert store.load("p0500").id == "p0500"
    assert opened == [str(tmp_path / "p0500.yaml")] * 2
    assert listed == []


def test_same_bytes_are_parsed_once_and_new_bytes_parsed_again(tmp_path, monkeypatch):
    import bot.procedures.store as store_module

    calls = []
    real = store_module.parse_procedure
    monkeypatch.setattr(
        store_module, "parse_procedure", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    store = ProcedureStore(tmp_path)
    path = write(tmp_path, "access", VALID)
    store.load("access")
    store.load("access")
    path.write_text(VALID + "description: changed\n", encoding="utf-8")
    store.load("access")
    assert len(calls) == 2


def test_ids_lists_only_files_named_like_procedures(tmp_path):
    for name in ("b.yaml", "a.yaml", "Upper.yaml", "c.yml", "schema.json", "notes.txt"):
        (tmp_path / name).write_text(VALID, encoding="utf-8")
    store = ProcedureStore(tmp_path)
    assert store.ids() == ["a", "b"]
    assert store.ignored_files() == ["Upper.yaml", "c.yml"]


def test_a_missing_folder_has_no_procedures(tmp_path):
    assert ProcedureStore(tmp_path / "nowhere").ids() == []


def test_summaries_include_invalid_procedures_with_their_problems(tmp_path):
    write(tmp_path, "good", VALID)
    write(tmp_path, "bad", VALID + "colour: blue\n")
    good, bad = sorted(ProcedureStore(tmp_path).summaries(), key=lambda s: s.id != "good")
    assert (good.id, good.valid, good.title, good.problems) == ("good", True, "Access request", ())
    assert (bad.id, bad.valid, bad.title) == ("bad", False, "Access request")
    assert len(bad.version) == 64
    assert [p.key for p in bad.problems] == ["colour"]


def test_keywords_match_whole_words_and_the_best_match_comes_first(tmp_path):
    write(tmp_path, "access", VALID + "triggers:\n  keywords: [access, permission]\n")
    write(tmp_path, "vpn", "title: VPN\ntriggers:\n  keywords: [vpn, access, can't connect]\n")
    write(tmp_path, "broken", "title: [\n")
    store = ProcedureStore(tmp_path)
    assert [p.id for p in store.match("I need ACCESS and permission")] == ["access", "vpn"]
    assert [p.id for p in store.match("VPN access: I can't connect")] == ["vpn", "access"]
    assert store.match("accessibility problem") == []
    assert store.match("") == []


def test_by_command_uses_the_trigger_command_then_the_id(tmp_path):
    write(tmp_path, "access-request", VALID + "triggers:\n  command: access\n")
    write(tmp_path, "other", "title: Other\n")
    write(tmp_path, "broken", "title: [\n")
    store = ProcedureStore(tmp_path)
    assert store.by_command("access").id == "access-request"
    assert store.by_command("/ACCESS").id == "access-request"
    assert store.by_command("other").id == "other"
    assert store.by_command("nothing") is None
    assert store.by_command("../other") is None
    with pytest.raises(ProcedureInvalid):
        store.by_command("broken")


def test_load_file_reports_a_file_name_the_bot_would_ignore(tmp_path):
    path = tmp_path / "Access Request.yaml"
    path.write_text(VALID, encoding="utf-8")
    with pytest.raises(ProcedureInvalid) as caught:
        load_file(path, "procedures/Access Request.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "procedures/Access Request.yaml: 'Access Request.yaml' is not a procedure file name; "
        "the bot only reads files named <id>.yaml, where the id has lowercase letters, digits, "
        "- and _"
    ]


def test_a_problem_without_a_position_names_only_the_file():
    assert str(Problem("procedures/a.yaml", 0, 0, "", "gone")) == "procedures/a.yaml: gone"
    assert str(Problem("p/a.yaml", 3, 4, "title", "bad")) == "p/a.yaml:3:4: title: bad"
