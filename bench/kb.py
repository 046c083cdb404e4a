"""Knowledge base at scale: search p95 and a full reindex over 10,000 and 100,000 articles.

The articles are written by `bot.knowledge.article.build` itself (front matter, fields, steps,
solution), from vocabularies whose word frequencies follow Zipf's law, so the index holds a few
very common words and a long tail of rare ones, as a real one does. A third of the articles are
English, a third Chinese (words run together, with commas, full stops and particles, as Chinese
is written), a third Chinese with English words in it. Queries and first messages mix all three,
common and rare words alike. SQLite by default; PostgreSQL too when SOPBOT_BENCH_POSTGRES_URL is
set. Besides a reindex from empty, the one-off rebuild of an index cut by an older sopbot
(`rebuild_if_words_changed`) is timed.
"""

from __future__ import annotations

import itertools
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import delete, text

from bench.common import Result, percentile, postgres_server, scratch_postgres
from bot.db import migrate
from bot.db.models import Setting
from bot.knowledge.article import ArticleData, Line, StepLine, build
from bot.knowledge.slug import article_path
from bot.services import knowledge
from bot.services.database import Database
from bot.services.knowledge.reindexing import WORDS_KEY, rebuild_if_words_changed

AREA = "kb"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROCEDURES = ("printer", "vpn-access", "laptop", "email", "accounts", "network", "phone")
_DOMAIN_WORDS = (
    "printer toner paper jam tray vpn certificate token laptop battery screen keyboard email "
    "quota mailbox password reset account locked network wifi cable switch phone headset "
    "driver update restart error timeout disk memory backup server license badge door"
)
DOMAIN = tuple(_DOMAIN_WORDS.split())
_DOMAIN_WORDS_ZH = (
    "打印机 墨粉 纸张 卡纸 纸盒 证书 令牌 笔记本 电池 屏幕 键盘 邮箱 配额 密码 重置 账号 锁定 "
    "网络 无线 网线 交换机 电话 耳机 驱动 更新 重启 错误 超时 磁盘 内存 备份 服务器 许可证 门禁"
)
DOMAIN_ZH = tuple(_DOMAIN_WORDS_ZH.split())
PARTICLES = "的了在是和也就都"
SIZES = (10_000, 100_000)
TARGET_MS = {10_000: 50, 100_000: 100}


def vocabulary(rnd: random.Random, size: int = 6000) -> list[str]:
    """Made-up words from syllables, plus the support-desk words people actually type."""
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words = set(DOMAIN)
    while len(words) < size:
        words.add("".join(rnd.choice(syllables) for _ in range(rnd.randint(2, 4))))
    ordered = sorted(words)
    rnd.shuffle(ordered)
    return ordered


def vocabulary_zh(rnd: random.Random, size: int = 6000) -> list[str]:
    """Made-up Chinese words of two to four characters (most of two, as in Chinese) drawn from
    1,500 characters of the common block, plus the support-desk words people actually type."""
    characters = [chr(c) for c in rnd.sample(range(0x4E00, 0x7000), 1500)]
    words = set(DOMAIN_ZH)
    while len(words) < size:
        words.add("".join(rnd.choices(characters, k=rnd.choice((2, 2, 2, 3, 4)))))
    ordered = sorted(words)
    rnd.shuffle(ordered)
    return ordered


def zipf_sampler(rnd: random.Random, words: list[str]):
    weights = [1 / (rank + 1) for rank in range(len(words))]
    cumulative = list(itertools.accumulate(weights))

    def sample(k: int) -> list[str]:
        return rnd.choices(words, cum_weights=cumulative, k=k)

    return sample


