"""Ranking search results, without a database: word weights, which words fetch, scores."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.knowledge import ranking
from bot.knowledge.ranking import BODY_PLACE, Stats
from bot.knowledge.text import query_terms


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    tags: str = ""
    procedure_id: str | None = None
    body: str = ""


def test_a_rare_word_weighs_more_than_one_in_every_article():
    terms = query_terms("roller printer")
    weights = Stats(total=1000, counts={"roller": 3, "printer": 1000}).weights(terms)
    assert weights["roller"] == pytest.approx(1.0, abs=0.001)
    assert 0.1 < weights["printer"] < 0.11


def test_a_small_base_does_not_treat_every_word_as_common():
    terms = query_terms("printer")
    assert Stats(total=2, counts={"printer": 2}).weights(terms)["printer"] > 0.9


def test_in_a_small_base_every_word_present_fetches_candidates():
    terms = query_terms("printer toner zebra")
    stats = Stats(total=10, counts={"printer": 10, "toner": 1, "zebra": 0})
    assert [t.word for t in stats.selective(terms)] == ["printer", "toner"]


def test_in_a_large_base_common_words_do_not_fetch_when_rarer_ones_are_there():
    terms = query_terms("printer toner cyan")
    stats = Stats(total=1000, counts={"printer": 900, "toner": 40, "cyan": 3})
    assert [t.word for t in stats.selective(terms)] == ["toner", "cyan"]


def test_with_only_common_words_the_two_rarest_fetch():
    terms = query_terms("printer paper office")
    stats = Stats(total=1000, counts={"printer": 900, "paper": 400, "office": 600})
    assert [t.word for t in stats.selective(terms)] == ["paper", "office"]


def test_the_index_ranks_only_when_few_rows_could_match():
    terms = query_terms("printer toner")
    assert Stats(5000, {"printer": 1500, "toner": 500}).worth_ranking(terms)
    assert not Stats(5000, {"printer": 1500, "toner": 501}).worth_ranking(terms)


def test_a_word_in_the_title_counts_fully_and_in_the_body_a_little_less():
    terms = query_terms("roller")
    rows = [Row(1, "Printer", body="Replaced the roller."), Row(2, "Roller worn")]
    scored = ranking.score(rows, terms, ranking.equal_weights(terms), {1: 0.0, 2: 0.0})
    assert [(s.row.id, s.score) for s in scored] == [(2, 1.0), (1, BODY_PLACE)]


def test_tags_and_the_procedure_count_as_the_title_does():
    terms = query_terms("hardware printer")
    rows = [Row(1, "Jam", tags="hardware", procedure_id="printer")]
    (scored,) = ranking.score(rows, terms, ranking.equal_weights(terms), {1: 0.0})
    assert (scored.score, scored.matched) == (1.0, 2)


def test_articles_covering_more_of_the_query_come_first_then_by_rank_then_by_id():
    terms = query_terms("toner cartridge")
    rows = [
        Row(1, "Toner low"),
        Row(2, "Toner cartridge ordered"),
        Row(3, "Toner warning"),
        Row(4, "Toner empty"),
    ]
    rank = {1: 0.5, 2: 0.1, 3: 0.9, 4: 0.5}
    scored = ranking.score(rows, terms, ranking.equal_weights(terms), rank)
    assert [s.row.id for s in scored] == [2, 3, 1, 4]
    assert [s.score for s in scored] == [1.0, 0.5, 0.5, 0.5]


def test_an_article_matching_no_word_is_not_scored():
    terms = query_terms("fuser")
    assert ranking.score([Row(1, "Toner")], terms, ranking.equal_weights(terms), {1: 1.0}) == []


def test_bounds_hold_the_querys_total_weight_between_floor_and_cap():
    terms = query_terms("printer")
    weights = {"printer": 0.2}
    row = [Row(1, "Printer")]
    assert ranking.score(row, terms, weights, {1: 0.0})[0].score == 1.0
    floored = ranking.score(row, terms, weights, {1: 0.0}, bounds=(1.0, 5.0))
    assert floored[0].score == 0.2


def test_only_articles_covering_half_the_weight_and_two_words_are_offered():
    terms = query_terms("printer jams floor")
    rows = [
        Row(1, "Printer jams on floor 3"),
        Row(2, "Printer"),
        Row(3, "Printer jams"),
    ]
    weights = {"printer": 0.2, "jams": 1.0, "floor": 1.0}
    scored = ranking.score(rows, terms, weights, {1: 0.0, 2: 0.0, 3: 0.0})
    assert [s.row.id for s in ranking.good_enough(scored, terms)] == [1, 3]


def test_a_one_word_message_needs_that_word_only():
    terms = query_terms("vpn")
    scored = ranking.score([Row(1, "VPN drops")], terms, {"vpn": 1.0}, {1: 0.0})
    assert [s.row.id for s in ranking.good_enough(scored, terms)] == [1]
