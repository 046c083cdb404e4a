"""Putting people's text into markdown so that it reads as text and never as markup."""

from __future__ import annotations

import re

# Characters that start inline markup (emphasis, code, links, tables, strike-through, math).
_INLINE = re.compile(r"([\\`*_\[\]|~$])")
# What makes a line a heading, list item, quote, rule or setext underline when it starts one.
_LINE_START = re.compile(r"^(?:[#+=-]|\d+(?=[.)]))")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^(#{1,6})(\s)")
PREVIOUS_HEADING = "## Previous resolutions"


# Control characters (but tab and newline), lone surrogates, and the bidirectional overrides and
# isolates that can make text read differently from what it is.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Normalised line breaks; no control characters (but newline and tab), no bidi overrides."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    return _UNWANTED.sub("", text)


def escape(text: object) -> str:
    """Markdown-escape `text`: HTML becomes entities, markdown punctuation is backslashed.

    Every line is treated as if it began a block, so `# x`, `- x`, `1. x`, `---` and `===` lose
    their meaning; leading spaces are dropped so nothing becomes an indented code block.
    """
    lines = []
    for line in clean(str(text)).split("\n"):
        line = line.strip()
        line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        line = _INLINE.sub(r"\\\1", line)
        line = _LINE_START.sub(_escape_line_start, line)
        lines.append(line)
    return "\n".join(lines).strip("\n")


def _escape_line_start(m: re.Match[str]) -> str:
    """`# x` -> `\\# x`; `1. x` -> `1\\. x` (the dot after the number is what makes a list)."""
    found = m.group()
    return found + "\\" if found.isdigit() else "\\" + found


def one_line(text: object) -> str:
    """All whitespace, line breaks included, as single spaces."""
    return " ".join(clean(str(text)).split())


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Headings `levels` deeper (at most level 6), leaving fenced code blocks untouched."""
    out, fence = [], None
    for line in markdown.split("\n"):
        m = _FENCE.match(line)
        if m:
            fence = _toggle_fence(fence, m.group(1))
        elif fence is None:
            h = _ATX.match(line)
            if h:
                depth = min(6, len(h.group(1)) + levels)
                line = "#" * depth + line[len(h.group(1)) :]
        out.append(line)
    return "\n".join(out)


def _toggle_fence(open_fence: str | None, marker: str) -> str | None:
    """The fence open after a fence line: a fence closes only with its own kind, as long."""
    if open_fence is None:
        return marker
    if marker[0] == open_fence[0] and len(marker) >= len(open_fence):
        return None
    return open_fence


def split_previous(body: str) -> tuple[str, str]:
    """A generated body split at its "Previous resolutions" heading: (current, previous)."""
    lines = body.split("\n")
    fence = None
    for i, line in enumerate(lines):
        m = _FENCE.match(line)
        if m:
            fence = _toggle_fence(fence, m.group(1))
        elif fence is None and line.rstrip() == PREVIOUS_HEADING:
            return "\n".join(lines[:i]).strip("\n"), "\n".join(lines[i + 1 :]).strip("\n")
    return body.strip("\n"), ""


def drop_title(body: str) -> str:
    """The body without its first level-1 heading (the title, kept in the revision heading)."""
    lines = body.strip("\n").split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip("\n")
