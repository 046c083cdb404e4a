"""The information-completeness gate: which question comes next, and when a ticket may open.

`values` maps field names to stored values; a name present with value None was skipped. The gate
never invents a value: a field gets one only from an answer or an explicit `name: value` line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.procedure import FieldSpec

# `name: value` on a line of its own; the name as procedures write it.
_NAMED_LINE = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*:\s*(.+?)\s*$", re.IGNORECASE)


def next_field(fields: Sequence[FieldSpec], values: Mapping[str, Any]) -> FieldSpec | None:
    """The first field that applies now and has neither a value nor a skip."""
    return next(unanswered(fields, values), None)


def unanswered(fields: Sequence[FieldSpec], values: Mapping[str, Any]) -> Iterator[FieldSpec]:
    """Every field still to be asked, in the order the gate asks them (the API lists them all)."""
    for spec in fields:
        if spec.name in values:
            # A skipped field that has since become required must be asked again.
            if values[spec.name] is None and spec.is_required(values):
                yield spec
            continue
        if spec.applies(values):
            yield spec


def missing_required(fields: Sequence[FieldSpec], values: Mapping[str, Any]) -> list[FieldSpec]:
    """Required fields (including `required_when` ones that hold now) without a value."""
    return [s for s in fields if s.is_required(values) and values.get(s.name) is None]


def is_complete(fields: Sequence[FieldSpec], values: Mapping[str, Any]) -> bool:
    return next_field(fields, values) is None and not missing_required(fields, values)


def can_skip(spec: FieldSpec, values: Mapping[str, Any]) -> bool:
    return not spec.is_required(values)


@dataclass(frozen=True)
class NamedValue:
    name: str
    raw: str


def named_values(text: str, fields: Sequence[FieldSpec]) -> list[NamedValue]:
    """Explicit `name: value` lines naming a field of the procedure (others are left alone)."""
    names = {f.name.lower(): f.name for f in fields}
    found: list[NamedValue] = []
    for line in text.splitlines():
        m = _NAMED_LINE.match(line)
        if m and m.group(1).lower() in names:
            found.append(NamedValue(names[m.group(1).lower()], m.group(2)))
    return found


def visible_values(
    fields: Sequence[FieldSpec], values: Mapping[str, Any]
) -> list[tuple[FieldSpec, Any]]:
    """The fields to show in a summary, in procedure order, leaving out ones that don't apply."""
    return [(s, values.get(s.name)) for s in fields if s.applies(values) or values.get(s.name)]
