"""Whose language a message is in: a person's (chosen, or their Telegram app's), a team chat's,
or the team's. One place decides, for the engine, the sweep and the outbox alike."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import Person
from bot.domain.languages import reader_language


def person_language(session: Session, config: Config, user_id: int) -> str:
    """A person's language: chosen with /language, else their app's as last seen, else the
    team's."""
    row = session.execute(
        select(Person.language, Person.language_code).where(Person.user_id == user_id)
    ).first()
    if row is None:
        return config.language
    return reader_language(row.language, row.language_code, config.language)


def chat_language(session: Session, config: Config, chat_id: int) -> str:
    """The language of a message to `chat_id`: a private chat's id is its person's."""
    if chat_id > 0:
        return person_language(session, config, chat_id)
    return config.chat_language(chat_id)


def choose(person: Person, language: str | None) -> None:
    """Remember the language a person chose (None: follow their Telegram app again)."""
    person.language = language
