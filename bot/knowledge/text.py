"""Words for the search index: one normaliser for indexing, querying and scoring.

Text is folded (lower case, accents removed, compatibility forms unified) and cut into runs of
letters and digits. Chinese and Japanese are written without spaces between words, so a run of
Han or kana characters is cut into overlapping pairs ("打印机" -> "打印 印机 机", the last character
alone too): a word of two or more characters is then a phrase of consecutive pairs, and one
character is the start of a token. The database index is fed these same words on SQLite and
PostgreSQL, so a query matches the same articles on both, whatever the database's locale.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

# Han ideographs (with their extensions and compatibility forms) and kana: scripts written
# without spaces, whose runs are cut into pairs. Not Hangul: Korean puts spaces between words.
_CJK = (
    "\u3005\u3007\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[^\W_]+")
# A run of CJK characters, or a run of other letters and digits: "hp打印机" is "hp" and "打印机".
_TOKEN = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
_LETTER = f"[^\\W_{_CJK}]"  # what continues a word of other scripts; CJK characters end it
MAX_WORD = 64  # longer runs are hashes or base64, not words anyone searches for
MAX_INDEXED_WORDS = 50_000  # keeps a huge hand-written file inside PostgreSQL's tsvector limit
MAX_QUERY_TERMS = 12
MAX_QUERY_PAIRS = 16  # a Chinese sentence gives a pair per character: more room, counted apart
# Which way `words` cuts text. The index holds words cut this way; when it changes, every
# article's index entry is rebuilt (`bot.services.knowledge.reindexing`).
WORDS_VERSION = "2 cjk-pairs"
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

# Chinese particles and pronouns: a query pair holding one ("的打" in "的打印机") is mostly a join
# of two words, and a lone one is in every article.
CJK_STOP_CHARACTERS = frozenset(
    "的了吗呢吧啊呀嘛我你您他她它们是在和与及也都就这那个请把被给很还又"
)


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
    """The folded words of `text`, in order, as the index stores them (CJK runs as pairs)."""
    folded = fold(text)
    if _CJK_CHAR.search(folded) is None:
        found = [w for w in _WORD.findall(folded) if len(w) <= MAX_WORD]
        return found[:MAX_INDEXED_WORDS]
    found = []
    for run in _TOKEN.findall(folded):
        if is_cjk(run):
            found.extend(pairs(run))
            found.append(run[-1])
        elif len(run) <= MAX_WORD:
            found.append(run)
    return found[:MAX_INDEXED_WORDS]


def word_count(text: str) -> int:
    """Words in `text` as a person counts them: those between spaces, and in Chinese or
    Japanese, written without spaces, about one word per two characters."""
    runs = _CJK_RUN.findall(text)
    return len(text.split()) + sum(max(len(run) // 2 - 1, 0) for run in runs)


def is_cjk(run: str) -> bool:
    """Whether a run cut by `words` is of Han or kana characters."""
    return _CJK_CHAR.match(run) is not None


def pairs(run: str) -> list[str]:
    """Overlapping pairs of characters: "打印机" -> ["打印", "印机"]; none for one character."""
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(text: str) -> str:
    """`text` as the search index receives it: folded words separated by single spaces."""
    return " ".join(words(text))


@dataclass(frozen=True)
class Term:
    """One word of a query; `prefix` terms also match words that start with them.

    A CJK term is a pair of characters (or one character alone) and is found anywhere inside a
    run of CJK text; `share` is its part of the query word it was cut from, so "打印机" (two
    pairs) weighs as much in a /kb query as "printer".
    """

    word: str
    prefix: bool
    share: float = 1.0

    @property
    def cjk(self) -> bool:
        return is_cjk(self.word)

    def matches(self, word: str) -> bool:
        if self.cjk:
            return self.word in word
        return word.startswith(self.word) if self.prefix else word == self.word

    @property
    def pattern(self) -> re.Pattern[str]:
        """Finds the term as a whole word (or a word's start) in folded text."""
        return _term_pattern(self.word, self.prefix)

    def found_in(self, folded: str) -> bool:
        return self.pattern.search(folded) is not None


@lru_cache(maxsize=4096)
def _term_pattern(word: str, prefix: bool) -> re.Pattern[str]:
    if is_cjk(word):  # CJK text has no spaces: the index holds every pair of a run
        return re.compile(re.escape(word))
    end = "" if prefix else f"(?!{_LETTER})"
    return re.compile(f"(?<!{_LETTER})" + re.escape(word) + end)


def query_terms(text: str) -> list[Term]:
    """The distinct words worth searching for: at most MAX_QUERY_TERMS words of alphabetic
    scripts and MAX_QUERY_PAIRS pairs of CJK characters.

    Stop words and single letters are dropped: a query of only those finds nothing. A CJK run
    gives its pairs, without those holding a particle or pronoun unless nothing else is left;
    a single CJK character alone is searched as the start of a token.
    """
    found: dict[str, Term] = {}
    latin = cjk = 0
    for run in _TOKEN.findall(fold(text)):
        if is_cjk(run):
            for term in _cjk_terms(run):
                if term.word not in found and cjk < MAX_QUERY_PAIRS:
                    found[term.word] = term
                    cjk += 1
        elif (
            (len(run) > 1 or run.isdigit())
            and len(run) <= MAX_WORD
            and run not in STOPWORDS
            and run not in found
            and latin < MAX_QUERY_TERMS
        ):
            found[run] = Term(run, len(run) >= PREFIX_FROM)
            latin += 1
    return list(found.values())


def _cjk_terms(run: str) -> list[Term]:
    if len(run) == 1:
        return [] if run in CJK_STOP_CHARACTERS else [Term(run, True)]
    cut = pairs(run)
    kept = [p for p in cut if not CJK_STOP_CHARACTERS.intersection(p)] or cut
    return [Term(p, False, 1 / len(kept)) for p in kept]


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
            parts = _TOKEN.findall(fold(m.group()))
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
