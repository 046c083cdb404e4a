"""Every shipped procedure is valid, described by a current schema, and renders."""

from __future__ import annotations

import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.cli as cli
from bot.cli.procedures_cmd import outline
from bot.domain.fields import Accepted, parse_answer
from bot.procedures import ProcedureStore
from bot.procedures.check import check_files, files_in
from bot.procedures.schema import schema_text
from bot.procedures.vocabulary import (
    CONDITION,
    FIELD,
    KNOWLEDGE,
    PROCEDURE,
    RESOLUTION,
    SLA,
    SLA_RULE,
    STEP,
    TRIGGERS,
)
from bot.words import expected_form

FOLDER = Path(__file__).resolve().parents[2] / "procedures"
SHIPPED = ["access-request", "bug-report", "change-request", "deploy-troubleshooting", "incident"]
SCHEMA_LINE = "# yaml-language-server: $schema=./schema.json"
store = ProcedureStore(FOLDER, label="procedures")


def test_the_shipped_procedures_are_the_ones_documented():
    assert store.ids() == SHIPPED
    assert store.ignored_files() == []


def test_every_shipped_procedure_passes_check_as_a_set():
    report = check_files(files_in(FOLDER, "procedures"))
    assert [str(p) for p in report.problems] == []
    assert report.checked == len(SHIPPED)


@pytest.mark.parametrize("procedure_id", SHIPPED)
def test_shipped_procedure_is_valid_and_complete(procedure_id):
    p = store.load(procedure_id)
    assert p.title and p.description
    assert p.triggers.command and p.triggers.keywords
    assert p.fields and p.steps
    assert p.sla.due is not None and p.sla.remind_every is not None
    solution = p.field("solution")
    assert solution in p.resolution.fields and solution.type == "text"


@pytest.mark.parametrize("procedure_id", SHIPPED)
def test_shipped_file_points_editors_at_the_schema(procedure_id):
    first = (FOLDER / f"{procedure_id}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == SCHEMA_LINE


@pytest.mark.parametrize("procedure_id", SHIPPED)
def test_every_question_renders_with_the_form_of_answer_expected(procedure_id):
    p = store.load(procedure_id)
    text = "\n".join(outline(p))
    for spec in (*p.fields, *p.resolution.fields):
        assert spec.question.strip() and expected_form(spec)
        assert f"{spec.name}: {spec.question}" in text
        if spec.type == "choice":
            assert len(spec.choices) >= 2
            for choice in spec.choices:
                assert isinstance(parse_answer(spec, choice, ZoneInfo("UTC")), Accepted)
    for step in p.steps:
        assert f"{step.id}: {step.title}" in text


@pytest.mark.parametrize("procedure_id", SHIPPED)
def test_every_shipped_pattern_judges_a_hostile_answer_at_once(procedure_id):
    p = store.load(procedure_id)
    hostile = "a" * 4000 + "!"
    for spec in (*p.fields, *p.resolution.fields):
        if spec.pattern is None:
            continue
        start = time.perf_counter()
        parse_answer(spec, hostile, ZoneInfo("UTC"))
        assert time.perf_counter() - start < 2
        if spec.example is not None:
            assert isinstance(parse_answer(spec, spec.example, ZoneInfo("UTC")), Accepted)


def test_the_committed_schema_is_current():
    committed = (FOLDER / "schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: sopbot procedures schema > procedures/schema.json"


def test_sopbot_procedures_schema_prints_the_committed_file(capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("bot.cli.procedures_cmd",))
    assert cli.main(["procedures", "schema"]) == 0
    assert capsys.readouterr().out == (FOLDER / "schema.json").read_text(encoding="utf-8")


def test_the_schema_describes_every_key_the_validator_accepts():
    schema = json.loads(schema_text())
    defs = schema["$defs"]
    props = schema["properties"]
    places = [
        (PROCEDURE, props),
        (TRIGGERS, props["triggers"]["properties"]),
        (FIELD, defs["field"]["properties"]),
        (CONDITION, defs["condition"]["properties"]),
        (STEP, defs["step"]["properties"]),
        (SLA, props["sla"]["properties"]),
        (SLA_RULE, defs["sla_rule"]["properties"]),
        (RESOLUTION, props["resolution"]["properties"]),
        (KNOWLEDGE, props["knowledge"]["properties"]),
    ]
    for section, properties in places:
        assert list(properties) == list(section.keys)
        assert all(p["description"] for p in properties.values())


def test_the_deploy_runbook_covers_the_known_failures():
    p = store.load("deploy-troubleshooting")
    symptom = p.field("symptom")
    assert symptom.choices == ("oauth", "token", "path", "renamed", "other")
    steps = {s.when.equals: s for s in p.steps if s.when is not None}
    assert "exact" in steps["oauth"].instructions and "propagate" in steps["oauth"].instructions
    for word in ("Stop", "Back up", "Reset", "Start"):
        assert word in steps["token"].instructions
    assert "absolute path" in steps["path"].instructions and "PATH" in steps["path"].instructions
    assert "installed" in steps["renamed"].instructions
    assert p.field("error_text").is_required({})
    assert p.field("callback_url").is_required({"symptom": "oauth"})


def test_incident_has_a_short_sla_for_high_and_critical_severity():
    p = store.load("incident")
    assert p.sla.due_after({"severity": "critical"}).total_seconds() <= 3600
    assert p.sla.due_after({"severity": "high"}).total_seconds() <= 3600
    assert p.sla.due_after({"severity": "low"}) == p.sla.due
    assert p.field("started_at").type == "datetime"
