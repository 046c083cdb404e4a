"""A JSON Schema (draft 2020-12) of the procedure format, so editors can check and autocomplete.

Built from the same vocabulary as the validator. The validator remains the authority: it also
checks what a schema cannot say well (references between fields, regexes, examples).
"""

from __future__ import annotations

import json
from typing import Any

from bot.domain.files import KINDS as ACCEPT_KINDS
from bot.domain.files import MIME_PATTERN, SIZE_PATTERN
from bot.domain.languages import LANGUAGES
from bot.domain.procedure import FIELD_TYPES, RETRO_WHEN, ROLES
from bot.procedures.vocabulary import (
    APPROVAL,
    CHOICE,
    COMMAND_PATTERN,
    CONDITION,
    DURATION_PATTERN,
    FIELD,
    FILE_KEYS,
    ID_PATTERN,
    KNOWLEDGE,
    LENGTH_TYPES,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    PATTERN_TYPES,
    PROCEDURE,
    RANGE_TYPES,
    RESOLUTION,
    RETRO,
    SLA,
    SLA_RULE,
    STEP,
    TEMPLATE_PATTERN,
    TRIGGERS,
    Section,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_TEXT = {"type": "string", "minLength": 1}
_SCALAR = {"type": ["string", "number", "boolean"]}
_WORDS = {"type": "array", "items": _TEXT}
# A text people read: one for every language, or one per language ({en: ..., zh-CN: ...}).
_LOCALIZED = {"$ref": "#/$defs/text"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _object(section: Section, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object allowing exactly the section's keys, each described as in the vocabulary."""
    assert list(properties) == list(section.keys), section.name
    described = {
        key: {"description": section.keys[key], **schema} for key, schema in properties.items()
    }
    out: dict[str, Any] = {"type": "object", "properties": described}
    if section.required:
        out["required"] = list(section.required)
    out["additionalProperties"] = False
    out.update(extra)
    return out


def _when_type(types: tuple[str, ...], *keys: str, type_required: bool) -> dict[str, Any]:
    """`keys` are only allowed on fields whose type is one of `types`."""
    then: dict[str, Any] = {"properties": {"type": {"enum": list(types)}}}
    if type_required:
        then["required"] = ["type"]
    return {"if": {"anyOf": [{"required": [k]} for k in keys]}, "then": then}


def build_schema() -> dict[str, Any]:
    """The JSON Schema of a procedure file, as a plain dict."""
    name = {"type": "string", "pattern": f"^{NAME_PATTERN}$", "maxLength": MAX_NAME_LENGTH}
    bound = {"anyOf": [{"type": "number"}, _ref("duration")]}
    defs: dict[str, Any] = {
        "text": {
            "description": "A text people read: the same in every language, or one per "
            f"language ({', '.join(LANGUAGES)}); every language used in the file needs "
            "every text given per language.",
            "anyOf": [
                _TEXT,
                {
                    "type": "object",
                    "properties": {lang: _TEXT for lang in LANGUAGES},
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ],
        },
        "choice": _object(
            CHOICE,
            {"value": _SCALAR, "label": _LOCALIZED},
        ),
        "duration": {
            "description": "A duration like 30m, 8h, 2d or 1h30m (s, m, h, d, w).",
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ],
        },
        "condition": _object(
            CONDITION,
            {
                "field": name,
                "equals": _SCALAR,
                "in": {"type": "array", "items": _SCALAR, "minItems": 1},
                "present": {"type": "boolean"},
            },
            minProperties=2,
            maxProperties=2,
        ),
        "field": _object(
            FIELD,
            {
                "name": name,
                "question": _LOCALIZED,
                "label": _LOCALIZED,
                "type": {"enum": list(FIELD_TYPES), "default": "text"},
                "required": {"type": "boolean", "default": True},
                "required_when": _ref("condition"),
                "choices": {
                    "type": "array",
                    "items": {"anyOf": [_SCALAR, _ref("choice")]},
                    "minItems": 1,
                },
                "pattern": {"type": "string", "format": "regex"},
                "min": bound,
                "max": bound,
                "min_length": {"type": "integer", "minimum": 0},
                "max_length": {"type": "integer", "minimum": 0},
                "help": _LOCALIZED,
                "hint": _LOCALIZED,
                "example": {"anyOf": [_SCALAR, _LOCALIZED]},
                "from_text": {"type": "boolean", "default": False},
                "accept": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"enum": list(ACCEPT_KINDS)},
                            {"type": "string", "pattern": MIME_PATTERN},
                        ]
                    },
                    "minItems": 1,
                },
                "max_size": {
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "pattern": SIZE_PATTERN},
                    ]
                },
                "min_count": {"type": "integer", "minimum": 1},
                "max_count": {"type": "integer", "minimum": 1},
            },
            allOf=[
                {
                    "if": {"properties": {"type": {"const": "choice"}}, "required": ["type"]},
                    "then": {"required": ["choices"]},
                    "else": {"not": {"required": ["choices"]}},
                },
                _when_type(PATTERN_TYPES, "pattern", type_required=False),
                _when_type(RANGE_TYPES, "min", "max", type_required=True),
                _when_type(LENGTH_TYPES, "min_length", "max_length", type_required=False),
                _when_type(("file",), *FILE_KEYS, type_required=True),
            ],
        ),
        "fields": {"type": "array", "items": _ref("field")},
        "step": _object(
            STEP,
            {
                "id": {"type": "string", "pattern": f"^{ID_PATTERN}$", "maxLength": 32},
                "title": _LOCALIZED,
                "role": {"enum": list(ROLES), "default": "member"},
                "requires": {"type": "array", "items": name, "uniqueItems": True},
                "instructions": _LOCALIZED,
                "optional": {"type": "boolean", "default": False},
                "when": _ref("condition"),
                "approval": _ref("approval"),
            },
        ),
        "approval": _object(
            APPROVAL,
            {
                "by": {
                    "anyOf": [
                        {"const": "leads"},
                        {"type": "string", "pattern": f"^field:{NAME_PATTERN}$"},
                        {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "anyOf": [
                                    {"type": "integer"},
                                    {"type": "string", "pattern": "^@[A-Za-z][A-Za-z0-9_]{3,31}$"},
                                ]
                            },
                        },
                    ]
                },
                "quorum": {"type": "integer", "minimum": 1, "default": 1},
                "expires_after": _ref("duration"),
            },
        ),
        "sla_rule": _object(SLA_RULE, {"when": _ref("condition"), "due": _ref("duration")}),
    }
    top = _object(
        PROCEDURE,
        {
            "title": _LOCALIZED,
            "description": _LOCALIZED,
            "tags": _WORDS,
            "triggers": _object(
                TRIGGERS,
                {
                    "command": {
                        "type": "string",
                        "pattern": f"^{COMMAND_PATTERN}$",
                        "maxLength": 32,
                    },
                    "keywords": _WORDS,
                },
            ),
            "fields": _ref("fields"),
            "steps": {"type": "array", "items": _ref("step")},
            "sla": _object(
                SLA,
                {
                    "due": _ref("duration"),
                    "remind_every": _ref("duration"),
                    "escalate_after": {"type": "integer", "minimum": 0},
                    "rules": {"type": "array", "items": _ref("sla_rule")},
                },
            ),
            "resolution": _object(RESOLUTION, {"fields": _ref("fields")}),
            "knowledge": _object(
                KNOWLEDGE,
                {
                    "template": {"type": "string", "pattern": f"^{TEMPLATE_PATTERN}$"},
                    "tags": _WORDS,
                    "deflect": {"type": "boolean", "default": True},
                },
            ),
            "retro": _object(
                RETRO,
                {
                    "when": {
                        "anyOf": [
                            {"enum": list(RETRO_WHEN)},
                            {
                                "type": "array",
                                "items": {"enum": list(RETRO_WHEN)},
                                "minItems": 1,
                                "uniqueItems": True,
                            },
                        ],
                        "default": "always",
                    },
                    "longer_than": _ref("duration"),
                    "fields": {**_ref("fields"), "minItems": 1},
                },
            ),
        },
    )
    return {
        "$schema": DIALECT,
        "title": "sopbot procedure",
        "description": "A standard operating procedure for one kind of ticket. "
        "Reference: docs/procedures.md",
        **top,
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as `sopbot procedures schema` prints it and `procedures/schema.json` holds it."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
