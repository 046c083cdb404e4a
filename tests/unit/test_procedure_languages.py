"""Procedures in several languages: any text a person reads may be written once per language."""

from __future__ import annotations

from textwrap import dedent

import pytest

from bot.domain.fields import Accepted, parse_answer
from bot.procedures.errors import ProcedureInvalid
from bot.procedures.load import parse_procedure

LABEL = "procedures/access.yaml"
BILINGUAL = """\
    title: {en: Access request, zh-CN: 权限申请}
    description:
      en: Someone needs access.
      zh-CN: 有人需要权限。
    fields:
      - name: level
        label: {en: Access level, zh-CN: 权限级别}
        question:
          en: What level of access?
          zh-CN: 需要什么级别的权限？
        type: choice
        choices:
          - {value: read, label: {en: Read, zh-CN: 只读}}
          - {value: admin, label: {en: Admin, zh-CN: 管理员}}
          - other
        help: {en: Admin needs a lead., zh-CN: 管理员权限需要负责人审批。}
    steps:
      - id: grant
        title: {en: Access granted, zh-CN: 已开通权限}
        instructions:
          en: Grant the role.
          zh-CN: 授予角色。
    resolution:
      fields:
        - name: solution
          question: {en: What was done?, zh-CN: 是怎么处理的？}
"""


def load(text: str, language: str = "en"):
    return parse_procedure(
        dedent(text).encode(), procedure_id="access", path=LABEL, language=language
    )


def problems(text: str) -> list[str]:
    with pytest.raises(ProcedureInvalid) as caught:
        load(text)
    return [str(p) for p in caught.value.problems]


def test_a_procedure_reads_in_the_language_asked_for():
    zh, en = load(BILINGUAL, "zh-CN"), load(BILINGUAL, "en")
    assert (zh.title, en.title) == ("权限申请", "Access request")
    assert zh.description == "有人需要权限。"
    level = zh.fields[0]
    assert (level.label, level.question, level.help) == (
        "权限级别",
        "需要什么级别的权限？",
        "管理员权限需要负责人审批。",
    )
    assert (zh.steps[0].title, zh.steps[0].instructions) == ("已开通权限", "授予角色。")
    assert zh.resolution.fields[0].question == "是怎么处理的？"
    assert en.fields[0].question == "What level of access?"


def test_a_choice_keeps_its_stored_value_in_every_language_and_shows_its_label():
    zh, en = load(BILINGUAL, "zh-CN").fields[0], load(BILINGUAL, "en").fields[0]
    assert zh.choices == en.choices == ("read", "admin", "other")
    assert zh.labelled_choices == (("read", "只读"), ("admin", "管理员"), ("other", "other"))
    assert en.labelled_choices[0] == ("read", "Read")
    # Typed as the label people read, or as the stored value: the value is stored.
    assert parse_answer(zh, "管理员", None) == Accepted("admin")  # type: ignore[arg-type]
    assert parse_answer(zh, "read", None) == Accepted("read")  # type: ignore[arg-type]


def test_a_text_missing_in_one_language_is_reported_where_it_is():
    text = BILINGUAL.replace("          zh-CN: 需要什么级别的权限？\n", "")
    assert problems(text) == [
        f"{LABEL}:9:7: fields[0].question: no zh-CN text, while other texts here are in zh-CN"
    ]


def test_a_language_sopbot_does_not_speak_is_reported():
    text = BILINGUAL.replace("zh-CN: 权限申请}", "fr: Demande d'accès}")
    assert (
        f"{LABEL}:1:29: title: 'fr' is not a language sopbot speaks (expected one of: en, zh-CN)"
    ) in problems(text)


def test_a_plain_text_is_the_same_in_every_language():
    plain = "title: Access\nfields:\n  - name: a\n    question: Which?\n"
    assert load(plain, "zh-CN").fields[0].question == "Which?"
