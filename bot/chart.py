"""The weekly chart for leads: opened vs resolved bars and the rework rate line, as PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.domain.languages import ENGLISH
from bot.domain.metrics import WeekPoint
from bot.render import render


@dataclass(frozen=True)
class Labels:
    """The words drawn on the chart; by default from `stats/chart_label.txt`."""

    title: str
    opened: str
    resolved: str
    rework: str
    empty: str

    @classmethod
    def from_templates(cls, language: str | None = None) -> Labels:
        """In `language`, else the language being spoken (the reader's)."""
        names = ("title", "opened", "resolved", "rework", "empty")
        return cls(**{n: render("stats/chart_label.txt", language, label=n) for n in names})


BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
GRID = (225, 225, 225)
OPENED = (70, 130, 200)
RESOLVED = (90, 170, 100)
REWORK = (210, 80, 60)


# Pillow's own font has no Chinese characters. Fonts that have them, where Debian, Ubuntu,
# Fedora and macOS install them (`apt install fonts-noto-cjk` or `fonts-wqy-microhei`); without
# one, Chinese labels would be drawn as boxes, so the chart falls back to English words.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


@cache
def font(size: int, cjk: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if cjk:
        path = cjk_font()
        if path is not None:
            return ImageFont.truetype(path, size)
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


@cache
def cjk_font() -> str | None:
    """The first font on this machine that draws Chinese, if any."""
    return next((p for p in CJK_FONTS if Path(p).is_file()), None)


def has_cjk(*texts: str) -> bool:
    """Whether any of `texts` has Chinese characters (which need a CJK font to be drawn)."""
    return any("\u3400" <= ch <= "\u9fff" for text in texts for ch in text)


def nice_top(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2, 5 x 10^n)."""
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def weekly_chart(
    weeks: Sequence[WeekPoint], *, width: int = 900, height: int = 480, labels: Labels | None = None
) -> bytes:
    """Render the chart as PNG bytes of exactly `width` x `height` pixels."""
    labels = labels or Labels.from_templates()
    cjk = has_cjk(*astuple(labels))
    if cjk and cjk_font() is None:
        labels = Labels.from_templates(ENGLISH)
        cjk = False
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, big = font(12, cjk), font(16, cjk)
    left, right, top, bottom = 56, 64, 48, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    draw.text((left, 14), labels.title, fill=INK, font=big)

    # Legend, right-aligned in the title row.
    x = width - right
    for text, colour in (
        (labels.rework, REWORK),
        (labels.resolved, RESOLVED),
        (labels.opened, OPENED),
    ):
        x -= int(draw.textlength(text, font=small)) + 8
        draw.text((x, 18), text, fill=INK, font=small)
        x -= 14
        draw.rectangle((x, 19, x + 10, 29), fill=colour)
        x -= 16

    top_count = nice_top(max([1, *(max(w.opened, w.resolved) for w in weeks)]))
    for i in range(6):  # grid and both axes' labels: counts left, percent right
        y = top + plot_h - plot_h * i // 5
        draw.line((left, y, left + plot_w, y), fill=GRID)
        count = top_count * i / 5
        text = f"{count:g}"
        draw.text((left - 6 - draw.textlength(text, font=small), y - 7), text, fill=INK, font=small)
        draw.text((left + plot_w + 6, y - 7), f"{20 * i}%", fill=REWORK, font=small)
    draw.line((left, top, left, top + plot_h), fill=INK)
    draw.line((left, top + plot_h, left + plot_w, top + plot_h), fill=INK)

    if not weeks or all(w.opened == 0 and w.resolved == 0 for w in weeks):
        text = labels.empty
        draw.text(
            ((width - draw.textlength(text, font=big)) / 2, top + plot_h / 2 - 8),
            text,
            fill=INK,
            font=big,
        )
    slot = plot_w / max(len(weeks), 1)
    bar = max(1.0, slot * 0.35)
    every = max(1, math.ceil(len(weeks) / max(1, plot_w // 60)))  # label spacing
    points: list[tuple[float, float] | None] = []
    for i, w in enumerate(weeks):
        centre = left + slot * i + slot / 2
        for offset, value, colour in ((-bar, w.opened, OPENED), (0.0, w.resolved, RESOLVED)):
            if value:
                y = top + plot_h - plot_h * value / top_count
                draw.rectangle(
                    (centre + offset, y, centre + offset + bar - 1, top + plot_h - 1), fill=colour
                )
        if w.rework_rate is None:
            points.append(None)
        else:
            points.append((centre, top + plot_h - plot_h * min(max(w.rework_rate, 0.0), 1.0)))
        if i % every == 0:
            text = w.start.strftime("%d %b")
            draw.text(
                (centre - draw.textlength(text, font=small) / 2, top + plot_h + 8),
                text,
                fill=INK,
                font=small,
            )

    # The rework line joins consecutive weeks that have a rate; a week without one breaks it.
    previous = None
    for point in points:
        if point is not None:
            if previous is not None:
                draw.line((previous, point), fill=REWORK, width=3)
            draw.ellipse((point[0] - 4, point[1] - 4, point[0] + 4, point[1] + 4), fill=REWORK)
        previous = point

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
