"""Knowledge base at scale: search p95 and a full reindex over 10,000 articles.

The articles are written by `bot.knowledge.article.build` itself (front matter, fields, steps,
solution), from a vocabulary whose word frequencies follow Zipf's law, so the index holds a few
very common words and a long tail of rare ones, as a real one does. Queries mix both. SQLite by
default; PostgreSQL too when SOPBOT_BENCH_POSTGRES_URL is set.
"""

from __future__ import annotations

import itertools
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Result, percentile, postgres_server, scratch_postgres
from bot.db import migrate
from bot.knowledge.article import ArticleData, Line, StepLine, build
from bot.knowledge.slug import article_path
from bot.services import knowledge
from bot.services.database import Database

AREA = "kb"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROCEDURES = ("printer", "vpn-access", "laptop", "email", "accounts", "network", "phone")
_DOMAIN_WORDS = (
    "printer toner paper jam tray vpn certificate token laptop battery screen keyboard email "
    "quota mailbox password reset account locked network wifi cable switch phone headset "
    "driver update restart error timeout disk memory backup server license badge door"
)
DOMAIN = tuple(_DOMAIN_WORDS.split())


def vocabulary(rnd: random.Random, size: int = 6000) -> list[str]:
    """Made-up words from syllables, plus the support-desk words people actually type."""
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words = set(DOMAIN)
    while len(words) < size:
        words.add("".join(rnd.choice(syllables) for _ in range(rnd.randint(2, 4))))
    ordered = sorted(words)
    rnd.shuffle(ordered)
    return ordered


def zipf_sampler(rnd: random.Random, words: list[str]):
    weights = [1 / (rank + 1) for rank in range(len(words))]
    cumulative = list(itertools.accumulate(weights))

    def sample(k: int) -> list[str]:
        return rnd.choices(words, cum_weights=cumulative, k=k)

    return sample


def write_articles(folder: Path, count: int, rnd: random.Random) -> list[str]:
    words = vocabulary(rnd)
    sample = zipf_sampler(rnd, words)
    titles = []
    for ticket in range(1, count + 1):
        procedure = PROCEDURES[ticket % len(PROCEDURES)]
        title = " ".join(sample(rnd.randint(3, 7))).capitalize()
        opened = NOW - timedelta(days=rnd.randint(1, 700))
        data = ArticleData(
            ticket_id=ticket,
            title=title,
            description=" ".join(sample(rnd.randint(25, 80))),
            procedure_id=procedure,
            procedure_title=procedure.title(),
            procedure_version="ab12" * 16,
            tags=(procedure, rnd.choice(DOMAIN)),
            reporter=f"Person {ticket % 40}",
            resolver=f"Person {ticket % 13}",
            opened=opened,
            resolved=opened + timedelta(hours=rnd.randint(1, 72)),
            fields=tuple(
                Line(f"field_{i}", f"Field {i}", " ".join(sample(rnd.randint(1, 4))))
                for i in range(rnd.randint(2, 5))
            ),
            steps=tuple(
                StepLine(f"s{i}", " ".join(sample(3)).capitalize(), "Person 1", opened)
                for i in range(rnd.randint(1, 4))
            ),
            solution=(Line("solution", "Solution", " ".join(sample(rnd.randint(20, 70)))),),
        )
        path = folder / article_path(procedure, ticket, title)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build(data).text, encoding="utf-8")
        titles.append(title)
    return words


def queries(rnd: random.Random, words: list[str], n: int) -> list[str]:
    """Half from the common head of the vocabulary, half from the long tail; 1 to 3 words."""
    head, tail = words[:200], words[200:]
    out = []
    for i in range(n):
        pool = head if i % 2 else tail
        out.append(" ".join(rnd.choice(pool) for _ in range(rnd.randint(1, 3))))
    return out


def messages(rnd: random.Random, words: list[str], n: int) -> list[str]:
    """First messages of new tickets: six to twelve words, common and rare mixed."""
    sample = zipf_sampler(rnd, words)
    return [" ".join(sample(rnd.randint(6, 12))) for _ in range(n)]


def _latencies(db: Database, fn, inputs: list[str]) -> list[float]:
    times = []
    for text in inputs:
        with db.reading() as session:
            start = time.perf_counter()
            fn(session, text)
            times.append((time.perf_counter() - start) * 1000)
    return times


def _backend(name: str, url: str, folder: Path, words: list[str], count: int) -> list[Result]:
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    results = []
    try:
        start = time.perf_counter()
        report = db.run(lambda s: knowledge.reindex(s, folder, NOW))
        seconds = time.perf_counter() - start
        assert report.added == count, report
        results.append(
            Result(
                AREA,
                f"reindex {count:,} articles from empty ({name})",
                round(seconds, 2),
                "s",
                "< 10 s",
                seconds < 10,
                "read, parse, insert, index, write index.md",
            )
        )
        start = time.perf_counter()
        assert db.run(lambda s: knowledge.refresh_if_changed(s, folder, NOW)) is None
        idle = (time.perf_counter() - start) * 1000
        results.append(
            Result(
                AREA,
                f"refresh check with nothing changed, {count:,} files ({name})",
                round(idle, 1),
                "ms",
                note="start-up and periodic refresh",
            )
        )
        rnd = random.Random(5)
        asked = queries(rnd, words, 400)
        _latencies(db, knowledge.search, asked[:20])  # warm the caches, as a running bot has
        times = _latencies(db, knowledge.search, asked)
        p95 = percentile(times, 95)
        results.append(
            Result(
                AREA,
                f"search p95 over {count:,} articles ({name})",
                round(p95, 1),
                "ms",
                "< 50 ms",
                p95 < 50,
                f"median {percentile(times, 50):.1f} ms; 400 queries of 1-3 words",
            )
        )
        said = messages(rnd, words, 200)
        times = _latencies(db, knowledge.suggest, said)
        p95 = percentile(times, 95)
        results.append(
            Result(
                AREA,
                f"deflection suggest p95 over {count:,} articles ({name})",
                round(p95, 1),
                "ms",
                note=f"median {percentile(times, 50):.1f} ms; 6-12 word messages",
            )
        )
    finally:
        db.dispose()
    return results


def run(quick: bool = False) -> list[Result]:
    count = 1_000 if quick else 10_000
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "knowledge"
        words = write_articles(folder, count, random.Random(11))
        results += _backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", folder, words, count)
        pg = postgres_server()
        if pg:
            with scratch_postgres(pg) as url:
                (folder / "index.md").unlink(missing_ok=True)
                results += _backend("PostgreSQL", url, folder, words, count)
    return results


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
