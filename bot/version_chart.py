"""The chart of `stats compare`: a procedure's versions side by side, as PNG bytes: median time
to resolve (with the p90 as a tick), rework rate and satisfaction, one bar per version."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw

from bot.chart import (
    BACKGROUND,
    GRID,
    INK,
    OPENED,
    RESOLVED,
    REWORK,
    cjk_font,
    font,
    has_cjk,
    nice_top,
)
from bot.domain.comparison import VersionFigures
from bot.domain.languages import ENGLISH
from bot.render import render

P90 = (120, 120, 120)


def versions_chart(
    procedure: str, versions: Sequence[VersionFigures], *, width: int = 900, height: int = 420
) -> bytes:
    """Three panels, one per figure; a version without data for a figure has no bar there."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    words = _labels(procedure)
    cjk = has_cjk(*words.values())
    if cjk and cjk_font() is None:  # Chinese without a font that draws it: English, not boxes
        words = _labels(procedure, ENGLISH)
        cjk = False
    small, big = font(12, cjk), font(16, cjk)
    draw.text((24, 14), words["title"], fill=INK, font=big)
    hours = [v.median_resolve_seconds / 3600 for v in versions if v.median_resolve_seconds]
    hours += [v.p90_resolve_seconds / 3600 for v in versions if v.p90_resolve_seconds]
    top_hours = nice_top(int(max([1.0, *hours])) + 1)
    panels: list[tuple[str, Callable[[VersionFigures], float | None], float, tuple, str]] = [
        (
            words["median"],
            lambda v: None if v.median_resolve_seconds is None else v.median_resolve_seconds / 3600,
            float(top_hours),
            OPENED,
            "h",
        ),
        (words["rework"], lambda v: v.rework_rate, 1.0, REWORK, "%"),
        (words["satisfaction"], lambda v: v.satisfaction, 1.0, RESOLVED, "%"),
    ]
    margin, gap, top, bottom = 48, 36, 56, 48
    panel_w = (width - 2 * margin - 2 * gap) / 3
    plot_h = height - top - bottom
    for p, (title, value_of, scale, colour, unit) in enumerate(panels):
        left = margin + p * (panel_w + gap)
        draw.text((left, top - 24), title, fill=INK, font=small)
        for i in range(5):
            y = top + plot_h - plot_h * i / 4
            draw.line((left, y, left + panel_w, y), fill=GRID)
            tick = scale * i / 4
            text = f"{tick * 100:.0f}%" if unit == "%" else f"{tick:g}h"
            draw.text(
                (left - 6 - draw.textlength(text, font=small), y - 7), text, fill=INK, font=small
            )
        draw.line((left, top + plot_h, left + panel_w, top + plot_h), fill=INK)
        slot = panel_w / max(len(versions), 1)
        bar = max(2.0, slot * 0.6)
        for i, v in enumerate(versions):
            centre = left + slot * i + slot / 2
            value = value_of(v)
            if value:  # none, or zero: no bar (the axis is the zero)
                y = top + plot_h - plot_h * min(max(value / scale, 0.0), 1.0)
                draw.rectangle(
                    (centre - bar / 2, y, centre + bar / 2, top + plot_h - 1), fill=colour
                )
            if p == 0 and v.p90_resolve_seconds is not None:
                y = top + plot_h - plot_h * min(v.p90_resolve_seconds / 3600 / scale, 1.0)
                draw.line((centre - bar / 2, y, centre + bar / 2, y), fill=P90, width=3)
            text = v.version[:8]
            draw.text(
                (centre - draw.textlength(text, font=small) / 2, top + plot_h + 8),
                text,
                fill=INK,
                font=small,
            )
    if not versions:
        text = words["empty"]
        draw.text(
            ((width - draw.textlength(text, font=big)) / 2, height / 2), text, fill=INK, font=big
        )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _labels(procedure: str, language: str | None = None) -> dict[str, str]:
    """The chart's words in `language`, else the reader's."""
    names = ("title", "median", "rework", "satisfaction", "empty")
    return {
        n: render("stats/compare_chart_label.txt", language, label=n, procedure=procedure)
        for n in names
    }
