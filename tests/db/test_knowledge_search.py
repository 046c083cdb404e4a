"""Searching the knowledge base (/kb) and suggesting articles for a new ticket.

Every test that takes `db` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.knowledge import (
    resolve,
    search,
    small_base,
    suggest,
)


@pytest.fixture
def kdir(tmp_path) -> Path:
    return tmp_path / "knowledge"


def test_search_finds_an_article_by_words_in_title_fields_and_solution(db, kdir, now):
    small_base(db, kdir, now)
    jam = "printer/1-printer-on-floor-3-jams.md"
    assert search(db, "jams")[0].path == jam  # title
    assert search(db, "LaserJet")[0].path == jam  # a collected field
    assert search(db, "pickup roller")[0].path == jam  # the solution
    assert search(db, "PICKUP Rôller")[0].path == jam  # case and accents do not matter
    assert search(db, "print")[0].path in (jam, "printer/4-toner-warning-on-the-colour-printer.md")
    assert {m.path for m in search(db, "certificate")} == {
        "network/2-vpn-disconnects-every-hour.md"
    }


def test_search_ranks_articles_covering_more_of_the_words_first(db, kdir, now):
    small_base(db, kdir, now)
    matches = search(db, "printer toner cartridge")
    assert matches[0].path == "printer/4-toner-warning-on-the-colour-printer.md"
    assert matches[1].path == "printer/1-printer-on-floor-3-jams.md"
    assert matches[1].score < matches[0].score
    assert "cyan toner cartridge" in matches[0].snippet


def test_search_text_with_query_syntax_is_taken_as_plain_words(db, kdir, now):
    small_base(db, kdir, now)
    for hostile in [
        '"',
        "NEAR(a b)",
        "title: x",
        "a AND OR NOT",
        "*",
        "-x",
        "x:*",
        "'",
        "!(",
        "&|",
    ]:
        assert isinstance(search(db, hostile), list)
    assert search(db, 'roller" OR "vpn') and search(db, "pickup' | 'x")[0].title.startswith("P")


def test_search_finds_words_in_any_script(db, kdir, now):
    resolve(db, kdir, now, 8, "Принтер не печатает", {}, "Перезагрузили сервер печати.")
    resolve(db, kdir, now, 9, "Café-Drucker streikt", {}, "Papierfach geleert.")
    assert search(db, "принтер")[0].title == "Принтер не печатает"
    assert search(db, "cafe drucker")[0].title == "Café-Drucker streikt"


def test_empty_and_stop_word_only_queries_find_nothing(db, kdir, now):
    small_base(db, kdir, now)
    assert search(db, "") == [] and search(db, " ?! ") == []
    assert search(db, "the and of") == []


def test_suggest_offers_the_article_that_matches_a_new_tickets_first_message(db, kdir, now):
    small_base(db, kdir, now)
    matches = suggest(db, "The printer on the 3rd floor jams all the time")
    assert matches and matches[0].path == "printer/1-printer-on-floor-3-jams.md"
    assert len(suggest(db, "VPN keeps disconnecting every hour")) >= 1


@pytest.mark.parametrize(
    "text",
    [
        "Can I get a new office chair?",
        "hello",
        "The coffee machine on floor 2 is broken",
        "Please order more printer paper for the kitchen and the meeting rooms",
        "",
    ],
)
def test_suggest_returns_nothing_for_unrelated_text(db, kdir, now, text):
    small_base(db, kdir, now)
    assert suggest(db, text) == []
