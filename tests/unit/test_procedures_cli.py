"""`sopbot procedures list|check|show|schema`: what they print and the status they exit with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot.cli as cli
from bot.procedures.schema import schema_text

GOOD = """\
title: Access request
triggers:
  command: access
fields:
  - name: system
    question: Which system?
    type: choice
    choices: [github, aws]
  - name: production
    question: Production? (yes/no)
    type: boolean
  - name: ticket_ref
    question: Change ticket?
    pattern: '^CHG-\\d+$'
    required_when: {field: production, equals: true}
steps:
  - id: grant
    title: Access granted
    role: lead
    requires: [system]
    instructions: Use the admin console.
sla:
  due: 8h
  remind_every: 2h
  escalate_after: 2
  rules:
    - when: {field: system, in: [aws]}
      due: 1h
resolution:
  fields:
    - name: solution
      question: What was done?
      min_length: 10
"""
BAD = "title: Broken\nfields:\n  - name: x\n    question: X?\n    type: nubmer\n"


@pytest.fixture(autouse=True)
def only_procedure_commands(monkeypatch):
    """Only this command group is built, so these tests do not depend on the others."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("bot.cli.procedures_cmd",))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A config whose procedures folder holds one valid procedure; the cwd is the config's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOPBOT_CONFIG", raising=False)
    (tmp_path / "config.yaml").write_text("procedures_dir: procedures\n", encoding="utf-8")
    procedures = tmp_path / "procedures"
    procedures.mkdir()
    (procedures / "access.yaml").write_text(GOOD, encoding="utf-8")
    return procedures


def run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_the_procedures_command_group_is_registered():
    assert "bot.cli.procedures_cmd" in cli.COMMAND_MODULES


def test_list_shows_id_title_version_prefix_and_validity(folder, capsys):
    (folder / "broken.yaml").write_text(BAD, encoding="utf-8")
    code, out = run(capsys, "procedures", "list", "--config", "config.yaml")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["access", lines[0].split()[1], "valid", "Access", "request"]
    assert len(lines[0].split()[1]) == 8
    assert lines[1].split()[0] == "broken"
    assert "INVALID (1 problem)" in lines[1] and lines[1].endswith("Broken")
    assert lines[2] == "1 invalid procedure; see: sopbot procedures check"


def test_list_of_an_empty_folder_says_so(folder, capsys):
    (folder / "access.yaml").unlink()
    assert run(capsys, "procedures", "list") == (0, "no procedures in procedures\n")


def test_check_exits_0_when_every_procedure_is_valid(folder, capsys):
    assert run(capsys, "procedures", "check", "--config", "config.yaml") == (
        0,
        "checked 1 procedure: all valid\n",
    )


def test_check_exits_1_printing_every_problem_with_its_position(folder, capsys):
    (folder / "broken.yaml").write_text(BAD + "colour: blue\n", encoding="utf-8")
    code, out = run(capsys, "procedures", "check")
    assert code == 1
    assert out.splitlines() == [
        "procedures/broken.yaml:5:11: fields[0].type: unknown type 'nubmer' (expected one of: "
        "text, integer, number, boolean, choice, date, datetime, duration, email, url, user, file, "
        "person)",
        "procedures/broken.yaml:6:1: colour: unknown key 'colour' (expected one of: title, "
        "description, tags, triggers, fields, steps, sla, resolution, knowledge, retro)",
        "checked 2 procedures: 1 invalid, 2 problems",
    ]


def test_check_accepts_files_and_folders_as_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "two.yaml").write_text(BAD, encoding="utf-8")
    code, out = run(capsys, "procedures", "check", "a", "two.yaml")
    assert code == 1
    assert out.splitlines()[0].startswith("two.yaml:5:11: fields[0].type: unknown type")
    assert out.splitlines()[-1] == "checked 2 procedures: 1 invalid, 1 problem"
    assert run(capsys, "procedures", "check", "a/one.yaml") == (
        0,
        "checked 1 procedure: all valid\n",
    )


def test_check_reports_a_missing_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "procedures", "check", "nope.yaml")
    assert code == 1
    assert out.splitlines()[0] == "nope.yaml: no procedure 'nope': the file does not exist"


def test_check_reports_files_the_bot_would_ignore_and_shared_commands(folder, capsys):
    (folder / "Access.yml").write_text(GOOD, encoding="utf-8")
    (folder / "access2.yaml").write_text(GOOD, encoding="utf-8")
    code, out = run(capsys, "procedures", "check")
    assert code == 1
    assert out.splitlines() == [
        "procedures/Access.yml: 'Access.yml' is not a procedure file name; the bot only reads "
        "files named <id>.yaml, where the id has lowercase letters, digits, - and _",
        "procedures/access2.yaml:3:12: triggers.command: 'access' is also the command of access, "
        "so '/new access' never picks this one",
        "checked 3 procedures: 2 invalid, 2 problems",
    ]


