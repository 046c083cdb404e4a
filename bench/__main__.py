"""Run every benchmark, print the table and write docs/performance.md.

    python -m bench            # full sizes (minutes)
    python -m bench --quick    # smaller sizes, for a smoke run
    python -m bench engine kb  # only some areas

PostgreSQL figures are included when SOPBOT_BENCH_POSTGRES_URL names a server.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result

AREAS = (
    "procedure_load",
    "engine",
    "e2e",
    "burst",
    "cost",
    "kb",
    "sweep",
    "audit",
    "feed",
    "api",
    "live",
)
# The `area` of each module's results, in table order (a module may name its area differently).
RESULT_AREAS = (
    "procedures",
    "engine",
    "e2e",
    "burst",
    "cost",
    "kb",
    "sweep",
    "audit",
    "feed",
    "api",
    "live",
)
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("areas", nargs="*", help=f"some of: {', '.join(AREAS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--no-write", action="store_true", help="do not write the doc")
    args = parser.parse_args(argv)
    results: list[Result] = []
    for area in args.areas or AREAS:
        try:
            module = importlib.import_module(f"bench.{area}")
        except ModuleNotFoundError as e:
            if e.name != f"bench.{area}":
                raise
            print(f"(no benchmark for {area} yet)", file=sys.stderr)
            continue
        start = time.perf_counter()
        print(f"running {area} ...", file=sys.stderr, flush=True)
        results.extend(module.run(quick=args.quick))
        print(f"  {area} took {time.perf_counter() - start:.1f}s", file=sys.stderr)
    table = render_table(results)
    print(table)
    if not args.no_write:
        ran = {r.area for r in results}
        kept = [row for row in _doc_rows() if row.split("|")[1].strip() not in ran]
        doc = render_doc(_merge(table, kept), args.quick, args.areas) + _analysis()
        DOC.write_text(doc, encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    return 0 if all(r.ok is not False for r in results) else 1


def render_table(results: list[Result]) -> str:
    lines = ["| area | measurement | figure | target | met | note |", "|---|---|---|---|---|---|"]
    for r in results:
        met = {True: "yes", False: "**no**", None: ""}[r.ok]
        figure = f"{r.figure:,.3f}".rstrip("0").rstrip(".") + f" {r.unit}"
        lines.append(f"| {r.area} | {r.name} | {figure} | {r.target} | {met} | {r.note} |")
    return "\n".join(lines)


def _doc_rows() -> list[str]:
    """The table rows already in the doc (a partial run keeps the other areas' figures)."""
    if not DOC.exists():
        return []
    text = DOC.read_text(encoding="utf-8")
    start = text.find("\n## ")
    lines = (text if start < 0 else text[:start]).splitlines()  # not the hand-written tables
    return [
        line
        for line in lines[2:]
        if line.startswith("| ") and line.split("|")[1].strip() in RESULT_AREAS
    ]


def _analysis() -> str:
    """The hand-written part of the doc (from its first `## ` heading on), kept as it is."""
    if not DOC.exists():
        return ""
    text = DOC.read_text(encoding="utf-8")
    start = text.find("\n## ")
    return "" if start < 0 else text[start:]


def _merge(table: str, kept: list[str]) -> str:
    header, rule, *rows = table.splitlines()
    order = {area: i for i, area in enumerate(RESULT_AREAS)}
    merged = sorted([*rows, *kept], key=lambda row: order.get(row.split("|")[1].strip(), 99))
    return "\n".join([header, rule, *merged])


_EARLIER = " (the other rows are from earlier runs)"


def render_doc(table: str, quick: bool, areas: list[str] | None = None) -> str:
    import sqlalchemy
    import telegram

    cpu = platform.processor() or platform.machine()
    return f"""# Performance

Measured by `make bench` (`python -m bench{" --quick" if quick else ""}`). The last run measured
{", ".join(areas) if areas else "every area"}{_EARLIER if areas else ""}, on
{datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}: {os.cpu_count()} cores ({cpu}),
Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__},
python-telegram-bot {telegram.__version__}, SQLite {__import__("sqlite3").sqlite_version}.
Every figure is the median of several runs; every ratio is against a floor measured in the same
run, because the machine is shared and noisy.

{table}
"""


if __name__ == "__main__":
    sys.exit(main())
