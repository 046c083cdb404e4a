"""Words for the search index: one normaliser for indexing, querying and scoring.

Text is folded (lower case, accents removed, compatibility forms unified) and cut into runs of
letters and digits. The database index is fed these same words on SQLite and PostgreSQL, so a
query matches the same articles on both, whatever the database's locale.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

_WORD = re.compile(r"[^\W_]+")
MAX_WORD = 64  # longer runs are hashes or base64, not words anyone searches for
MAX_INDEXED_WORDS = 50_000  # keeps a huge hand-written file inside PostgreSQL's tsvector limit
MAX_QUERY_TERMS = 12
PREFIX_FROM = 3  # terms this long also match longer words: "print" finds "printer"

# Letters NFKD leaves alone but that people type without the mark.
_EXTRA_FOLDS = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ð": "d", "ı": "i"}
)

# Common English words, and the words every article's own headings use.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can cannot could did do does doing done down during each
    else even ever few for from further get gets got had has have having he her here hers him
    his how i if in into is it its itself just let me more most my no nor not now of off on once
    only or other our ours out over own please same she should so some still such than that the
    their theirs them then there these they this those through to too under until up upon us
    very was we were what when where which while who whom why will with would yet you your
    yours hi hello thanks thank hey one two
    problem problems issue issues help ticket tickets details steps taken solution solutions
    resolution resolutions resolved previous revision
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def fold(text: str) -> str:
    """Lower case without accents: "Crème Brûlée" -> "creme brulee"."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_EXTRA_FOLDS))
    return _combining_marks().sub("", decomposed)


@cache
def _combining_marks() -> re.Pattern[str]:
    """Every combining mark of the Basic Multilingual Plane, as one character class."""
    marks = "".join(chr(c) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c)))
    return re.compile(f"[{re.escape(marks)}]")


def words(text: str) -> list[str]:
    """The folded words of `text`, in order, as the index stores them."""
    found = [w for w in _WORD.findall(fold(text)) if len(w) <= MAX_WORD]
    return found[:MAX_INDEXED_WORDS]


def index_text(text: str) -> str:
    """`text` as the search index receives it: folded words separated by single spaces."""
    return " ".join(words(text))


@dataclass(frozen=True)
class Term:
    """One word of a query; `prefix` terms also match words that start with them."""

    word: str
    prefix: bool

    def matches(self, word: str) -> bool:
        return word.startswith(self.word) if self.prefix else word == self.word

    @property
    def pattern(self) -> re.Pattern[str]:
        """Finds the term as a whole word (or a word's start) in folded text."""
        return _term_pattern(self.word, self.prefix)

    def found_in(self, folded: str) -> bool:
        return self.pattern.search(folded) is not None


@lru_cache(maxsize=4096)
def _term_pattern(word: str, prefix: bool) -> re.Pattern[str]:
    end = "" if prefix else r"(?![^\W_])"
    return re.compile(r"(?<![^\W_])" + re.escape(word) + end)


def query_terms(text: str) -> list[Term]:
    """The distinct words worth searching for, at most MAX_QUERY_TERMS of them.

    Stop words and single letters are dropped: a query of only those finds nothing.
    """
    seen: dict[str, None] = {}
    for w in words(text):
        if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS:
            seen.setdefault(w, None)
    return [Term(w, len(w) >= PREFIX_FROM) for w in list(seen)[:MAX_QUERY_TERMS]]


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?", re.MULTILINE)
_EMPHASIS = re.compile(r"(?<!\\)(?:\*\*|__|`+)")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def plain_text(markdown: str) -> str:
    """Markdown as the plain text people search and read in snippets."""
    text = _COMMENT.sub("", markdown)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _ESCAPED.sub(r"\1", text)
    return html.unescape(text).strip()


def snippet(text: str, terms: list[Term], width: int = 160) -> str:
    """About `width` characters of `text` where the most query words come together."""
    head = text[:20_000]
    folded = fold(head)
    hits: list[tuple[int, str]] = []
    if len(folded) == len(head):  # folding kept every character in place: search at C speed
        for t in terms:
            hits.extend(
                (m.start(), t.word) for m in itertools.islice(t.pattern.finditer(folded), 50)
            )
    else:
        for m in _WORD.finditer(head):
            parts = _WORD.findall(fold(m.group()))
            hits.extend((m.start(), t.word) for t in terms if any(t.matches(w) for w in parts))
            if len(hits) >= 200:
                break
    span = width * 2 // 3

    def terms_near(start: int) -> int:
        return len({w for p, w in hits if start <= p < start + span})

    # The window holding the most distinct terms wins; the earliest among equals.
    start = max((p for p, _ in hits), key=lambda p: (terms_near(p), -p), default=0)
    begin = max(0, start - width // 3)
    if begin:
        space = text.find(" ", begin)
        begin = space + 1 if 0 <= space < start else begin
    piece = text[begin : begin + width]
    end_cut = begin + width < len(text)
    if end_cut and " " in piece[width // 2 :]:
        piece = piece[: piece.rfind(" ")]
    piece = " ".join(piece.split())
    return ("…" if begin else "") + piece + ("…" if end_cut else "")
