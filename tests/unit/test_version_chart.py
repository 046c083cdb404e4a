"""The versions chart is a PNG of the requested size whatever the data, and draws each figure."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain.comparison import VersionFigures
from bot.version_chart import versions_chart
from tests.unit.test_chart import png_size


def figures(version: str, median: float | None, rework: float | None, happy: float | None):
    return VersionFigures(
        version=version,
        first_used="2026-03-02T09:00:00+00:00",
        tickets=10,
        resolved=8,
        median_resolve_seconds=median,
        p90_resolve_seconds=None if median is None else median * 2,
        rework_rate=rework,
        satisfaction=happy,
        satisfaction_answers=4,
        questions_per_ticket=2.0,
        median_approval_wait_seconds=None,
    )


@pytest.mark.parametrize(
    "versions",
    [
        [],
        [figures("a" * 64, None, None, None)],
        [figures("a" * 64, 6 * 3600, 0.1, 0.5), figures("b" * 64, 2 * 3600, 0.0, 1.0)],
        [figures(f"{i:064x}", i * 40000.0, i / 12, 1 - i / 12) for i in range(12)],
    ],
)
def test_the_chart_is_a_png_of_the_requested_size(versions):
    assert png_size(versions_chart("outage", versions, width=700, height=360)) == (700, 360)


def test_each_version_gets_a_bar_in_each_panel():
    data = versions_chart("outage", [figures("a" * 64, 6 * 3600, 0.5, 0.5)])
    image = Image.open(io.BytesIO(data)).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 16)}
    from bot.chart import OPENED, RESOLVED, REWORK

    assert {OPENED, REWORK, RESOLVED} <= colours


def test_without_a_font_that_draws_chinese_a_chinese_reader_gets_english_words_not_boxes(
    monkeypatch,
):
    from bot import version_chart
    from bot.render import speaking

    monkeypatch.setattr(version_chart, "cjk_font", lambda: None)
    versions = [figures("a" * 64, 6 * 3600, 0.5, 0.5)]
    english = versions_chart("outage", versions)
    with speaking("zh-CN"):
        assert versions_chart("outage", versions) == english
