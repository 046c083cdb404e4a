"""Safe file names for articles: `<procedure>/<ticket>-<slug>.md`, always inside the folder."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

from bot.knowledge.text import fold

MAX_SLUG_CHARS = 60
MAX_SLUG_BYTES = 120  # well under the 255-byte file name limit, even with CJK titles
FALLBACK = "untitled"
_RUN = re.compile(r"[^\w]+|_+")
# Names Windows refuses as files or folders, whatever the extension (people clone on Windows).
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)


class UnsafePath(ValueError):
    """A path that would leave the knowledge folder."""


def slugify(title: str, *, max_chars: int = MAX_SLUG_CHARS, fallback: str = FALLBACK) -> str:
    """A lower-case, hyphenated slug for any title; never empty, never a path.

    Latin letters lose their accents ("Café" -> "cafe"); other scripts keep their letters (NFC),
    so a Cyrillic or Japanese title still gives a readable name. Everything else (slashes, dots,
    control characters, emoji, punctuation) becomes a single hyphen.
    """
    text = unicodedata.normalize("NFKC", title)
    folded = "".join(_keep_script(c) for c in text)
    slug = _RUN.sub("-", folded).strip("-")
    slug = unicodedata.normalize("NFC", slug)
    slug = _cut(slug, max_chars)
    return slug or fallback


def _keep_script(c: str) -> str:
    """Fold a Latin letter to ASCII; keep letters of other scripts as they are."""
    if c.isascii():
        return c.lower()
    f = fold(c)
    return f if f.isascii() and f.isalnum() else c.lower()


def _cut(slug: str, max_chars: int) -> str:
    if len(slug) <= max_chars and len(slug.encode()) <= MAX_SLUG_BYTES:
        return slug
    cut = slug[:max_chars]
    while len(cut.encode()) > MAX_SLUG_BYTES:
        cut = cut[:-1]
    # End at a word boundary when one is reasonably close, so names do not end mid-word.
    hyphen = cut.rfind("-")
    if hyphen >= len(cut) // 2:
        cut = cut[:hyphen]
    return cut.strip("-")


def folder_name(procedure_id: str) -> str:
    """The folder for a procedure's articles: its id made safe."""
    name = slugify(procedure_id, fallback="other")
    return f"{name}_" if name in _RESERVED else name


def article_path(procedure_id: str, ticket_id: int, title: str, n: int = 1) -> str:
    """The relative path of a ticket's article; `n` > 1 gives the n-th alternative name."""
    suffix = f"-{n}" if n > 1 else ""
    return f"{folder_name(procedure_id)}/{int(ticket_id)}-{slugify(title)}{suffix}.md"


def inside(knowledge_dir: Path, relative: str) -> Path:
    """The absolute path of `relative` under `knowledge_dir`; refuses anything that leaves it.

    Symbolic links are followed before the check, so a linked folder pointing elsewhere is
    refused too.
    """
    rel = PurePosixPath(relative)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts or "\\" in relative:
        raise UnsafePath(f"not a relative path inside the knowledge folder: {relative!r}")
    if any(ord(c) < 32 for c in relative):
        raise UnsafePath(f"control character in path: {relative!r}")
    base = knowledge_dir.resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base) or target == base:
        raise UnsafePath(f"{relative!r} leaves the knowledge folder")
    return target
