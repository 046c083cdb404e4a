"""Full-text search over knowledge articles.

SQLite: an FTS5 table `kb_fts(title, tags, body)` whose rowid is `kb_articles.id`.
PostgreSQL: a `tsvector` column `kb_articles.search_vector` (weights A title, B tags, C body)
with a GIN index.

Both are written by `bot.services.knowledge` with words it has already folded (lower case, no
accents, letters and digits only), so matching does not depend on the database's locale and is
the same on both backends. Neither object is in `bot/db/models.py`; `migrations/env.py` keeps
them out of the autogenerate comparison.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE kb_fts USING fts5("
            "title, tags, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '3')"
        )
        # Rows written before this revision; sopbot's own words replace these on reindex.
        op.execute(
            "INSERT INTO kb_fts (rowid, title, tags, body) "
            "SELECT id, title, tags, body FROM kb_articles"
        )
        return
    op.add_column("kb_articles", sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True))
    op.execute(
        "UPDATE kb_articles SET search_vector = "
        "setweight(to_tsvector('simple', title), 'A') || "
        "setweight(to_tsvector('simple', tags), 'B') || "
        "setweight(to_tsvector('simple', body), 'C')"
    )
    op.create_index(
        "ix_kb_articles_search_vector",
        "kb_articles",
        ["search_vector"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS kb_fts")
        return
    op.drop_index("ix_kb_articles_search_vector", table_name="kb_articles")
    op.drop_column("kb_articles", "search_vector")
