"""The full-text index of `kb_articles`: one protocol, one class per database behind it.

SQLite keeps the index in the FTS5 table `kb_fts` (rowid = article id); PostgreSQL in the
`search_vector` column of `kb_articles` (migration 0003). Both are fed the words that
`bot.knowledge.text` folded (`IndexText`), so a query finds the same articles on both; Chinese
arrives already cut into pairs of characters, so neither needs a tokenizer of its own for it.
`index_for(session)` is the one place that picks a class by the session's dialect.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from bot.db.models import Article
from bot.knowledge.record import IndexText
from bot.knowledge.text import Term

_CHUNK = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """An article's words as the index keeps them, under the article's id."""

    id: int
    title: str
    tags: str
    body: str


class SearchIndex(Protocol):
    """What searching and indexing need of a database's full-text index."""

    def put(self, entries: Sequence[Entry]) -> None:
        """Index rows of `kb_articles`, replacing what the index had for them."""

    def drop(self, ids: Sequence[int]) -> None:
        """Take deleted rows out of the index."""

    def add(
        self, rows: Sequence[Mapping[str, Any]], texts: Sequence[IndexText], now: datetime
    ) -> None:
        """Insert new `kb_articles` rows, indexed at `now`, with `texts[i]` for `rows[i]`."""

    def document_counts(self, terms: Sequence[Term]) -> list[int]:
        """How many articles contain each of `terms`, in their order."""

    def candidates(
        self, terms: list[Term], k: int, *, ranked: bool = True
    ) -> list[tuple[int, float]]:
        """(article id, rank; higher is better) for the best `k` rows holding any of `terms`.

        Unranked, the newest `k` matching rows come back (ranked by their id): ranking reads
        every matching row, which for a word in thousands of articles costs more than it tells.
        """


def index_for(session: Session) -> SearchIndex:
    """The index of the database the session is bound to."""
    if session.get_bind().dialect.name == "sqlite":
        return Fts5Index(session)
    return TsvectorIndex(session)


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices small enough for one statement's parameters."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- SQLite: FTS5 ----------------------------------------------------------------------------

# Built once: building a statement costs more than running it on SQLite.
# REPLACE makes FTS5 delete the rowid's old entry first, so one statement serves a changed row
# and a new row alike (a new row may reuse a deleted row's rowid, and an entry left behind by a
# deletion done outside sopbot must not be found under it).
_FTS_PUT = text(
    "INSERT OR REPLACE INTO kb_fts (rowid, title, tags, body) VALUES (:id, :title, :tags, :body)"
)
_FTS_DROP = text("DELETE FROM kb_fts WHERE rowid IN (SELECT value FROM json_each(:ids))")
_FTS_COUNT = text("SELECT count(*) FROM kb_fts WHERE kb_fts MATCH :q")
_FTS_NEWEST = text("SELECT rowid FROM kb_fts WHERE kb_fts MATCH :q ORDER BY rowid DESC LIMIT :k")
_FTS_RANKED = text(
    "SELECT rowid, bm25(kb_fts, 10.0, 5.0, 1.0) AS r FROM kb_fts "
    "WHERE kb_fts MATCH :q ORDER BY r LIMIT :k"
)


