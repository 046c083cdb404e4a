"""Did a procedure change help? `/stats compare` and `sopbot stats --compare-versions` over
tickets written at the times they happened, on SQLite and PostgreSQL: two versions whose
difference is real, and two whose difference is noise."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from bot.cli import main
from bot.db.models import Satisfaction
from bot.services import comparison
from tests.db.test_stats import at, make_ticket
from tests.helpers.engine import LEAD, Harness, make_config, text_of

OLD, NEW, SAME = "a" * 64, "b" * 64, "c" * 64


def history(db, *, newer_hours: float, newer: str = NEW) -> None:
    """20 outages under OLD in early March (about 6 h each), then 20 under `newer` (about
    `newer_hours` each); every third reporter taps, OLD's mostly 👎, the newer's 👍."""
    rng = random.Random(7)

    def write(session, first: int, version: str, day: int, hours: float, happy: bool) -> None:
        for i in range(20):
            opened = at(day + i % 5, 9)
            took = timedelta(hours=rng.lognormvariate(0, 0.4) * hours)
            number = first + i
            make_ticket(
                session,
                number,
                "outage",
                version,
                status="resolved",
                opened_at=opened,
                resolved_at=opened + took,
                reopen_count=1 if i % 10 == 0 else 0,
                questions_asked=3 if version == OLD else 1,
            )
            if i % 3 == 0:
                session.add(
                    Satisfaction(
                        ticket_id=number,
                        round=0,
                        procedure_id="outage",
                        procedure_version=version,
                        reporter_id=2,
                        asked_at=opened + took,
                        happy=happy if i % 2 == 0 else not happy,
                        answered_at=opened + took,
                    )
                )

    with db.transaction() as session:
        write(session, 1, OLD, 2, 6.0, False)
        write(session, 21, newer, 16, newer_hours, True)


def test_a_version_that_really_is_faster_is_beyond_noise(db):
    history(db, newer_hours=2.0)
    with db.reading() as session:
        found = comparison.versions(session, "outage")
    data = found.as_dict()
    assert [v["version"] for v in data["versions"]] == [OLD, NEW]
    assert [v["tickets"] for v in data["versions"]] == [20, 20]
    assert data["versions"][0]["questions_per_ticket"] == 3
    assert data["versions"][1]["questions_per_ticket"] == 1
    diff = data["difference"]
    assert (diff["from"], diff["to"], diff["method"]) == (OLD, NEW, "bootstrap")
    speed = diff["median_resolve_seconds"]
    assert speed["beyond_noise"] is True and speed["high"] < 0
    assert diff["rework_rate"]["beyond_noise"] is False  # 2 of 20 on both sides


def test_two_versions_alike_differ_only_by_noise(db):
    history(db, newer_hours=6.0, newer=SAME)
    with db.reading() as session:
        diff = comparison.versions(session, "outage").as_dict()["difference"]
    assert diff["median_resolve_seconds"]["beyond_noise"] is False


@pytest.fixture
def h(database_url, tmp_path, now):
    harness = Harness(make_config(tmp_path, database_url), now)
    yield harness
    harness.close()


def test_leads_compare_versions_in_chat_with_a_chart(h):
    history(h.db, newer_hours=2.0)
    out = h.say(LEAD, "/stats compare outage")
    text = text_of(out)
    assert "outage: 2 versions, oldest first" in text
    assert f"{OLD[:8]} to {NEW[:8]}" in text
    assert "median time to resolve: -" in text and "beyond noise" in text
    assert "95% interval" in text
    (chart,) = [r for r in out.replies if r.attachment is not None]
    assert chart.attachment.content.startswith(b"\x89PNG")
    assert "/stats compare PROCEDURE" in text_of(h.say(LEAD, "/stats compare"))


def test_compare_versions_from_the_command_line_as_text_json_and_a_chart(
    db, database_url, tmp_path, capsys
):
    history(db, newer_hours=2.0)
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {database_url}\n")
    chart = tmp_path / "versions.png"
    args = ["stats", "--config", str(config), "--compare-versions", "outage"]
    assert main([*args, "--format", "json", "--chart", str(chart)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"procedure", "versions", "difference"}
    assert data["difference"]["median_resolve_seconds"]["beyond_noise"] is True
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "version aaaaaaaa" in text and "beyond noise" in text
    assert "(bootstrap: 2000 resamples, seed" in text
