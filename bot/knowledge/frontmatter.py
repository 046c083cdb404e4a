"""Reading and writing YAML front matter: the `---` block at the top of an article."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_FRONT_MATTER = 64 * 1024  # a hand-written file with more than this is read as plain text
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Safe dumping without anchors: a value written twice is written out twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass(frozen=True)
class Document:
    """An article file split in two; `error` says why front matter was present but unusable."""

    meta: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    error: str | None = None


def parse(text: str, keys: Iterable[str] | None = None) -> Document:
    """Split `text` into front matter and body; files without front matter are all body.

    With `keys`, only those top-level keys are read (others are skipped before YAML sees
    them), which is what makes reindexing thousands of files quick; if the shortened text
    does not parse, the whole front matter is read after all.
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return Document(body=text)
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            break
    else:
        return Document(body=text, error="front matter is not closed by a --- line")
    raw = "\n".join(lines[1:i])
    body = "\n".join(lines[i + 1 :]).lstrip("\n")
    if len(raw) > MAX_FRONT_MATTER:
        return Document(body=body, error="front matter is too long")
    meta = None
    if keys is not None:
        try:
            meta = yaml.load(_only(raw, frozenset(keys)), Loader=_Loader)
        except yaml.YAMLError:
            meta = None
        if not isinstance(meta, dict):
            meta = None
    if meta is None:
        try:
            meta = yaml.load(raw, Loader=_Loader)  # a safe loader: plain data only
        except yaml.YAMLError as e:
            return Document(body=body, error=f"front matter is not valid YAML: {e}")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return Document(body=body, error="front matter is not a mapping")
    return Document(meta={str(k): v for k, v in meta.items()}, body=body)


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:(?:\s|$)")


def _only(raw: str, keys: frozenset[str]) -> str:
    """The lines of the top-level entries named in `keys`.

    An entry runs from its `key:` line at column 0 to the next such line; its indented lines
    and a block list's `- ` items belong to it. Anything unusual (flow mappings, anchors,
    directives) makes the caller fall back to reading everything.
    """
    kept, keep = [], False
    for line in raw.split("\n"):
        m = _TOP_KEY.match(line)
        if m:
            keep = m.group(1) in keys
        elif line[:1] not in ("", " ", "-", "#", "\t"):
            return raw
        if keep:
            kept.append(line)
    return "\n".join(kept)


def dump(meta: dict[str, Any]) -> str:
    """`meta` as a front matter block, emitted by the YAML library so no value can break out."""
    raw = yaml.dump(
        meta,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    # YAML indents continuation lines of a value, so neither marker can start a line inside;
    # check anyway, since the file's structure rests on it.
    if any(line in ("---", "...") for line in raw.split("\n")):
        raise ValueError("front matter would contain a document marker")
    return f"---\n{raw}---\n"


def compose(meta: dict[str, Any], body: str) -> str:
    """A whole article file: front matter, a blank line, the body, one final newline."""
    return dump(meta) + "\n" + body.strip("\n") + "\n"
