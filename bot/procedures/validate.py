"""The rules of the procedure format: from a YAML node tree to a Procedure, or all its problems.

Every part of the file is checked even after a problem is found, so one `sopbot procedures check`
shows everything to fix. Names are collected before conditions are read, so a reference to a field
asked later gets its own message rather than "unknown field".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from yaml.nodes import MappingNode, Node, ScalarNode

from bot.domain.fields import Rejected, parse_answer
from bot.domain.files import is_accept_word, parse_size
from bot.domain.languages import ENGLISH
from bot.domain.procedure import (
    FIELD_TYPES,
    RETRO_WHEN,
    ROLES,
    Approval,
    Condition,
    FieldSpec,
    KnowledgeSettings,
    Matcher,
    Procedure,
    Resolution,
    Retro,
    Sla,
    SlaRule,
    Step,
    Triggers,
)
from bot.procedures.errors import Problem, ProcedureInvalid
from bot.procedures.nodes import BOOL, FLOAT, INT, NULL, Reader, TooComplex, describe
from bot.procedures.patterns import PatternError, compile_pattern
from bot.procedures.vocabulary import (
    APPROVAL,
    CHOICE,
    COMMAND_RE,
    CONDITION,
    CONDITION_OPERATORS,
    FIELD,
    FILE_KEYS,
    KNOWLEDGE,
    LENGTH_TYPES,
    MAX_NAME_LENGTH,
    NAME_RE,
    PATTERN_TYPES,
    PROCEDURE,
    RANGE_TYPES,
    RESOLUTION,
    RETRO,
    SLA,
    SLA_RULE,
    STEP,
    STEP_ID_RE,
    TEMPLATE_RE,
    TRIGGERS,
)

_UTC = ZoneInfo("UTC")
_NONE_LATER: Mapping[str, int] = {}
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
INTAKE = "intake"
RESOLVE = "resolution"
RETROSPECTIVE = "retro"
_FIELD_NAME = "field name (lowercase letters, digits and _, starting with a letter; at most 32)"
_STEP_ID = "step id (lowercase letters, digits, - and _; at most 32)"


@dataclass
class _Known:
    """A field name already declared: where, at which stage, and its spec once it was valid."""

    label: str
    stage: str
    spec: FieldSpec | None = None


def build(
    root: Node | None, *, procedure_id: str, version: str, path: str, language: str = ENGLISH
) -> Procedure:
    """The procedure a node tree describes, its texts in `language` (where they are written in
    several); ProcedureInvalid lists every problem otherwise."""
    reader = Reader(path, language=language)
    builder = _Builder(reader)
    procedure = None
    try:
        procedure = builder.procedure(root, procedure_id, version, path)
        reader.check_translations()
    except TooComplex:
        reader.problems.append(
            Problem(
                path,
                1,
                1,
                "",
                "the file is too large or repeats itself too much to check "
                "(look for '*' aliases that refer to each other)",
            )
        )
    if reader.problems or procedure is None:
        raise ProcedureInvalid(
            procedure_id, sorted(reader.problems), version=version, title=builder.title
        )
    return procedure


class _Builder:
    def __init__(self, reader: Reader):
        self.r = reader
        self.title: str | None = None
        self.known: dict[str, _Known] = {}

    def procedure(self, root: Node | None, procedure_id: str, version: str, path: str):
        r = self.r
        if root is None or (isinstance(root, ScalarNode) and root.tag == NULL):
            r.problems.append(
                Problem(
                    path,
                    1,
                    1,
                    "",
                    "the file is empty; a procedure needs at "
                    "least a title and the questions to ask",
                )
            )
            return None
        if not isinstance(root, MappingNode):
            r.report(
                root,
                "",
                "a procedure file must be a mapping of keys like "
                f"'title: Access request', got {describe(root)}",
            )
            return None
        top = r.mapping(root, "", PROCEDURE)
        if top is None:  # a tagged document, like `!!omap` or `!custom`
            return None
        if "title" in top:
            self.title = r.localized(top["title"], "title")
        description = r.localized(top["description"], "description") if "description" in top else ""
        tags = self.words(top["tags"], "tags", "[security, infra]") if "tags" in top else ()
        triggers = self.triggers(top["triggers"]) if "triggers" in top else Triggers()
        intake = self.fields(top.get("fields"), "fields", {INTAKE})
        resolution = self.resolution(top["resolution"]) if "resolution" in top else Resolution()
        retro = self.retro(top["retro"]) if "retro" in top else Retro()
        steps = self.steps(top["steps"]) if "steps" in top else ()
        sla = self.sla(top["sla"]) if "sla" in top else Sla()
        knowledge = self.knowledge(top["knowledge"]) if "knowledge" in top else None
        if r.problems or self.title is None:
            return None
        return Procedure(
            id=procedure_id,
            title=self.title,
            version=version,
            description=description or "",
            triggers=triggers or Triggers(),
            fields=tuple(intake),
            steps=tuple(steps or ()),
            sla=sla or Sla(),
            resolution=resolution or Resolution(),
            knowledge=knowledge or KnowledgeSettings(),
            path=path,
            tags=tuple(tags or ()),
            retro=retro or Retro(),
        )

    # Lists of words -----------------------------------------------------------------------------

    def words(self, node: Node, key: str, example: str) -> tuple[str, ...] | None:
        values = self.r.texts(node, key, example)
        return None if values is None else tuple(values)

    # Triggers -----------------------------------------------------------------------------------

    def triggers(self, node: Node) -> Triggers | None:
        r = self.r
        m = r.mapping(node, "triggers", TRIGGERS)
        if m is None:
            return None
        before = r.count()
        command = None
        if "command" in m:
            command = r.text(m["command"], "triggers.command")
            if command is not None and not (len(command) <= 32 and COMMAND_RE.fullmatch(command)):
                hint = (
                    f"write it without the slash, like '{command.lstrip('/').lower()}'"
                    if command.startswith("/")
                    else "use lowercase letters, digits and _, at most 32"
                )
                r.report(
                    m["command"], "triggers.command", f"'{command}' is not a valid command; " + hint
                )
        keywords = (
            self.words(m["keywords"], "triggers.keywords", "[access, permission]")
            if "keywords" in m
            else ()
        )
        if r.count() > before:
            return None
        return Triggers(command=command, keywords=keywords or ())

    # Fields -------------------------------------------------------------------------------------

    def fields(self, node: Node | None, key: str, stages: set[str]) -> list[FieldSpec]:
        if node is None:
            return []
        items = self.r.sequence(node, key, "[{name: ..., question: ...}]")
        if items is None:
            return []
        names = [_peek(item, "name") for item in items]
        # How many fields of each name are still to come: a positive count means "asked later".
        later = Counter(n for n in names if n)
        stage = (
            RESOLVE
            if key.startswith("resolution")
            else RETROSPECTIVE
            if key.startswith("retro")
            else INTAKE
        )
        specs = []
        for i, item in enumerate(items):
            if names[i]:
                later[names[i]] -= 1
            spec = self.field(item, f"{key}[{i}]", stage, stages | {stage}, later)
            if spec is not None:
                specs.append(spec)
        return specs

    def field(
        self, node: Node, key: str, stage: str, stages: set[str], later: Mapping[str, int]
    ) -> FieldSpec | None:
        r = self.r
        m = r.mapping(node, key, FIELD)
        if m is None:
            return None
        before = r.count()
        name = None
        known: _Known | None = None
        if "name" in m:
            name = r.word(m["name"], f"{key}.name", NAME_RE, _FIELD_NAME, MAX_NAME_LENGTH)
            if name is not None and name in self.known:
                other = self.known[name].label
                r.report(
                    m["name"],
                    f"{key}.name",
                    f"'{name}' is already the name of {other}; field names must be unique",
                )
                name = None
            elif name is not None:
                known = self.known[name] = _Known(key, stage)
        question = r.localized(m["question"], f"{key}.question") if "question" in m else None
        type_: str | None = "text"
        if "type" in m:
            type_ = r.text(m["type"], f"{key}.type")
            if type_ is not None and type_ not in FIELD_TYPES:
                r.report(
                    m["type"],
                    f"{key}.type",
                    f"unknown type '{type_}' (expected one of: {', '.join(FIELD_TYPES)})",
                )
                type_ = None
        extra: dict[str, Any] = {}
        extra["choices"], extra["choice_labels"] = self.choices(node, m, key, type_)
        if "pattern" in m:
            compiled = self.pattern(m["pattern"], f"{key}.pattern", type_)
            if compiled is not None:
                extra["pattern"], extra["matcher"] = compiled
        extra.update(self.bounds(m, key, type_, ("min", "max"), RANGE_TYPES))
        extra.update(self.bounds(m, key, type_, ("min_length", "max_length"), LENGTH_TYPES))
        required = True
        if "required" in m:
            required = r.boolean(m["required"], f"{key}.required")
        if "required_when" in m:
            extra["required_when"] = self.condition(
                m["required_when"], f"{key}.required_when", stages, later=later, own=name
            )
            if "required" in m and required is True:
                r.report(
                    m["required"],
                    f"{key}.required",
                    "'required: true' contradicts "
                    "required_when (the field is required only while its condition holds); "
                    "remove 'required'",
                )
        extra.update(self.file_keys(m, key, type_))
        for optional_text in ("label", "help", "hint", "example"):
            if optional_text in m:
                extra[optional_text] = r.localized(m[optional_text], f"{key}.{optional_text}")
        if "from_text" in m:
            extra["from_text"] = bool(r.boolean(m["from_text"], f"{key}.from_text"))
        if r.count() > before or name is None or question is None or type_ is None:
            return None
        spec = FieldSpec(name=name, question=question, type=type_, required=bool(required), **extra)
        if spec.example is not None:
            outcome = parse_answer(spec, spec.example, _UTC)
            if isinstance(outcome, Rejected):
                r.report(
                    m["example"],
                    f"{key}.example",
                    f"the field would refuse its own example: {outcome.code.replace('_', ' ')}",
                )
                return None
        if known is not None:
            known.spec = spec
        return spec

    def choices(
        self, node: Node, m: dict[str, Node], key: str, type_: str | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The stored values of a choice field, and what people read for each: `high`, or
        `{value: high, label: {en: High, zh-CN: 高}}` (the value stays the same in every
        language; the label is shown)."""
        r = self.r
        if "choices" not in m:
            if type_ == "choice":
                r.report(
                    node,
                    f"{key}.choices",
                    "a choice field needs its choices, like 'choices: [low, medium, high]'",
                )
            return (), ()
        if type_ is not None and type_ != "choice":
            r.report(
                m["choices"],
                f"{key}.choices",
                f"choices only apply to choice fields (this "
                f"field's type is {type_}); set 'type: choice' or remove choices",
            )
            return (), ()
        items = r.sequence(m["choices"], f"{key}.choices", "[low, medium, high]")
        if items is None:
            return (), ()
        if not items:
            r.report(m["choices"], f"{key}.choices", "a choice field needs at least one choice")
        values: list[str] = []
        labels: list[str] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            where = f"{key}.choices[{i}]"
            label = None
            if isinstance(item, MappingNode):
                c = r.mapping(item, where, CHOICE)
                if c is None:
                    continue
                value = r.text(c["value"], f"{where}.value") if "value" in c else None
                if "label" in c:
                    label = r.localized(c["label"], f"{where}.label")
            else:
                # Choices are taken as written: unquoted `yes` or `1` is the choice 'yes' or '1'.
                value = r.text(item, where)
            if value is None:
                continue
            if value.casefold() in seen:
                r.report(item, where, f"'{value}' is listed twice")
                continue
            seen.add(value.casefold())
            values.append(value)
            labels.append(label or value)
        return tuple(values), tuple(labels) if labels != values else ()

    def pattern(self, node: Node, key: str, type_: str | None) -> tuple[str, Matcher] | None:
        """The pattern as written and the matcher that runs it, which no answer can stall."""
        r = self.r
        text = r.text(node, key, strip=False)
        if text is None:
            return None
        if type_ is not None and type_ not in PATTERN_TYPES:
            r.report(
                node,
                key,
                f"pattern only applies to {_or(PATTERN_TYPES)} fields "
                f"(this field's type is {type_})",
            )
            return None
        try:
            return text, compile_pattern(text)
        except PatternError as e:
            r.report(node, key, str(e))
            return None

    def file_keys(self, m: dict[str, Node], key: str, type_: str | None) -> dict[str, Any]:
        """`accept`, `max_size`, `min_count` and `max_count`, which only file fields have."""
        r = self.r
        found: dict[str, Any] = {}
        for name in FILE_KEYS:
            if name in m and type_ is not None and type_ != "file":
                r.report(
                    m[name],
                    f"{key}.{name}",
                    f"{name} only applies to file fields (this field's type is {type_})",
                )
        if type_ != "file":
            return found
        if "accept" in m:
            items = r.sequence(m["accept"], f"{key}.accept", "[image, pdf]") or []
            words: list[str] = []
            for i, item in enumerate(items):
                word = r.text(item, f"{key}.accept[{i}]")
                if word is None:
                    continue
                if not is_accept_word(word.lower()):
                    r.report(
                        item,
                        f"{key}.accept[{i}]",
                        f"'{word}' is not a kind of file: use image, pdf, text, any, or a MIME "
                        "type like application/zip or video/*",
                    )
                    continue
                words.append(word.lower())
            found["accept"] = tuple(words)
        if "max_size" in m:
            raw = r.text(m["max_size"], f"{key}.max_size")
            size = parse_size(raw) if raw is not None else None
            if raw is not None and (size is None or size < 1):
                r.report(m["max_size"], f"{key}.max_size", f"'{raw}' is not a size like 10MB")
            elif size is not None:
                found["max_size"] = size
        for name in ("min_count", "max_count"):
            if name in m:
                value = r.integer(m[name], f"{key}.{name}", minimum=1)
                if value is not None:
                    found[name] = value
        low, high = found.get("min_count"), found.get("max_count")
        if low is not None and high is not None and low > high:
            r.report(
                m["max_count"],
                f"{key}.max_count",
                f"max_count ({high}) is smaller than min_count ({low})",
            )
        return found

    def bounds(
        self, m: dict[str, Node], key: str, type_: str | None, names: tuple[str, str], types
    ) -> dict[str, Any]:
        r = self.r
        found: dict[str, Any] = {}
        for name in names:
            if name not in m:
                continue
            where = f"{key}.{name}"
            if type_ is None:
                continue
            if type_ not in types:
                hint = ""
                if name in ("min", "max") and type_ == "text":
                    hint = f"; for the length of a text use {name}_length"
                r.report(
                    m[name],
                    where,
                    f"{name} only applies to {_or(types)} fields "
                    f"(this field's type is {type_}){hint}",
                )
            elif type_ == "duration":
                value = r.duration(m[name], where)
                if value is not None:
                    found[name] = value.total_seconds()
            elif name.endswith("_length"):
                value = r.integer(m[name], where, minimum=0)
                if value is not None:
                    found[name] = value
            else:
                value = r.number(m[name], where)
                if value is not None:
                    found[name] = value
        low, high = names
        if low in found and high in found and found[low] > found[high]:
            r.report(
                m[high],
                f"{key}.{high}",
                f"{high} ({_num(found[high])}) is smaller than {low} ({_num(found[low])})",
            )
        return found

    # Conditions ---------------------------------------------------------------------------------

    def condition(
        self,
        node: Node,
        key: str,
        stages: set[str],
        *,
        later: Mapping[str, int] = _NONE_LATER,
        own: str | None = None,
    ) -> Condition | None:
        r = self.r
        m = r.mapping(node, key, CONDITION)
        if m is None:
            return None
        before = r.count()
        name = r.text(m["field"], f"{key}.field") if "field" in m else None
        spec = None
        if name is not None:
            spec = self.referenced_field(m["field"], f"{key}.field", name, stages, later, own)
        operators = [op for op in CONDITION_OPERATORS if op in m]
        if not operators:
            r.report(
                node,
                key,
                "a condition needs one of: equals, in, present "
                "(like {field: production, equals: true})",
            )
        elif len(operators) > 1:
            second = operators[1]
            r.report(
                m[second],
                f"{key}.{second}",
                f"use only one of equals, in, present (found {', '.join(operators)})",
            )
        kwargs: dict[str, Any] = {}
        if "equals" in m:
            kwargs["equals"] = self.value(m["equals"], f"{key}.equals", spec)
        if "in" in m:
            items = r.sequence(m["in"], f"{key}.in", "[high, critical]")
            if items is not None:
                if not items:
                    r.report(m["in"], f"{key}.in", "needs at least one value")
                kwargs["in_"] = tuple(
                    self.value(item, f"{key}.in[{i}]", spec) for i, item in enumerate(items)
                )
        if "present" in m:
            kwargs["present"] = r.boolean(m["present"], f"{key}.present")
        if r.count() > before or name is None:
            return None
        return Condition(field=name, **kwargs)

    def referenced_field(
        self,
        node: Node,
        key: str,
        name: str,
        stages: set[str],
        later: Mapping[str, int],
        own: str | None,
    ) -> FieldSpec | None:
        """The spec of a field named by a condition or a step, after checking it may be used."""
        r = self.r
        if own is not None and name == own:
            r.report(node, key, "a field's condition cannot look at the field itself")
        elif name in self.known and self.known[name].stage in stages:
            return self.known[name].spec
        elif name in self.known:
            kind = (
                "retro question" if self.known[name].stage == RETROSPECTIVE else "resolution field"
            )
            r.report(
                node,
                key,
                f"'{name}' is a {kind}, answered only when the ticket "
                "is resolved; use a field asked when the ticket opens",
            )
        elif later.get(name, 0) > 0:
            r.report(
                node,
                key,
                f"'{name}' is asked later; a condition can only look at fields "
                "asked before this one (move this field below it)",
            )
        else:
            usable = [n for n, k in self.known.items() if k.stage in stages and n != own]
            expected = (
                f"expected one of: {', '.join(usable)}"
                if usable
                else "there is no field it could refer to here"
            )
            r.report(node, key, f"unknown field '{name}' ({expected})")
        return None

    def value(self, node: Node, key: str, spec: FieldSpec | None) -> Any:
        """A value to compare a field's answer with, in the form the answer is stored."""
        r = self.r
        if not r.tag_ok(node, key):
            return None
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            r.report(node, key, f"expected a single value, got {describe(node)}")
            return None
        if spec is None:
            return r.plain(node)
        kind = spec.type
        if kind == "boolean":
            if node.tag != BOOL:
                r.report(
                    node,
                    key,
                    f"'{spec.name}' is a yes/no field; write true or false, got {describe(node)}",
                )
            return r.plain(node)
        if kind == "integer":
            if node.tag != INT:
                r.report(
                    node,
                    key,
                    f"'{spec.name}' is an integer field; write a whole number, "
                    f"got {describe(node)}",
                )
            return r.plain(node)
        if kind == "number":
            if node.tag not in (INT, FLOAT):
                r.report(
                    node,
                    key,
                    f"'{spec.name}' is a number field; write a number, got {describe(node)}",
                )
            return r.plain(node)
        if kind == "duration":
            value = r.duration(node, key)
            return None if value is None else int(value.total_seconds())
        text = node.value  # as written: `equals: yes` on a choice field is the choice 'yes'
        if kind == "choice" and text not in spec.choices:
            r.report(
                node,
                key,
                f"'{text}' is not one of the choices of '{spec.name}' ({', '.join(spec.choices)})",
            )
        elif kind == "date" and not _is_date(text):
            r.report(node, key, f"expected a date like 2026-03-31, got {describe(node)}")
        elif kind == "user" and not text.startswith("@"):
            text = "@" + text  # answers are stored with the @
        return text

    # Steps --------------------------------------------------------------------------------------

    def steps(self, node: Node) -> tuple[Step, ...] | None:
        r = self.r
        items = r.sequence(node, "steps", "[{id: ..., title: ...}]")
        if items is None:
            return None
        seen: dict[str, str] = {}
        steps = []
        for i, item in enumerate(items):
            key = f"steps[{i}]"
            m = r.mapping(item, key, STEP)
            if m is None:
                continue
            before = r.count()
            step_id = None
            if "id" in m:
                step_id = r.word(m["id"], f"{key}.id", STEP_ID_RE, _STEP_ID, MAX_NAME_LENGTH)
                if step_id is not None and step_id in seen:
                    r.report(
                        m["id"],
                        f"{key}.id",
                        f"'{step_id}' is already the id of "
                        f"{seen[step_id]}; step ids must be unique",
                    )
                elif step_id is not None:
                    seen[step_id] = key
            title = r.localized(m["title"], f"{key}.title") if "title" in m else None
            role = "member"
            if "role" in m:
                role = r.text(m["role"], f"{key}.role")
                if role is not None and role not in ROLES:
                    r.report(
                        m["role"],
                        f"{key}.role",
                        f"unknown role '{role}' (expected one of: {', '.join(ROLES)})",
                    )
            requires, after = (), ()
            if "requires" in m:
                found = self.requires(m["requires"], f"{key}.requires", set(seen) - {step_id})
                if found is not None:
                    requires, after = found
            approval = self.approval(m["approval"], f"{key}.approval") if "approval" in m else None
            if approval is not None and "role" in m:
                r.report(
                    m["role"],
                    f"{key}.role",
                    "an approval step is done by its approvers (approval.by), not by a role; "
                    "remove 'role'",
                )
            instructions = ""
            if "instructions" in m:
                instructions = r.localized(m["instructions"], f"{key}.instructions")
            optional = r.boolean(m["optional"], f"{key}.optional") if "optional" in m else False
            when = self.condition(m["when"], f"{key}.when", {INTAKE}) if "when" in m else None
            if r.count() > before or step_id is None or title is None:
                continue
            steps.append(
                Step(
                    id=step_id,
                    title=title,
                    role=role or "member",
                    requires=tuple(requires or ()),
                    instructions=instructions or "",
                    optional=bool(optional),
                    when=when,
                    after=tuple(after or ()),
                    approval=approval,
                )
            )
        return tuple(steps)

    def approval(self, node: Node, key: str) -> Approval | None:
        """`approval: {by: leads | [ids and @usernames] | field:<person field>, quorum,
        expires_after}`."""
        r = self.r
        m = r.mapping(node, key, APPROVAL)
        if m is None:
            return None
        before = r.count()
        found: dict[str, Any] = {}
        by_node = m.get("by")
        if isinstance(by_node, ScalarNode):
            by = r.text(by_node, f"{key}.by")
            if by == "leads":
                found["by"] = "leads"
            elif by is not None and by.startswith("field:"):
                name = by[len("field:") :].strip()
                spec = self.referenced_field(
                    by_node, f"{key}.by", name, {INTAKE}, _NONE_LATER, None
                )
                if spec is not None and spec.type not in ("person", "user"):
                    r.report(
                        by_node,
                        f"{key}.by",
                        f"'{name}' is a {spec.type} field; approvers come from a person field",
                    )
                found |= {"by": "field", "field": name}
            elif by is not None:
                r.report(
                    by_node,
                    f"{key}.by",
                    f"'{by}' is not who approves: use leads, field:<a person field>, or a list "
                    "of Telegram ids and @usernames",
                )
        elif by_node is not None:
            items = r.sequence(by_node, f"{key}.by", "[123456789, '@lena']") or []
            people = []
            for i, item in enumerate(items):
                numeric = isinstance(item, ScalarNode) and item.tag == INT
                who = item.value if numeric else r.text(item, f"{key}.by[{i}]")
                if who is None:
                    continue
                if not (who.lstrip("-").isdigit() or _USERNAME.fullmatch(who)):
                    r.report(
                        item, f"{key}.by[{i}]", f"'{who}' is not a Telegram id or an @username"
                    )
                    continue
                people.append(who.lower())
            if not people and items is not None:
                r.report(by_node, f"{key}.by", "name at least one approver")
            found |= {"by": "people", "people": tuple(people)}
        if "quorum" in m:
            quorum = r.integer(m["quorum"], f"{key}.quorum", minimum=1)
            if quorum is not None:
                found["quorum"] = quorum
                if found.get("by") == "people" and quorum > len(found.get("people", ())):
                    r.report(
                        m["quorum"],
                        f"{key}.quorum",
                        f"quorum {quorum} is more than the {len(found['people'])} approvers named",
                    )
        if "expires_after" in m:
            expires = r.duration(m["expires_after"], f"{key}.expires_after")
            if expires is not None:
                found["expires_after"] = expires
        if r.count() > before or "by" not in found:
            return None
        return Approval(**found)

    def requires(
        self, node: Node, key: str, earlier_steps: set[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """The fields a step needs answered, and the earlier steps it comes after."""
        r = self.r
        items = r.sequence(node, key, "[system, approver]")
        if items is None:
            return None
        names: list[str] = []
        steps: list[str] = []
        for i, item in enumerate(items):
            name = r.text(item, f"{key}[{i}]")
            if name is None:
                continue
            if name in names or name in steps:
                r.report(item, f"{key}[{i}]", f"'{name}' is listed twice")
                continue
            if name in earlier_steps and name not in self.known:
                steps.append(name)
                continue
            self.referenced_field(item, f"{key}[{i}]", name, {INTAKE}, _NONE_LATER, None)
            names.append(name)
        return tuple(names), tuple(steps)

    # SLA, resolution, knowledge -----------------------------------------------------------------

    def sla(self, node: Node) -> Sla | None:
        r = self.r
        m = r.mapping(node, "sla", SLA)
        if m is None:
            return None
        before = r.count()
        due = r.duration(m["due"], "sla.due") if "due" in m else None
        remind = r.duration(m["remind_every"], "sla.remind_every") if "remind_every" in m else None
        escalate = None
        if "escalate_after" in m:
            escalate = r.integer(m["escalate_after"], "sla.escalate_after", minimum=0)
        rules: list[SlaRule] = []
        if "rules" in m:
            items = r.sequence(m["rules"], "sla.rules", "[{when: {...}, due: 1h}]") or []
            for i, item in enumerate(items):
                key = f"sla.rules[{i}]"
                rule = r.mapping(item, key, SLA_RULE)
                if rule is None:
                    continue
                when = (
                    self.condition(rule["when"], f"{key}.when", {INTAKE})
                    if "when" in rule
                    else None
                )
                rule_due = r.duration(rule["due"], f"{key}.due") if "due" in rule else None
                if when is not None and rule_due is not None:
                    rules.append(SlaRule(when=when, due=rule_due))
        if r.count() > before:
            return None
        return Sla(due=due, remind_every=remind, escalate_after=escalate, rules=tuple(rules))

    def resolution(self, node: Node) -> Resolution | None:
        m = self.r.mapping(node, "resolution", RESOLUTION)
        if m is None:
            return None
        return Resolution(fields=tuple(self.fields(m.get("fields"), "resolution.fields", {INTAKE})))

    def retro(self, node: Node) -> Retro | None:
        """`retro: {when: [late, reopened], longer_than: 2d, fields: [...]}`."""
        r = self.r
        m = r.mapping(node, "retro", RETRO)
        if m is None:
            return None
        before = r.count()
        when: tuple[str, ...] = ()
        if "when" in m:
            node_when = m["when"]
            if isinstance(node_when, ScalarNode):
                words = [r.text(node_when, "retro.when")]
                items = [node_when]
            else:
                items = r.sequence(node_when, "retro.when", "[late, reopened]") or []
                words = [r.text(item, f"retro.when[{i}]") for i, item in enumerate(items)]
            for item, word in zip(items, words, strict=True):
                if word is not None and word not in RETRO_WHEN:
                    r.report(
                        item,
                        "retro.when",
                        f"'{word}' is not when to ask (expected one of: {', '.join(RETRO_WHEN)})",
                    )
            when = tuple(w for w in words if w in RETRO_WHEN)
        longer_than = None
        if "longer_than" in m:
            longer_than = r.duration(m["longer_than"], "retro.longer_than")
        questions = self.fields(m.get("fields"), "retro.fields", {INTAKE})
        if "fields" in m and not questions and r.count() == before:
            r.report(m["fields"], "retro.fields", "a retro needs at least one question")
        if r.count() > before:
            return None
        return Retro(fields=tuple(questions), when=when, longer_than=longer_than)

    def knowledge(self, node: Node) -> KnowledgeSettings | None:
        r = self.r
        m = r.mapping(node, "knowledge", KNOWLEDGE)
        if m is None:
            return None
        before = r.count()
        template = None
        if "template" in m:
            template = r.text(m["template"], "knowledge.template")
            if template is not None and (".." in template or not TEMPLATE_RE.fullmatch(template)):
                r.report(
                    m["template"],
                    "knowledge.template",
                    f"'{template}' is not a plain file "
                    "name; name a file in the procedures folder's templates/, like "
                    "'incident.md.j2' (no folders)",
                )
        tags = self.words(m["tags"], "knowledge.tags", "[vpn, network]") if "tags" in m else ()
        deflect = r.boolean(m["deflect"], "knowledge.deflect") if "deflect" in m else True
        if r.count() > before:
            return None
        return KnowledgeSettings(template=template, tags=tags or (), deflect=bool(deflect))


def _peek(node: Node, key: str) -> str | None:
    """The plain text under `key` in a mapping node, without reporting anything."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key and isinstance(v, ScalarNode):
                return v.value
    return None


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _or(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
