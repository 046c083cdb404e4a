"""Article text: front matter and body for a resolved ticket, and hostile text kept inert."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge import frontmatter
from bot.knowledge.article import (
    ArticleData,
    Line,
    StepLine,
    build,
    history_of,
    previous_section,
)
from bot.knowledge.markdown import escape
from bot.knowledge.text import plain_text, query_terms, word_count, words

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESOLVED = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)


def article(**changes) -> ArticleData:
    data = {
        "ticket_id": 42,
        "title": "Printer on floor 3 jams",
        "description": "Every print job stops with a paper jam.",
        "procedure_id": "printer",
        "procedure_title": "Printer trouble",
        "procedure_version": "a" * 64,
        "tags": ("hardware", "printer"),
        "reporter": "Alice",
        "resolver": "Bob",
        "opened": OPENED,
        "resolved": RESOLVED,
        "fields": (Line("floor", "Floor", "3"), Line("model", "Model", "LaserJet 4000")),
        "steps": (StepLine("check_tray", "Check the paper tray", "Bob", OPENED),),
        "solution": (Line("solution", "Solution", "Replaced the worn pickup roller."),),
    }
    data.update(changes)
    return ArticleData(**data)


def test_front_matter_has_ticket_procedure_people_dates_and_tags():
    meta = frontmatter.parse(build(article()).text).meta
    assert meta["ticket"] == 42
    assert meta["procedure"] == "printer"
    assert meta["procedure_version"] == "a" * 64
    assert meta["tags"] == ["hardware", "printer"]
    assert meta["reporter"] == "Alice"
    assert meta["resolver"] == "Bob"
    assert meta["opened"] == OPENED
    assert meta["resolved"] == RESOLVED
    assert meta["revision"] == 1
    assert meta["revisions"] == [
        {"revision": 1, "resolved": RESOLVED, "resolver": "Bob", "procedure_version": "a" * 64}
    ]


def test_body_has_title_problem_fields_steps_and_solution_in_order():
    body = frontmatter.parse(build(article()).text).body
    assert body.startswith("# Printer on floor 3 jams\n")
    order = [
        "## Problem",
        "Every print job",
        "## Details",
        "**Floor:** 3",
        "LaserJet 4000",
        "## Steps taken",
        "- [x] Check the paper tray (Bob, 2026-03-02 09:00 UTC)",
        "## Solution",
        "Replaced the worn pickup roller.",
    ]
    positions = [body.index(piece) for piece in order]
    assert positions == sorted(positions)


def test_several_solution_fields_each_get_a_heading():
    data = article(solution=(Line("cause", "Cause", "Worn roller"), Line("fix", "Fix", "New one")))
    body = build(data).body
    assert "### Cause\n\nWorn roller" in body and "### Fix\n\nNew one" in body


def test_a_ticket_without_description_states_its_title_as_the_problem():
    body = build(article(description="")).body
    assert "## Problem\n\nPrinter on floor 3 jams" in body


def test_the_file_ends_with_one_newline_and_has_no_runs_of_blank_lines():
    text = build(article(fields=(), steps=())).text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\n\n\n" not in text


HOSTILE = [
    "</details><script>alert(1)</script>",
    "---\nstatus: hacked",
    "...\n---\nticket: 1",
    "# Heading\n## Another",
    "[click](javascript:alert(1)) ![img](http://x/y.png)",
    "<!-- hidden --> <img src=x onerror=alert(1)>",
    "`code` **bold** _it_ ~~strike~~ | table | $math$",
    "1. list\n- item\n> quote\n    indented code",
    "ticket: 999\nresolver: mallory",
    "line\r\nbreaks\rand\u2028separators\x00nul\u202eevil",
    "&lt;already escaped&gt; &amp;",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_in_every_place_stays_inert_and_front_matter_intact(hostile):
    data = article(
        title=hostile,
        description=hostile,
        reporter=hostile,
        resolver=hostile,
        tags=(hostile,),
        fields=(Line("x", hostile, hostile),),
        steps=(StepLine("s", hostile, hostile, OPENED),),
        solution=(Line("solution", "Solution", hostile),),
    )
    built = build(data)
    doc = frontmatter.parse(built.text)
    assert doc.error is None
    assert doc.meta["ticket"] == 42
    assert doc.meta["procedure"] == "printer"
    assert doc.meta["revision"] == 1
    assert set(doc.meta) == {
        "ticket",
        "title",
        "procedure",
        "procedure_version",
        "tags",
        "reporter",
        "resolver",
        "opened",
        "resolved",
        "revision",
        "revisions",
    }
    assert doc.meta["tags"] == [hostile]
    body = doc.body
    assert "<" not in body.replace("<!-- ", "")  # no raw HTML at all
    # No line of people's text starts a heading, rule, list, quote or setext underline.
    assert not re.search(r"^(#|---|===|- |\+ |> |\d+[.)] )", _user_lines(body), re.M)
    assert "](" not in body.replace("\\](", "")  # no link can form


def _user_lines(body: str) -> str:
    """The body without the lines the template itself writes."""
    own = re.compile(r"^(# |## |### |- \*\*|- \[x\] |Ticket #)")
    return "\n".join(line for line in body.split("\n") if not own.match(line))


def test_front_matter_round_trips_through_yaml_safe_load():
    text = build(article(title="Quote ' and \" and: colon # hash\n---")).text
    raw = text.split("---\n")[1]
    meta = yaml.safe_load(raw)
    assert meta == frontmatter.parse(text).meta
    assert meta["title"] == "Quote ' and \" and: colon # hash ---"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_any_text_keeps_the_front_matter_parseable(title, value):
    built = build(article(title=title, reporter=value, fields=(Line("f", "F", value),)))
    doc = frontmatter.parse(built.text)
    assert doc.error is None
    assert doc.meta["ticket"] == 42
    assert doc.meta["reporter"] == " ".join(doc.meta["reporter"].split())
    assert "\n" not in doc.meta["title"]


def test_escaped_text_reads_back_as_what_was_written():
    assert plain_text(escape("a_b *c* <d> & [e] \\ &lt; `x`")) == "a_b *c* <d> & [e] \\ &lt; `x`"


def test_a_file_without_front_matter_is_all_body():
    doc = frontmatter.parse("# Notes\n\nJust text.\n")
    assert doc.meta == {} and doc.error is None
    assert doc.body.startswith("# Notes")


def test_broken_front_matter_is_reported_and_the_rest_is_body():
    doc = frontmatter.parse("---\ntitle: [unclosed\n---\nBody\n")
    assert doc.error and doc.body == "Body\n"
    assert frontmatter.parse("---\nno end\n").error


def test_front_matter_that_is_not_a_mapping_is_reported():
    assert frontmatter.parse("---\n- a\n- b\n---\nx").error == "front matter is not a mapping"


def test_windows_line_endings_and_a_byte_order_mark_are_understood():
    doc = frontmatter.parse("\ufeff---\r\ntitle: T\r\n---\r\nBody\r\n")
    assert doc.meta == {"title": "T"} and doc.body == "Body\n"


def test_a_rewrite_carries_the_earlier_resolution_as_a_revision():
    first = build(article())
    old = frontmatter.parse(first.text)
    history, revision = history_of(old)
    assert revision == 1
    second = build(
        article(
            revision=2,
            history=tuple(history),
            previous=previous_section(old),
            solution=(Line("solution", "Solution", "Replaced the whole printer."),),
        )
    )
    doc = frontmatter.parse(second.text)
    assert [r["revision"] for r in doc.meta["revisions"]] == [1, 2]
    current, _, previous = doc.body.partition("## Previous resolutions")
    assert "Replaced the whole printer." in current
    assert "pickup roller" not in current
    assert "### Revision 1 — resolved 2026-03-02 11:30 UTC by Bob" in previous
    assert "#### Solution\n\nReplaced the worn pickup roller." in previous
    assert "\n# " not in previous  # the old title is not repeated as a top heading


def test_a_third_resolution_keeps_both_earlier_ones_newest_first():
    text = build(article()).text
    for n in (2, 3):
        old = frontmatter.parse(text)
        history, _ = history_of(old)
        solution = (Line("solution", "Solution", f"Fix number {n}"),)
        text = build(
            article(
                revision=n,
                history=tuple(history),
                previous=previous_section(old),
                solution=solution,
            )
        ).text
    doc = frontmatter.parse(text)
    assert doc.meta["revision"] == 3
    assert [r["revision"] for r in doc.meta["revisions"]] == [1, 2, 3]
    previous = doc.body.split("## Previous resolutions")[1]
    assert previous.index("### Revision 2") < previous.index("### Revision 1")
    assert doc.body.count("## Previous resolutions") == 1
    assert "Fix number 2" in previous and "pickup roller" in previous


def test_a_procedure_template_replaces_the_default(tmp_path):
    (tmp_path / "short.md.j2").write_text("# {{ title }}\n\nFixed: {{ solution[0].value }}\n")
    built = build(article(title="A *b*"), template="short.md.j2", templates_dir=tmp_path)
    assert built.template == "short.md.j2" and built.problem is None
    assert built.body == "# A \\*b\\*\n\nFixed: Replaced the worn pickup roller."


def test_a_procedure_template_can_extend_the_default_and_change_one_block(tmp_path):
    (tmp_path / "mine.md.j2").write_text(
        '{% extends "sopbot/article.md.j2" %}{% block steps %}## Checklist\n{% endblock %}'
    )
    body = build(article(), template="mine.md.j2", templates_dir=tmp_path).body
    assert "## Checklist" in body and "## Steps taken" not in body and "## Solution" in body


def test_a_procedure_template_cannot_print_user_text_unescaped(tmp_path):
    (tmp_path / "t.md.j2").write_text("{{ description }} {{ description ~ '' }}")
    body = build(article(description="<script>"), template="t.md.j2", templates_dir=tmp_path).body
    assert body == "&lt;script&gt; &lt;script&gt;"


@pytest.mark.parametrize("name", ["../evil.j2", "sub/dir.j2", "/etc/passwd", "missing.j2", ".x"])
def test_an_unusable_procedure_template_falls_back_to_the_default(tmp_path, name):
    built = build(article(), template=name, templates_dir=tmp_path)
    assert built.template == "article.md.j2"
    assert built.problem and name in built.problem
    assert "## Solution" in built.body


def test_a_procedure_template_runs_sandboxed(tmp_path):
    (tmp_path / "t.md.j2").write_text("{{ ''.__class__.__mro__ }}")
    built = build(article(), template="t.md.j2", templates_dir=tmp_path)
    assert built.problem and "## Solution" in built.body


def test_a_procedure_template_cannot_change_the_front_matter(tmp_path):
    (tmp_path / "t.md.j2").write_text("{{ history[0].clear() }}{{ history | length }}")
    history = ({"revision": 1, "resolver": "Alice"},)
    built = build(article(revision=2, history=history), template="t.md.j2", templates_dir=tmp_path)
    assert built.problem is None
    assert built.meta["revisions"][0] == {"revision": 1, "resolver": "Alice"}
    assert history == ({"revision": 1, "resolver": "Alice"},)


def test_query_words_are_folded_and_stop_words_dropped():
    assert [t.word for t in query_terms("How do I fix the Café printer?")] == [
        "fix",
        "cafe",
        "printer",
    ]
    assert query_terms("how to do it") == []
    assert words("/var/log/syslog foo_bar Straße") == [
        "var",
        "log",
        "syslog",
        "foo",
        "bar",
        "strasse",
    ]


def test_chinese_runs_are_cut_into_pairs_and_their_last_character():
    cut = ["hp", "打印", "印机", "机卡", "卡纸", "纸", "3", "楼"]
    assert words("HP打印机卡纸，3楼") == cut
    # Full-width letters are folded; traditional characters stay as they are.
    assert words("ＶＰＮ斷線") == ["vpn", "斷線", "線"]


def test_chinese_query_words_are_pairs_without_particles_sharing_one_weight():
    terms = query_terms("三楼的打印机又卡纸了 toner")
    assert [t.word for t in terms] == ["三楼", "打印", "印机", "卡纸", "toner"]
    assert [t.share for t in terms] == [0.25, 0.25, 0.25, 0.25, 1.0]
    assert [(t.word, t.prefix) for t in query_terms("纸")] == [("纸", True)]
    assert query_terms("的") == [] and [t.word for t in query_terms("目的")] == ["目的"]
    assert query_terms("打印")[0].found_in("我的打印机")
    assert query_terms("hp")[0].found_in("hp打印机")


def test_a_chinese_message_counts_about_one_word_per_two_characters():
    assert word_count("printer jams") == 2 and word_count("打印机") == 1
    assert word_count("打印机卡纸") == 2 and word_count("三楼的打印机又卡纸了") == 5