class Fts5Index:
    """SQLite's FTS5 table `kb_fts`; bm25 weighs the title 10, the tags 5, the body 1."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        self.session.connection().execute(
            _FTS_PUT,
            [{"id": e.id, "title": e.title, "tags": e.tags, "body": e.body} for e in entries],
        )

    def drop(self, ids: Sequence[int]) -> None:
        for chunk in chunks(ids):
            self.session.execute(
                _FTS_DROP, {"ids": "[" + ",".join(str(int(i)) for i in chunk) + "]"}
            )

    def add(
        self, rows: Sequence[Mapping[str, Any]], texts: Sequence[IndexText], now: datetime
    ) -> None:
        ids = self.session.scalars(
            insert(Article).returning(Article.id, sort_by_parameter_order=True),
            [{**row, "indexed_at": now} for row in rows],
        ).all()
        self.put([Entry(i, **t) for i, t in zip(ids, texts, strict=True)])

    def document_counts(self, terms: Sequence[Term]) -> list[int]:
        run = self.session.scalar
        return [run(_FTS_COUNT, {"q": self.query([t])}) or 0 for t in terms]

    def candidates(
        self, terms: list[Term], k: int, *, ranked: bool = True
    ) -> list[tuple[int, float]]:
        params = {"q": self.query(terms), "k": k}
        if not ranked:
            return [(i, float(i)) for (i,) in self.session.execute(_FTS_NEWEST, params)]
        return [(i, -r) for i, r in self.session.execute(_FTS_RANKED, params).all()]

    @staticmethod
    def query(terms: list[Term]) -> str:
        """Each word double-quoted (so nothing in it is FTS5 syntax), prefix terms starred."""
        return " OR ".join(
            '"' + t.word.replace('"', '""') + '"' + ("*" if t.prefix else "") for t in terms
        )


# --- PostgreSQL: a tsvector column ---------------------------------------------------------

_VECTOR = (
    "setweight(to_tsvector('simple', {title}), 'A') || "
    "setweight(to_tsvector('simple', {tags}), 'B') || "
    "setweight(to_tsvector('simple', {body}), 'C')"
)
_TS_PUT = text(
    "UPDATE kb_articles AS a SET search_vector = "
    + _VECTOR.format(title="u.title", tags="u.tags", body="u.body")
    + " FROM unnest(CAST(:ids AS integer[]), CAST(:titles AS text[]), "
    "CAST(:tags AS text[]), CAST(:bodies AS text[])) AS u(id, title, tags, body) "
    "WHERE a.id = u.id"
)
# Rows inserted with their vector in one statement, so each row is written once (an insert and
# then an update would write every row and index entry twice).
_TS_ADD = text(
    "INSERT INTO kb_articles (path, ticket_id, procedure_id, title, tags, body, sha256, "
    "mtime, indexed_at, search_vector) "
    "SELECT u.path, u.ticket_id, u.procedure_id, u.title, u.tags, u.body, u.sha256, "
    "u.mtime, :now, "
    + _VECTOR.format(title="u.i_title", tags="u.i_tags", body="u.i_body")
    + " FROM unnest(CAST(:path AS text[]), CAST(:ticket_id AS integer[]), "
    "CAST(:procedure_id AS text[]), CAST(:title AS text[]), CAST(:tags AS text[]), "
    "CAST(:body AS text[]), CAST(:sha256 AS text[]), CAST(:mtime AS float8[]), "
    "CAST(:i_title AS text[]), CAST(:i_tags AS text[]), CAST(:i_body AS text[])) "
    "AS u(path, ticket_id, procedure_id, title, tags, body, sha256, mtime, "
    "i_title, i_tags, i_body)"
)
_TS_ADD_COLUMNS = ("path", "ticket_id", "procedure_id", "title", "tags", "body", "sha256", "mtime")
# How many articles hold each term, in one statement (a Chinese query is several pairs, and a
# round trip costs more than counting a rare term). Counting a word most articles hold would read
# most of the table: a GIN index finds the rows but cannot count them without visiting each. ANALYZE
# already keeps the share of rows holding each of the most common words (`pg_stats`), so a term
# it says ESTIMATE_FROM rows or more hold gets that share of the table's size, an estimate within
# a few percent where a few percent changes nothing; rarer terms are counted. A prefix term takes
# the shares of the common words it starts, together, as a bound from above.
_TS_COUNTS = text(
    "WITH common AS MATERIALIZED ("
    " SELECT e.word, e.share FROM pg_stats AS s,"
    " unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs)"
    " AS e(word, share)"
    " WHERE s.schemaname = current_schema() AND s.tablename = 'kb_articles'"
    " AND s.attname = 'search_vector' AND e.word IS NOT NULL"
    "), estimated AS ("
    " SELECT u.n, u.q, (SELECT sum(c.share) FROM common AS c WHERE CASE WHEN u.prefix"
    " THEN starts_with(c.word, u.word) ELSE c.word = u.word END) AS share"
    " FROM unnest(CAST(:qs AS text[]), CAST(:words AS text[]), CAST(:prefixes AS boolean[]))"
    " WITH ORDINALITY AS u(q, word, prefix, n)"
    "), sized AS ("
    " SELECT e.n, e.q, CASE WHEN e.share > 1 THEN 1 ELSE e.share END"
    " * (SELECT reltuples FROM pg_class WHERE oid = CAST('kb_articles' AS regclass)) AS n_rows"
    " FROM estimated AS e"
    ") SELECT CASE WHEN z.n_rows >= :estimate_from THEN CAST(round(z.n_rows) AS bigint)"
    " ELSE (SELECT count(*) FROM kb_articles WHERE search_vector @@ to_tsquery('simple', z.q))"
    " END FROM sized AS z ORDER BY z.n"
)
ESTIMATE_FROM = 5_000
_TS_NEWEST = text(
    "SELECT id FROM kb_articles WHERE search_vector @@ to_tsquery('simple', :q) "
    "ORDER BY id DESC LIMIT :k"
)
_TS_RANKED = text(
    "SELECT id, ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', search_vector, q, 1) AS r "
    "FROM kb_articles, to_tsquery('simple', :q) AS q "
    "WHERE search_vector @@ q ORDER BY r DESC, id LIMIT :k"
)


class TsvectorIndex:
    """PostgreSQL's `kb_articles.search_vector` (`simple` config; weights A title, B tags,
    C body) with a GIN index; ranked by `ts_rank_cd`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, entries: Sequence[Entry]) -> None:
        for chunk in chunks(entries):
            self.session.execute(
                _TS_PUT,
                {
                    "ids": [e.id for e in chunk],
                    "titles": [e.title for e in chunk],
                    "tags": [e.tags for e in chunk],
                    "bodies": [e.body for e in chunk],
                },
            )

    def drop(self, ids: Sequence[int]) -> None:
        """Nothing to do: the column goes with its row."""

    def add(
        self, rows: Sequence[Mapping[str, Any]], texts: Sequence[IndexText], now: datetime
    ) -> None:
        if not rows:
            return
        arrays: dict[str, Any] = {c: [row[c] for row in rows] for c in _TS_ADD_COLUMNS}
        arrays.update({f"i_{k}": [t[k] for t in texts] for k in ("title", "tags", "body")})
        self.session.execute(_TS_ADD, {**arrays, "now": now})

    def document_counts(self, terms: Sequence[Term]) -> list[int]:
        params = {
            "qs": [self.query([t]) for t in terms],
            "words": [t.word for t in terms],
            "prefixes": [t.prefix for t in terms],
            "estimate_from": ESTIMATE_FROM,
        }
        return list(self.session.scalars(_TS_COUNTS, params))

    def candidates(
        self, terms: list[Term], k: int, *, ranked: bool = True
    ) -> list[tuple[int, float]]:
        params = {"q": self.query(terms), "k": k}
        if not ranked:
            return [(i, float(i)) for (i,) in self.session.execute(_TS_NEWEST, params)]
        return [(i, r) for i, r in self.session.execute(_TS_RANKED, params).all()]

    @staticmethod
    def query(terms: list[Term]) -> str:
        """Each word single-quoted as a tsquery lexeme, prefix terms with `:*`, joined by OR."""
        return " | ".join(
            "'" + t.word.replace("'", "''") + "'" + (":*" if t.prefix else "") for t in terms
        )
