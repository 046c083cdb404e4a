"""Ranking: how much of a query an article covers, and which words fetch the candidates.

Pure: the search index hands over candidate rows and how many articles hold each word; these
functions weigh and order them. The numbers are the same on SQLite and PostgreSQL, because both
indexes are fed the words `bot.knowledge.text` folded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from bot.knowledge.text import Term, fold

CANDIDATES = 40  # rows the full-text index hands over for scoring
SUGGEST_THRESHOLD = 0.5  # weighted share of the message's words an article must cover
SUGGEST_CAP = 5.0  # ... counting at most this much weight, so long messages can still match
SUGGEST_FLOOR = 1.0  # ... and at least this much, so a few very common words cannot
BODY_PLACE = 0.8  # a word in the body counts a little less than in the title or tags
COMMON_SHARE = 0.25  # a word in more than this share of articles does not fetch candidates
COMMON_FROM = 200  # ... once there are this many articles
RANK_AT_MOST = 2000  # when more rows may match, the newest matching rows are scored instead


class Candidate(Protocol):
    """What scoring reads of an article row."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def tags(self) -> str: ...
    @property
    def procedure_id(self) -> str | None: ...
    @property
    def body(self) -> str: ...


C = TypeVar("C", bound=Candidate)


@dataclass(frozen=True)
class Stats:
    """How many articles there are, and how many contain each word of a query."""

    total: int
    counts: dict[str, int]

    def weights(self, terms: list[Term]) -> dict[str, float]:
        """1 for a rare word, towards 0.1 for one in every article (smoothed for small bases)."""
        shares = {t.word: self.counts[t.word] / (self.total + 20) for t in terms}
        return {w: 1 / (1 + 9 * share * share) for w, share in shares.items()}

    def matches(self, terms: list[Term]) -> int:
        """At most this many articles contain one of `terms`."""
        return sum(self.counts[t.word] for t in terms)

    def worth_ranking(self, terms: list[Term]) -> bool:
        """Whether the index should rank the rows holding `terms`, or hand over the newest:
        ranking reads every matching row, which for thousands costs more than it tells."""
        return self.matches(terms) <= RANK_AT_MOST

    def selective(self, terms: list[Term]) -> list[Term]:
        """The words to fetch candidates by: words most articles contain are left out when
        rarer ones are there (they add little to a score, but would make the index rank
        thousands of rows); with only common words, the two rarest."""
        present = [t for t in terms if self.counts[t.word]]
        if self.total < COMMON_FROM:
            return present
        rare = [t for t in present if self.counts[t.word] <= self.total * COMMON_SHARE]
        return rare or sorted(present, key=lambda t: self.counts[t.word])[:2]


def equal_weights(terms: list[Term]) -> dict[str, float]:
    """Every word of a /kb query counts the same; the pairs cut from a Chinese word share its
    weight, so "打印机 toner" counts the two words alike."""
    return {t.word: t.share for t in terms}


@dataclass(frozen=True)
class Scored(Generic[C]):
    row: C
    score: float
    matched: int  # how many of the query's terms the article has
    rank: float  # the database's own rank, to order articles that score the same


def score(
    rows: Iterable[C],
    terms: list[Term],
    weights: dict[str, float],
    rank: Mapping[int, float],
    *,
    bounds: tuple[float, float] | None = None,
) -> list[Scored[C]]:
    """Rows scored by the share of the query's weight they cover (a word in the title, tags or
    procedure counting fully, in the body BODY_PLACE); best first, then by `rank`, then by id.
    With `bounds`, the query's total weight is held between them. Rows matching no term go."""
    total = sum(weights.values())
    if bounds is not None:
        total = min(max(total, bounds[0]), bounds[1])
    results = []
    for row in rows:
        head = fold(f"{row.title} {row.tags} {row.procedure_id or ''}")
        body = fold(row.body)
        covered, matched = 0.0, 0
        for t in terms:
            place = 1.0 if t.found_in(head) else BODY_PLACE if t.found_in(body) else 0.0
            covered += weights[t.word] * place
            matched += place > 0
        if matched:
            value = round(min(1.0, covered / total), 3) if total else 0.0
            results.append(Scored(row, value, matched, rank[row.id]))
    results.sort(key=lambda s: (-s.score, -s.rank, s.row.id))
    return results


def good_enough(scored: list[Scored[C]], terms: list[Term]) -> list[Scored[C]]:
    """The articles worth offering for a message: covering at least SUGGEST_THRESHOLD of its
    weight, and two of its words when it has two or more."""
    need = min(2, len(terms))
    return [s for s in scored if s.score >= SUGGEST_THRESHOLD and s.matched >= need]
