"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from bot.domain.question import Kind, Payload


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON kept as text with sorted keys, so what is stored is what is hashed and exported."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class KindText(TypeDecorator[Kind]):
    """A pending question's kind: stored as its name, read back as the enum."""

    impl = String(30)
    cache_ok = True

    def process_bind_param(self, value: Kind | str | None, dialect: Dialect) -> str | None:
        return None if value is None else Kind(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> Kind | None:
        return None if value is None else Kind(value)


class PayloadJSON(TypeDecorator[Payload]):
    """A pending question's typed payload, kept as JSON text (only what is not a default)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Payload | None, dialect: Dialect) -> str:
        data = (value or Payload()).to_json()
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Payload:
        return Payload.from_json(json.loads(value) if value else None)
