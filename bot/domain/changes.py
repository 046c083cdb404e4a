"""What changed between two versions of a procedure, as people read it: fields and steps
added, removed or reworded, named by their labels and titles (never by names or ids)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from bot.domain.procedure import FieldSpec, Procedure, Step

# What a person notices of a field or a step; anything else (a pattern's matcher, the file's
# path) is not a change they need told about.
_FIELD_PARTS = tuple(f.name for f in fields(FieldSpec) if f.name not in ("name", "matcher"))
_STEP_PARTS = tuple(f.name for f in fields(Step) if f.name != "id")


@dataclass(frozen=True)
class Changes:
    """Labels of fields and titles of steps, each list in the newer version's order."""

    fields_added: tuple[str, ...] = ()
    fields_removed: tuple[str, ...] = ()
    fields_reworded: tuple[str, ...] = ()
    steps_added: tuple[str, ...] = ()
    steps_removed: tuple[str, ...] = ()
    steps_reworded: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, list[str]]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}


def between(old: Procedure, new: Procedure) -> Changes:
    """What `new` asks and does differently from `old`."""
    old_fields = {f.name: f for f in old.all_fields}
    new_fields = {f.name: f for f in new.all_fields}
    old_steps = {s.id: s for s in old.steps}
    new_steps = {s.id: s for s in new.steps}
    return Changes(
        fields_added=tuple(f.label for n, f in new_fields.items() if n not in old_fields),
        fields_removed=tuple(f.label for n, f in old_fields.items() if n not in new_fields),
        fields_reworded=tuple(
            f.label
            for n, f in new_fields.items()
            if n in old_fields and _differ(old_fields[n], f, _FIELD_PARTS)
        ),
        steps_added=tuple(s.title for i, s in new_steps.items() if i not in old_steps),
        steps_removed=tuple(s.title for i, s in old_steps.items() if i not in new_steps),
        steps_reworded=tuple(
            s.title
            for i, s in new_steps.items()
            if i in old_steps and _differ(old_steps[i], s, _STEP_PARTS)
        ),
    )


def _differ(a: FieldSpec | Step, b: FieldSpec | Step, parts: tuple[str, ...]) -> bool:
    return any(getattr(a, p) != getattr(b, p) for p in parts)
