"""The procedure model: what a team's SOP for one kind of ticket says, as plain frozen data.

`bot.procedures` builds these from YAML (and reports errors with file:line:column); everything
here is pure and knows nothing of files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from bot.domain.text import readable

FIELD_TYPES = (
    "text",
    "integer",
    "number",
    "boolean",
    "choice",
    "date",
    "datetime",
    "duration",
    "email",
    "url",
    "user",
    "file",
    "person",
)
ROLES = ("member", "lead")
_UNSET = object()


@dataclass(frozen=True)
class Condition:
    """`{field: production, equals: true}`, `{field: severity, in: [high, critical]}`,
    or `{field: x, present: true}`."""

    field: str
    equals: Any = _UNSET
    in_: tuple[Any, ...] | None = None
    present: bool | None = None

    def holds(self, values: Mapping[str, Any]) -> bool:
        has = values.get(self.field) is not None
        if self.present is not None:
            return has == self.present
        if not has:
            return False
        value = values[self.field]
        if self.in_ is not None:
            return value in self.in_
        if self.equals is not _UNSET:
            return value == self.equals
        return True


class Matcher(Protocol):
    """Whether an answer has the form a field's `pattern` describes.

    `bot.procedures` builds one per pattern when it loads a procedure, with an engine whose time
    grows only linearly with the answer: no pattern and no answer can stall the bot. The domain
    only calls it and never compiles a pattern itself.
    """

    def __call__(self, text: str, /) -> bool: ...


@dataclass(frozen=True)
class FieldSpec:
    name: str
    question: str
    type: str = "text"
    required: bool = True
    required_when: Condition | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    help: str | None = None
    example: str | None = None
    # What people read for the field; empty means its name made readable (`access_level` ->
    # "Access level"), set in __post_init__ so every FieldSpec has one.
    label: str = ""
    # The form an answer takes, in words ("CHG followed by four or more digits"): said when an
    # answer does not match `pattern`, which people never see.
    hint: str | None = None
    # Filled from the text the ticket was started with (`/new bug <text>`), when that text is
    # an answer the field accepts; asked only when it is not.
    from_text: bool = False
    # A file field: the kinds it takes (image, pdf, text, any, or MIME patterns like
    # "application/zip", "video/*"), the largest file in bytes, and how many files.
    accept: tuple[str, ...] = ()
    max_size: int | None = None
    min_count: int | None = None
    max_count: int | None = None
    # What people read for each choice, in the order of `choices` (the values stored, the same
    # in every language); empty means the values themselves.
    choice_labels: tuple[str, ...] = ()
    # How `pattern` is run; fields compare and print by the pattern's text alone.
    matcher: Matcher | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", readable(self.name))
        if self.pattern is not None and self.matcher is None:
            # Never a silent fallback to a backtracking engine, nor an unchecked answer.
            raise ValueError(f"field {self.name!r} has a pattern but no matcher to run it")

    def choice_label(self, value: str) -> str:
        """What people read for the stored choice `value` (the value itself when unlisted)."""
        if value in self.choices and len(self.choice_labels) == len(self.choices):
            return self.choice_labels[self.choices.index(value)]
        return value

    @property
    def labelled_choices(self) -> tuple[tuple[str, str], ...]:
        """Each choice as (stored value, what people read)."""
        return tuple((c, self.choice_label(c)) for c in self.choices)

    def is_required(self, values: Mapping[str, Any]) -> bool:
        """Required outright, or because its `required_when` condition holds now."""
        if self.required_when is not None:
            return self.required_when.holds(values)
        return self.required

    def applies(self, values: Mapping[str, Any]) -> bool:
        """A conditional field is only asked for while its condition holds."""
        return self.required_when is None or self.required_when.holds(values)


@dataclass(frozen=True)
class Approval:
    """Who must approve a step, and how many of them: `by` is `leads`, `people` (the ids and
    @usernames in `people`) or `field` (the person named in the ticket's field `field`)."""

    by: str = "leads"
    people: tuple[str, ...] = ()
    field: str | None = None
    quorum: int = 1
    expires_after: timedelta | None = None


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    role: str = "member"
    requires: tuple[str, ...] = ()  # fields that must have a value first
    instructions: str = ""
    optional: bool = False
    when: Condition | None = None
    after: tuple[str, ...] = ()  # steps that must be done first (`requires` naming a step)
    approval: Approval | None = None

    def applies(self, values: Mapping[str, Any]) -> bool:
        return self.when is None or self.when.holds(values)


@dataclass(frozen=True)
class SlaRule:
    """A different due time when a condition holds (e.g. one hour for high severity)."""

    when: Condition
    due: timedelta


@dataclass(frozen=True)
class Sla:
    due: timedelta | None = None
    remind_every: timedelta | None = None
    escalate_after: int | None = None
    rules: tuple[SlaRule, ...] = ()

    def due_after(self, values: Mapping[str, Any]) -> timedelta | None:
        """The time allowed from opening; the first rule whose condition holds wins."""
        for rule in self.rules:
            if rule.when.holds(values):
                return rule.due
        return self.due


@dataclass(frozen=True)
class Triggers:
    command: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    fields: tuple[FieldSpec, ...] = ()


RETRO_WHEN = ("always", "late", "reopened")


@dataclass(frozen=True)
class Retro:
    """Questions asked at resolve about how the ticket went: always (no `when`, no
    `longer_than`), or only when one of `when` (late, reopened) holds or the ticket took longer
    than `longer_than` from opening to resolving."""

    fields: tuple[FieldSpec, ...] = ()
    when: tuple[str, ...] = ()
    longer_than: timedelta | None = None

    @property
    def always(self) -> bool:
        return "always" in self.when or (not self.when and self.longer_than is None)


@dataclass(frozen=True)
class KnowledgeSettings:
    """How resolved tickets of this procedure become articles."""

    template: str | None = None  # a template file name in procedures_dir/templates/
    tags: tuple[str, ...] = ()
    deflect: bool = True  # offer matching articles before opening a new ticket


@dataclass(frozen=True)
class Procedure:
    id: str
    title: str
    version: str  # sha256 hex digest of the file's bytes
    description: str = ""
    triggers: Triggers = field(default_factory=Triggers)
    fields: tuple[FieldSpec, ...] = ()
    steps: tuple[Step, ...] = ()
    sla: Sla = field(default_factory=Sla)
    resolution: Resolution = field(default_factory=Resolution)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    path: str = ""
    tags: tuple[str, ...] = ()  # words that group procedures, like ("security", "infra")
    retro: Retro = field(default_factory=Retro)
    # The file's text, kept so a later version can say what changed since this one.
    source: str = field(default="", compare=False, repr=False)

    @property
    def all_fields(self) -> tuple[FieldSpec, ...]:
        """Intake, resolution and retrospective fields, in that order (names are unique)."""
        return (*self.fields, *self.resolution.fields, *self.retro.fields)

    def field(self, name: str) -> FieldSpec | None:
        for f in self.all_fields:
            if f.name == name:
                return f
        return None

    def named(self, text: str) -> FieldSpec | None:
        """The field a person means by `text`: its name or its label, in any case."""
        wanted = text.strip().casefold()
        return next(
            (f for f in self.all_fields if wanted in (f.name.casefold(), f.label.casefold())),
            None,
        )

    def label(self, name: str) -> str:
        """What people read for field `name`: its label, or for a field the procedure no longer
        has, the name made readable."""
        spec = self.field(name)
        return spec.label if spec is not None else readable(name)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def short_version(self) -> str:
        return self.version[:8]