class Writer:
    """Text in one of three languages: English, Chinese, or Chinese with English words in it."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.en = vocabulary(rnd)
        self.zh = vocabulary_zh(rnd)
        self._en = zipf_sampler(rnd, self.en)
        self._zh = zipf_sampler(rnd, self.zh)

    def text(self, language: int, k: int) -> str:
        """`k` words: language 0 English, 1 Chinese, 2 Chinese with one English word in four."""
        if language == 0:
            return " ".join(self._en(k))
        rnd, out = self.rnd, []
        for i, word in enumerate(self._zh(k)):
            if language == 2 and rnd.random() < 0.25:
                word = f" {self._en(1)[0]} "
            elif rnd.random() < 0.2:
                word += rnd.choice(PARTICLES)
            out.append(word)
            if i and rnd.random() < 0.15:
                out.append("，")
        return "".join(out).strip() + ("。" if language else "")

    def title(self, language: int, k: int) -> str:
        return self.text(language, k).rstrip("。").capitalize()


def write_articles(folder: Path, count: int, rnd: random.Random) -> Writer:
    writer = Writer(rnd)
    for ticket in range(1, count + 1):
        procedure = PROCEDURES[ticket % len(PROCEDURES)]
        language = ticket % 3
        sample = partial(writer.text, language)
        title = writer.title(language, rnd.randint(3, 7))
        opened = NOW - timedelta(days=rnd.randint(1, 700))
        data = ArticleData(
            ticket_id=ticket,
            title=title,
            description=sample(rnd.randint(25, 80)),
            procedure_id=procedure,
            procedure_title=procedure.title(),
            procedure_version="ab12" * 16,
            tags=(procedure, rnd.choice(DOMAIN)),
            reporter=f"Person {ticket % 40}",
            resolver=f"Person {ticket % 13}",
            opened=opened,
            resolved=opened + timedelta(hours=rnd.randint(1, 72)),
            fields=tuple(
                Line(f"field_{i}", f"Field {i}", sample(rnd.randint(1, 4)))
                for i in range(rnd.randint(2, 5))
            ),
            steps=tuple(
                StepLine(f"s{i}", writer.title(language, 3), "Person 1", opened)
                for i in range(rnd.randint(1, 4))
            ),
            solution=(Line("solution", "Solution", sample(rnd.randint(20, 70))),),
        )
        path = folder / article_path(procedure, ticket, title)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build(data).text, encoding="utf-8")
    return writer


def queries(rnd: random.Random, writer: Writer, n: int) -> list[str]:
    """1 to 3 words, half from the common head of a vocabulary, half from its long tail: in
    turn English, Chinese (run together or apart, as people type them), and both."""
    out = []
    for i in range(n):
        words = []
        for _ in range(rnd.randint(1, 3)):
            vocabulary = (writer.en, writer.zh, rnd.choice((writer.en, writer.zh)))[i % 3]
            words.append(rnd.choice(vocabulary[:200] if i % 2 else vocabulary[200:]))
        out.append(("" if i % 3 == 1 and rnd.random() < 0.5 else " ").join(words))
    return out


def messages(rnd: random.Random, writer: Writer, n: int) -> list[str]:
    """First messages of new tickets: six to twelve words, common and rare mixed, in each of the
    three languages in turn."""
    return [writer.text(i % 3, rnd.randint(6, 12)) for i in range(n)]


def _latencies(db: Database, fn, inputs: list[str]) -> list[float]:
    times = []
    for said in inputs:
        with db.reading() as session:
            start = time.perf_counter()
            fn(session, said)
            times.append((time.perf_counter() - start) * 1000)
    return times


def _backend(name: str, url: str, folder: Path, writer: Writer, count: int) -> list[Result]:
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
                "< 10 s" if count <= 10_000 else "",
                seconds < 10 if count <= 10_000 else None,
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
        asked = queries(rnd, writer, 600)
        if db.engine.dialect.name == "postgresql":
            times = _latencies(db, knowledge.search, asked)
            results.append(
                Result(
                    AREA,
                    f"search p95 over {count:,} articles right after the reindex ({name})",
                    round(percentile(times, 95), 1),
                    "ms",
                    note="before autovacuum has run (no statistics: every word counted; "
                    f"no visibility map); median {percentile(times, 50):.1f} ms",
                )
            )
            _analyze(db)
        _latencies(db, knowledge.search, asked[:20])  # warm the caches, as a running bot has
        times = _latencies(db, knowledge.search, asked)
        p95 = percentile(times, 95)
        target = TARGET_MS.get(count, 50)
        by_language = ", ".join(
            f"{language} {percentile(times[i::3], 95):.1f}"
            for i, language in enumerate(("English", "Chinese", "mixed"))
        )
        results.append(
            Result(
                AREA,
                f"search p95 over {count:,} articles, Chinese and English ({name})",
                round(p95, 1),
                "ms",
                f"< {target} ms",
                p95 < target,
                f"median {percentile(times, 50):.1f} ms; 600 queries of 1-3 words; "
                f"p95 by language: {by_language} ms",
            )
        )
        said = messages(rnd, writer, 210)
        times = _latencies(db, knowledge.suggest, said)
        p95 = percentile(times, 95)
        results.append(
            Result(
                AREA,
                f"deflection suggest p95 over {count:,} articles, Chinese and English ({name})",
                round(p95, 1),
                "ms",
                note=f"median {percentile(times, 50):.1f} ms; 6-12 word messages, a third each "
                "English, Chinese, mixed",
            )
        )
        seconds = _rebuild_seconds(db)
        results.append(
            Result(
                AREA,
                f"rebuild the index of {count:,} articles cut by an older sopbot ({name})",
                round(seconds, 2),
                "s",
                note="once, at the first refresh after an upgrade; from kb_articles, no file read",
            )
        )
    finally:
        db.dispose()
    return results


def _analyze(db: Database) -> None:
    """What autovacuum does within a minute or so of a bulk load: the table's statistics
    (PostgreSQL's search takes the counts of the commonest words from them)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE kb_articles"))


def _rebuild_seconds(db: Database) -> float:
    """How long the first refresh after an upgrade spends re-cutting every article's words."""
    with db.transaction() as session:
        session.execute(delete(Setting).where(Setting.key == WORDS_KEY))
    start = time.perf_counter()
    db.run(rebuild_if_words_changed)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[Result]:
    results = []
    for count in (1_000,) if quick else SIZES:
        results += _size(count)
    return results


def _size(count: int) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "knowledge"
        writer = write_articles(folder, count, random.Random(11))
        sqlite = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results += _backend("SQLite", sqlite, folder, writer, count)
        pg = postgres_server()
        if pg:
            with scratch_postgres(pg) as url:
                (folder / "index.md").unlink(missing_ok=True)
                results += _backend("PostgreSQL", url, folder, writer, count)
    return results


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        print(result)
