"""A field's `pattern`, compiled into a matcher that no answer can stall.

Patterns run on RE2 (google-re2), which never backtracks: matching takes time linear in the
answer, whatever the pattern. What only backtracking can run (back-references, look-arounds,
possessive and atomic groups) is refused when the procedure is loaded, saying what it is.
"""

from __future__ import annotations

import re
from functools import lru_cache

import re2

from bot.domain.procedure import Matcher

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr itself
_OPTIONS.never_capture = True  # only "does it match" is asked: groups need not be kept
# Python reads `a{,3}` as "at most 3 a"; RE2 reads the characters `{,3}`. Said, never guessed.
_OPEN_LOWER_BOUND = re.compile(r"(?<!\\)\{,(\d+)\}")
_NEEDS_BACKTRACKING = "needs backtracking, which some answers could make run for minutes"
_PERL_OPERATORS = {
    "(?=": "a look-ahead (?=...)",
    "(?!": "a negative look-ahead (?!...)",
    "(?<=": "a look-behind (?<=...)",
    "(?<!": "a negative look-behind (?<!...)",
    "(?>": "an atomic group (?>...)",
    "(?P": "a back-reference by name (?P=name)",  # Python accepts no other (?P form RE2 refuses
    "(?(": "a conditional group (?(1)...|...)",
}
_UNSUPPORTED_ESCAPES = {
    "\\Z": "write \\z or $ for the end of the answer",
    "\\u": "write the character itself, or \\x{...} with its hex code",
    "\\U": "write the character itself, or \\x{...} with its hex code",
    "\\N": "write the character itself, or \\x{...} with its hex code",
}


class PatternError(ValueError):
    """A pattern the bot cannot use; the message says why, in words a procedure author reads."""


class Re2Matcher:
    """A pattern searched anywhere in the answer (anchor it with ^...$), in linear time."""

    __slots__ = ("_regexp", "pattern")

    def __init__(self, pattern: str, regexp: re2._Regexp):
        self.pattern = pattern
        self._regexp = regexp

    def __call__(self, text: str, /) -> bool:
        return self._regexp.search(text) is not None

    def __repr__(self) -> str:
        return f"Re2Matcher({self.pattern!r})"


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Matcher:
    """The matcher of a pattern; PatternError says what in it cannot be used.

    Cached by the pattern's text, which is safe: the text is the whole of the regex.
    """
    try:
        regexp = re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        raise PatternError(_refused(pattern, _text(e))) from None
    bound = _OPEN_LOWER_BOUND.search(pattern)
    if bound:
        raise PatternError(
            f"'{bound.group()}' would match those characters themselves; "
            f"write {{0,{bound.group(1)}}} for 'at most {bound.group(1)} times'"
        )
    return Re2Matcher(pattern, regexp)


def _refused(pattern: str, reason: str) -> str:
    """Why RE2 refused a pattern: a mistake in it, or something only backtracking can run."""
    what, _, detail = reason.partition(": ")
    invalid = _python_syntax_error(pattern)
    # Python knows no \p{L} or \z, which RE2 does: then its "bad escape" would mislead.
    if invalid is not None and "bad escape" not in invalid:
        return invalid
    if what == "invalid escape sequence" and detail[1:].isdigit():
        return f"cannot be run safely: a back-reference ({detail}) {_NEEDS_BACKTRACKING}"
    if what == "invalid escape sequence" and detail in _UNSUPPORTED_ESCAPES:
        return f"{detail} is not supported; {_UNSUPPORTED_ESCAPES[detail]}"
    if what == "bad repetition operator" and detail.endswith("+"):
        return f"cannot be run safely: a possessive repetition ({detail}) {_NEEDS_BACKTRACKING}"
    if what == "invalid perl operator" and detail in _PERL_OPERATORS:
        return f"cannot be run safely: {_PERL_OPERATORS[detail]} {_NEEDS_BACKTRACKING}"
    if what == "invalid perl operator" and detail == "(?#":
        return "comments (?#...) are not supported; remove them"
    if what == "invalid perl operator" and detail.startswith("(?"):
        return (
            f"the flag {detail[2:]} in {detail}) is not supported; "
            "only i (any case), m (lines), s (dot matches newlines) and U can be used"
        )
    if what == "invalid repetition size":
        return (
            f"cannot be run safely: it repeats too often ({detail}; at most 1000 in all, "
            "counting repetitions inside repetitions)"
        )
    if what.startswith("pattern too large"):
        return "cannot be run safely: it is too large (fewer or smaller repetitions would do)"
    if invalid is not None:
        return f"not a valid regular expression: {reason}"
    return f"cannot be run safely: {reason}"


def _python_syntax_error(pattern: str) -> str | None:
    """What Python's `re` finds wrong with a pattern, in its words; None if it reads it.

    Only compiled, never matched: compiling is bounded by the pattern's length.
    """
    try:
        re.compile(pattern)
    except (re.error, ValueError, OverflowError, RecursionError) as e:
        return f"not a valid regular expression: {e}"
    except Warning as e:
        # Only where warnings are errors (the test suite): `re` warns about ambiguous sets
        # like '[[a]'. Elsewhere it prints the warning and reads the pattern as written.
        return f"ambiguous regular expression: {e}"
    return None


def _text(error: re2.error) -> str:
    raw = error.args[0] if error.args else ""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
