"""The end-to-end and cost benchmarks import, and their rows render in the runner's table.

Nothing is timed here: the figures are made up, so the test takes milliseconds.
"""

from __future__ import annotations

import inspect

import pytest

from bench import burst, cost, e2e
from bench.__main__ import render_table


@pytest.mark.parametrize("module", [e2e, cost, burst])
def test_each_benchmark_offers_run_with_a_quick_switch(module):
    assert callable(module.run)
    assert inspect.signature(module.run).parameters["quick"].default is False


def _bot(rate: float, p50: float) -> dict:
    return {
        "closed": rate,
        "parallel": rate * 1.5,
        "p50": p50,
        "p99": p50 * 3,
        "messages": 120,
        "together": 144,
    }


def test_end_to_end_rows_render_with_ratios_against_the_echo_bot():
    echo = [_bot(100.0, 7.0), _bot(110.0, 6.5), _bot(90.0, 8.0)]
    sopbot = [_bot(85.0, 9.0), _bot(60.0, 12.0), _bot(80.0, 10.0)]
    rows = e2e.results(echo, sopbot, sopbot, runs=3, parallel=4)
    table = render_table(rows)
    assert all(r.area == "e2e" for r in rows)
    assert "| e2e | sopbot / echo, one person | 0.85 x | ≥ 0.8 | yes |" in table
    assert "sopbot: latency p99 over HTTP" in table
    assert "4 people" in table


def test_cost_rows_render_and_a_failed_stop_is_not_met():
    figures = cost.Figures(
        start_times=[1.2, 1.1, 1.4],
        idle_rss=[80.0, 82.0, 81.0],
        idle_cpu=0.0,
        loaded_rss=95.5,
        loaded_cpu=0.2,
        exits=[0, 0, -15],
        tickets=10_000,
        touches=300,
        fill_seconds=9.0,
        idle_seconds=10.0,
    )
    rows = {r.name: r for r in cost.results(figures)}
    table = render_table(list(rows.values()))
    assert rows["start-up to first getUpdates"].figure == 1.2
    assert rows["start-up to first getUpdates"].ok is True
    assert rows["memory after 10,000 tickets (VmRSS)"].ok is True
    assert rows["exit status after SIGTERM"].ok is False
    assert "| cost | exit status after SIGTERM | -15  | 0 | **no** |" in table


def test_a_partial_run_keeps_other_areas_rows_and_the_hand_written_part(tmp_path, monkeypatch):
    import bench.__main__ as runner
    from bench.common import Result

    doc = tmp_path / "performance.md"
    doc.write_text(
        "# Performance\n\nintro\n\n| area | measurement | figure | target | met | note |\n"
        "|---|---|---|---|---|---|\n| kb | search p95 | 7 ms | < 50 ms | yes |  |\n\n"
        "## What the figures mean\n\n| part | cost |\n|---|---|\n| audit write | 0.3 ms |\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(runner, "DOC", doc)
    kept = runner._doc_rows()
    assert kept == ["| kb | search p95 | 7 ms | < 50 ms | yes |  |"]
    table = render_table([Result("engine", "sqlite: messages/s", 700, "msg/s")])
    written = runner.render_doc(runner._merge(table, kept), False, ["engine"]) + runner._analysis()
    assert written.count("| audit write | 0.3 ms |") == 1
    assert written.index("| engine |") < written.index("| kb |") < written.index("## What")
