"""The weekly chart is a valid PNG of the requested size, whatever the data."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.chart import weekly_chart
from bot.domain.metrics import WeekPoint


def weeks(n: int, scale: int = 7) -> list[WeekPoint]:
    start = date(2026, 1, 5)
    return [
        WeekPoint(
            start + timedelta(weeks=i),
            (i * scale) % 23,
            (i * 5) % 19,
            None if i % 4 == 3 else (i % 5) / 5,
        )
        for i in range(n)
    ]


def png_size(data: bytes) -> tuple[int, int]:
    """Read the IHDR chunk by hand, checking its CRC, without trusting Pillow's reader."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(kind + body)
    return struct.unpack(">II", body[:8])


@pytest.mark.parametrize("count", [0, 1, 12, 104])
def test_chart_is_a_png_of_the_requested_size(count):
    data = weekly_chart(weeks(count), width=640, height=360)
    assert png_size(data) == (640, 360)
    image = Image.open(io.BytesIO(data))
    image.verify()


def test_default_size_and_large_counts():
    data = weekly_chart(weeks(12, scale=997))
    assert png_size(data) == (900, 480)


def test_chart_has_bars_in_the_opened_and_resolved_colours():
    image = Image.open(io.BytesIO(weekly_chart(weeks(6)))).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    assert (70, 130, 200) in colours and (90, 170, 100) in colours
