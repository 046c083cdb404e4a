"""What people type, as far as the rules care: blank-looking text, and direction controls.

Telegram passes on characters that show nothing (zero-width spaces, fillers, formatting marks) and
characters that reverse how the text around them is drawn (bidirectional overrides). A message of
only the first is empty; a title keeps none of the second, so "#12 · <title>" in a list can never
be drawn backwards or hide what follows it.
"""

from __future__ import annotations

import unicodedata

# Letters that render as nothing although Unicode does not call them spaces or format marks.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Bidirectional embeddings, overrides, isolates and marks.
_BIDI = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
)


def is_blank(text: str) -> bool:
    """Nothing a person could see: only whitespace, format marks (e.g. zero-width) and fillers."""
    return all(
        c.isspace() or c in _FILLERS or unicodedata.category(c) in ("Cf", "Zs", "Cc") for c in text
    )


def shorten(text: str, width: int = 60) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis when longer."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def without_direction_controls(text: str) -> str:
    """`text` with every bidirectional embedding, override, isolate and mark removed."""
    return text.translate(_BIDI)


def readable(name: str) -> str:
    """A name as people read it: `access_level` -> `Access level`, `on-call` -> `On call`."""
    text = " ".join(name.replace("_", " ").replace("-", " ").split())
    return text[:1].upper() + text[1:] if text else name
