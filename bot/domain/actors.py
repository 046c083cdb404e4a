"""Who did something: a person (Telegram user id and display name) or sopbot itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    username: str | None = None

    @property
    def mention(self) -> str:
        return f"@{self.username}" if self.username else self.name


SYSTEM = Actor(None, "sopbot")
