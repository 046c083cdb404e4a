"""The words of the procedure format: every key each part accepts, what it means, and name rules.

The validator refuses any key not listed here and the JSON Schema takes its descriptions from
here, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.procedure import FIELD_TYPES

ID_PATTERN = r"[a-z0-9][a-z0-9_-]*"
MAX_ID_LENGTH = 64
ID_RE = re.compile(ID_PATTERN)
# Field names appear in `name: value` lines of chat messages; the gate reads them with this form.
NAME_PATTERN = r"[a-z][a-z0-9_]*"
NAME_RE = re.compile(NAME_PATTERN)
# Step ids travel in Telegram callback data (64 bytes), so they stay short.
STEP_ID_RE = re.compile(ID_PATTERN)
MAX_NAME_LENGTH = 32
COMMAND_PATTERN = r"[a-z0-9_]+"
COMMAND_RE = re.compile(COMMAND_PATTERN)
TEMPLATE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
TEMPLATE_RE = re.compile(TEMPLATE_PATTERN)
DURATION_PATTERN = r"^\s*(?:\d+\s*[smhdwSMHDW]\s*)+$"

PATTERN_TYPES = ("text", "email", "url", "user")  # the types whose answers `pattern` checks
RANGE_TYPES = ("integer", "number", "duration")  # the types `min` and `max` apply to
LENGTH_TYPES = ("text",)  # the types `min_length` and `max_length` apply to
FILE_KEYS = ("accept", "max_size", "min_count", "max_count")  # only for `type: file`
CONDITION_OPERATORS = ("equals", "in", "present")
assert set(PATTERN_TYPES + RANGE_TYPES + LENGTH_TYPES) <= set(FIELD_TYPES)


@dataclass(frozen=True)
class Section:
    """One kind of mapping in a procedure file: its keys (in documented order) and required ones."""

    name: str
    keys: dict[str, str]
    required: tuple[str, ...] = ()

    def expected(self) -> str:
        return ", ".join(self.keys)


PROCEDURE = Section(
    "procedure",
    {
        "title": "Short name people see, like 'Access request'.",
        "description": "One or two sentences on when to use this procedure.",
        "tags": "Words that group procedures, like [security, infra].",
        "triggers": "How a new ticket picks this procedure: a command and keywords.",
        "fields": "The questions asked before the ticket may open, in the order they are asked.",
        "steps": "The work to do once the ticket is open, in order.",
        "sla": "How long the team has, and how often the bot reminds.",
        "resolution": "What must be recorded when the ticket is resolved.",
        "knowledge": "How resolved tickets become knowledge-base articles.",
        "retro": "Questions on how the ticket went, asked at resolve (always, or only when it "
        "was late, reopened or slow); the leads get them in a weekly digest.",
    },
    required=("title",),
)
TRIGGERS = Section(
    "triggers",
    {
        "command": "The word after /new that picks this procedure, like 'access'.",
        "keywords": "Words in a first message that suggest this procedure.",
    },
)
FIELD = Section(
    "field",
    {
        "name": "The field's name: lowercase letters, digits and _, starting with a letter.",
        "question": "The question the bot asks.",
        "label": "The field's name as people read it (default: the name made readable, "
        "access_level -> 'Access level').",
        "type": "The kind of answer: " + ", ".join(FIELD_TYPES) + " (default: text).",
        "required": "Whether an answer is needed before the ticket opens (default: true).",
        "required_when": "Ask for (and require) this field only while a condition holds.",
        "choices": "The allowed answers of a choice field: each a value, or {value, label} "
        "to show a label (per language) for a stored value.",
        "pattern": "A regular expression the answer must match (text, email, url, user).",
        "min": "The smallest allowed value (integer, number, duration).",
        "max": "The largest allowed value (integer, number, duration).",
        "min_length": "The fewest characters a text answer may have.",
        "max_length": "The most characters a text answer may have.",
        "help": "A longer explanation shown with the question.",
        "hint": "The form an answer takes, in words; said instead of the pattern when an "
        "answer does not match it.",
        "example": "An example answer; it must be one the field accepts.",
        "from_text": "true: filled from the text the ticket was started with (after /new and "
        "the procedure's command), when the field accepts it; asked only otherwise.",
        "accept": "A file field's kinds of file: image, pdf, text, any, or MIME types like "
        "application/zip or video/* (default: any).",
        "max_size": "A file field's largest file, like 10MB or 500KB.",
        "min_count": "A file field's fewest files (default: 1).",
        "max_count": "A file field's most files.",
    },
    required=("name", "question"),
)
CHOICE = Section(
    "choice",
    {
        "value": "What is stored for this choice: the same in every language.",
        "label": "What people read for it, a text or one per language ({en: High, zh-CN: 高}).",
    },
    required=("value",),
)
CONDITION = Section(
    "condition",
    {
        "field": "The field the condition looks at.",
        "equals": "Holds when the field's value is exactly this.",
        "in": "Holds when the field's value is one of these.",
        "present": "true: holds when the field has an answer; false: when it has none.",
    },
    required=("field",),
)
STEP = Section(
    "step",
    {
        "id": "The step's id: lowercase letters, digits, - and _.",
        "title": "What is done, like 'Access granted'.",
        "role": "Who may mark it done: member (default) or lead.",
        "requires": "Fields that must have an answer, and earlier steps that must be done, "
        "before the step can be done.",
        "instructions": "Shown to whoever works the step.",
        "optional": "true when the ticket may be resolved without this step.",
        "when": "The step only applies while this condition holds.",
        "approval": "The step is done by approval: who approves, how many, and until when.",
    },
    required=("id", "title"),
)
APPROVAL = Section(
    "approval",
    {
        "by": "Who may approve: leads, a list of Telegram ids or @usernames, or field:<name> "
        "(the person a person field names).",
        "quorum": "How many different approvers must approve (default 1).",
        "expires_after": "How long the approvers have, like 2d; then the leads are told and the "
        "ticket escalates.",
    },
    required=("by",),
)
SLA = Section(
    "sla",
    {
        "due": "Time allowed from the moment the ticket opens, like 8h or 2d.",
        "remind_every": "How often the bot reminds about an open ticket.",
        "escalate_after": "How many reminders before the leads are told.",
        "rules": "Other due times when a condition holds; the first that holds wins.",
    },
)
SLA_RULE = Section(
    "sla rule",
    {
        "when": "The condition, like {field: severity, in: [high, critical]}.",
        "due": "Time allowed while the condition holds, like 1h.",
    },
    required=("when", "due"),
)
RESOLUTION = Section(
    "resolution",
    {"fields": "Questions asked when the ticket is resolved, like fields above."},
)
RETRO = Section(
    "retro",
    {
        "when": "When to ask: always (the default), or any of late, reopened, like "
        "[late, reopened].",
        "longer_than": "Also ask when the ticket took longer than this from opening to "
        "resolving, like 2d.",
        "fields": "The questions, like fields above.",
    },
    required=("fields",),
)
KNOWLEDGE = Section(
    "knowledge",
    {
        "template": "A template file in the procedures folder's templates/, like incident.md.j2.",
        "tags": "Tags given to articles written from this procedure's tickets.",
        "deflect": "Offer matching articles before opening a new ticket (default: true).",
    },
)
