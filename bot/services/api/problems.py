"""What went wrong, as data: an HTTP status, a reason code, the field it concerns, and words
for people from `api/problem.txt`. Rendered as RFC 9457 problem+json by the HTTP adapter and
as an error result by the MCP tools."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bot.render import render


@dataclass
class Problem(Exception):
    status: int
    code: str
    field: str | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Said instead of the template's words (a ticket's refusal, already in words).
    words: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.code)

    @property
    def detail(self) -> str:
        return render("api/problem.txt", code=self.code, d={**self.data, "words": self.words})

    def as_json(self) -> dict[str, Any]:
        """The problem+json body (RFC 9457): `type`, `title`, `status`, `detail`, and ours."""
        body: dict[str, Any] = {
            "type": f"urn:sopbot:problem:{self.code}",
            "title": render("api/title.txt", status=self.status),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.field is not None:
            body["field"] = self.field
        for key in ("choices", "reason", "number", "scope"):
            if key in self.data:
                body[key] = self.data[key]
        return body