def test_check_reports_a_knowledge_template_that_does_not_exist(folder, capsys):
    text = GOOD + "knowledge:\n  template: access.md.j2\n"
    (folder / "access.yaml").write_text(text, encoding="utf-8")
    code, out = run(capsys, "procedures", "check")
    assert code == 1
    assert out.splitlines()[0] == (
        "procedures/access.yaml:35:13: knowledge.template: no template file "
        "templates/access.md.j2 beside this procedure"
    )
    (folder / "templates").mkdir()
    (folder / "templates" / "access.md.j2").write_text("{{ title }}\n", encoding="utf-8")
    assert run(capsys, "procedures", "check")[0] == 0


def test_check_reports_a_pattern_that_cannot_run_safely_with_its_line(folder, capfd):
    text = GOOD.replace("'^CHG-\\d+$'", "'^(CHG)-\\d+-\\1$'")
    (folder / "access.yaml").write_text(text, encoding="utf-8")
    assert cli.main(["procedures", "check"]) == 1
    out, err = capfd.readouterr()  # at the descriptors: RE2 itself may write to stderr
    assert out.splitlines() == [
        "procedures/access.yaml:14:14: fields[2].pattern: cannot be run safely: a back-reference "
        "(\\1) needs backtracking, which some answers could make run for minutes",
        "checked 1 procedure: 1 invalid, 1 problem",
    ]
    assert err == ""


def test_check_calls_a_backtracking_pattern_valid_because_it_cannot_stall(folder, capsys):
    text = GOOD.replace("'^CHG-\\d+$'", "'^([a-z]+\\.?)+$'")
    (folder / "access.yaml").write_text(text, encoding="utf-8")
    assert run(capsys, "procedures", "check") == (0, "checked 1 procedure: all valid\n")


SECRET = "SOPBOT_TELEGRAM_TOKEN=123456:FAKE-secret-never-printed\n"


@pytest.mark.parametrize("paths", [(), ("procedures",), ("procedures/leak.yaml",)])
def test_check_refuses_a_symlink_out_of_the_folder_without_reading_it(folder, capsys, paths):
    env = folder.parent / "bot.env"
    env.write_text(SECRET, encoding="utf-8")
    (folder / "leak.yaml").symlink_to(env)
    code, out = run(capsys, "procedures", "check", *paths)
    assert code == 1
    assert "FAKE-secret" not in out and "123456" not in out
    lines = out.splitlines()
    assert lines[0] == (
        "procedures/leak.yaml: a link to a file outside its folder; the bot refuses it, "
        "so it was not read"
    )
    assert lines[-1].startswith("checked ") and "1 invalid" in lines[-1]


def test_check_follows_a_symlink_within_the_folder_as_the_bot_does(folder, capsys):
    (folder / "access-v2.yaml").symlink_to(folder / "access.yaml")
    code, out = run(capsys, "procedures", "check")
    assert code == 1  # read through the link: two files with one command
    assert out.splitlines()[0] == (
        "procedures/access-v2.yaml:3:12: triggers.command: 'access' is also the command of "
        "access, so '/new access' never picks this one"
    )


def test_show_lists_the_questions_in_order_then_steps_and_sla(folder, capsys):
    code, out = run(capsys, "procedures", "show", "access", "--config", "config.yaml")
    assert code == 0
    assert out.splitlines()[0].startswith("access: Access request (version ")
    assert "\n".join(out.splitlines()[1:]) == (
        """\
Starts with: /new access

Questions, in the order they are asked:
  1. system: Which system?
     choice, required; answer: one of: github, aws
  2. production: Production? (yes/no)
     boolean, required; answer: yes or no
  3. ticket_ref: Change ticket?
     text, asked only when production is yes; answer: some text; must match ^CHG-\\d+$

Steps:
  1. grant: Access granted (leads only; needs system)
     Use the admin console.

SLA: due within 8h; 1h when system is aws; reminders every 2h; leads told after 2 reminders

When resolving, the bot asks:
  1. solution: What was done?
     text, required; answer: some text; at least 10 characters"""
    )


def test_show_of_an_unknown_or_invalid_procedure_exits_1_with_the_reason(folder, capsys):
    (folder / "broken.yaml").write_text(BAD, encoding="utf-8")
    code, out = run(capsys, "procedures", "show", "nope")
    assert (code, out) == (
        1,
        "procedures/nope.yaml: no procedure 'nope': the file does not exist\n",
    )
    code, out = run(capsys, "procedures", "show", "../config")
    assert code == 1 and "is not a procedure id" in out
    code, out = run(capsys, "procedures", "show", "broken")
    assert code == 1 and out.startswith("procedures/broken.yaml:5:11: fields[0].type:")


def test_schema_prints_the_json_schema(capsys):
    code, out = run(capsys, "procedures", "schema")
    assert code == 0
    assert out == schema_text()
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_bad_config_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text("nonsense_key: 1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as caught:
        cli.main(["procedures", "list", "--config", "bad.yaml"])
    assert caught.value.code == 2
