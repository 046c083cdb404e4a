"""Alembic environment: the URL comes from sopbot's config (or a connection handed in)."""

from __future__ import annotations

from alembic import context

from bot.db.engine import make_engine
from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    from bot.config import load_config

    return load_config(context.get_x_argument(as_dictionary=True).get("config")).database.url


# Full-text search objects kept out of the models (see versions/0003_kb_search.py): the FTS5
# table with its shadow tables on SQLite, the tsvector column and its index on PostgreSQL.
def _include_name(name, type_, parent_names) -> bool:
    if type_ == "table":
        return not (name or "").startswith("kb_fts")
    if type_ == "column" and parent_names.get("table_name") == "kb_articles":
        return name != "search_vector"
    return not (type_ == "index" and name == "ix_kb_articles_search_vector")


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
