"""Whether files answer a file field: their kind, their size and how many (pure).

A refusal is a `Rejected` with a `Reason` code, like any answer (`bot.domain.fields`); the words
are in `bot/templates/words/rejection.txt`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.fields import Accepted, Reason, Rejected
from bot.domain.procedure import FieldSpec

# The words `accept` knows, besides MIME patterns.
KINDS = ("image", "pdf", "text", "any")
MIME_PATTERN = r"^[a-z0-9][a-z0-9.+-]*/(\*|[a-z0-9][a-z0-9.+-]*)$"
_MIME_PATTERN = re.compile(MIME_PATTERN)
_TEXT_NAMES = (".txt", ".log", ".md", ".csv", ".json", ".yaml", ".yml", ".xml", ".ini", ".cfg")
SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*([bB]|[bB]ytes?|[kK][bB]|[mM][bB]|[gG][bB])?\s*$"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|bytes?|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNIT = {"b": 1, "byte": 1, "bytes": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


@dataclass(frozen=True)
class FileFacts:
    """What a file field looks at: Telegram's kind, the MIME type, the name and the size."""

    kind: str  # photo, document, voice, audio, video, video_note, animation
    mime_type: str | None
    file_name: str | None
    size: int | None


def is_accept_word(word: str) -> bool:
    """A word `accept` may list: a known kind or a MIME pattern like `image/*`."""
    return word in KINDS or bool(_MIME_PATTERN.fullmatch(word))


def parse_size(text: str) -> int | None:
    """`10MB`, `500 KB`, `2048` (bytes) -> bytes; None when it is not a size."""
    m = _SIZE.fullmatch(text)
    if m is None:
        return None
    unit = (m.group(2) or "b").lower()
    return int(float(m.group(1)) * _UNIT[unit])


def accepts(spec: FieldSpec, f: FileFacts) -> bool:
    """Whether the field takes this kind of file (any file when `accept` is empty)."""
    return not spec.accept or any(_matches(word, f) for word in spec.accept)


def _matches(word: str, f: FileFacts) -> bool:
    mime = (f.mime_type or "").lower()
    name = (f.file_name or "").lower()
    if word == "any":
        return True
    if word == "image":
        return f.kind == "photo" or mime.startswith("image/")
    if word == "pdf":
        return mime == "application/pdf" or name.endswith(".pdf")
    if word == "text":
        return mime.startswith("text/") or name.endswith(_TEXT_NAMES)
    kind, _, sub = word.partition("/")
    have_kind, _, have_sub = mime.partition("/")
    return kind == have_kind and sub in ("*", have_sub)


def check_files(spec: FieldSpec, new: Sequence[FileFacts], already: int = 0) -> Accepted | Rejected:
    """Whether `new` files (after `already` accepted ones) answer the field: each of a kind it
    takes and within its size, and enough of them; Accepted carries how many count now."""
    for f in new:
        if not accepts(spec, f):
            return Rejected(
                Reason.WRONG_KIND_OF_FILE,
                {"accept": list(spec.accept), "kind": f.kind, "name": f.file_name},
            )
        if spec.max_size is not None and f.size is not None and f.size > spec.max_size:
            return Rejected(
                Reason.FILE_TOO_LARGE, {"size": f.size, "max": spec.max_size, "name": f.file_name}
            )
    count = already + len(new)
    if spec.max_count is not None and count > spec.max_count:
        return Rejected(Reason.TOO_MANY_FILES, {"count": count, "max": spec.max_count})
    if count < (spec.min_count or 1):
        return Rejected(Reason.TOO_FEW_FILES, {"count": count, "min": spec.min_count or 1})
    return Accepted(count)
