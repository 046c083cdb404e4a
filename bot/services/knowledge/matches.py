"""Articles that match: `search` for /kb and `sopbot kb search`, `suggest` before a new ticket.

The search index fetches candidates; `bot.knowledge.ranking` scores them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from bot.db.models import Article
from bot.knowledge import ranking
from bot.knowledge.ranking import CANDIDATES, SUGGEST_CAP, SUGGEST_FLOOR, Scored, Stats
from bot.knowledge.text import Term, query_terms, snippet
from bot.services.knowledge.search_index import SearchIndex, index_for


@dataclass(frozen=True)
class Match:
    """An article that matches a query; `score` is the share of the query it covers (0..1)."""

    article_id: int
    path: str
    title: str
    score: float
    snippet: str


def search(session: Session, query: str, limit: int = 10) -> list[Match]:
    """Articles matching `query`, those covering more of its words first, then by rank."""
    terms = query_terms(query)
    if not terms:
        return []
    limit = max(1, min(limit, 50))
    index = index_for(session)
    stats = _stats(session, index, terms)
    weights = ranking.equal_weights(terms)
    scored = _scored(session, index, stats, terms, weights, max(CANDIDATES, limit * 4))
    return [_match(s, terms) for s in scored[:limit]]


def suggest(session: Session, text: str, limit: int = 3) -> list[Match]:
    """Articles that probably answer a new ticket's first message; none when unsure.

    Each word of the message weighs less the more articles contain it; an article must cover
    at least half of that weight (title and tags counting fully, the body a little less) and
    at least two of the words when the message has two or more.
    """
    terms = query_terms(text)
    if not terms:
        return []
    index = index_for(session)
    stats = _stats(session, index, terms)
    weights = stats.weights(terms)
    scored = _scored(
        session, index, stats, terms, weights, CANDIDATES, bounds=(SUGGEST_FLOOR, SUGGEST_CAP)
    )
    return [_match(s, terms) for s in ranking.good_enough(scored, terms)[:limit]]


def _stats(session: Session, index: SearchIndex, terms: list[Term]) -> Stats:
    total = session.scalar(select(func.count()).select_from(Article)) or 0
    counts = index.document_counts(terms)
    return Stats(total, {t.word: n for t, n in zip(terms, counts, strict=True)})


def _scored(
    session: Session,
    index: SearchIndex,
    stats: Stats,
    terms: list[Term],
    weights: dict[str, float],
    k: int,
    *,
    bounds: tuple[float, float] | None = None,
) -> list[Scored[Row]]:
    """Candidates, fetched by the query's selective words, scored; best first."""
    fetch_by = stats.selective(terms)
    if not fetch_by:
        return []
    ranked = index.candidates(fetch_by, k, ranked=stats.worth_ranking(fetch_by))
    if not ranked:
        return []
    rank = dict(ranked)
    columns = (Article.id, Article.path, Article.title, Article.tags, Article.procedure_id)
    rows = session.execute(select(*columns, Article.body).where(Article.id.in_(rank))).all()
    return ranking.score(rows, terms, weights, rank, bounds=bounds)


def _match(scored: Scored[Row], terms: list[Term]) -> Match:
    row = scored.row
    return Match(row.id, row.path, row.title, scored.score, snippet(row.body, terms))
