"""Searching the knowledge base (/kb) and suggesting articles for a new ticket.

Every test that takes `db` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text

from bot.db.models import Article, Setting
from bot.knowledge.text import fold
from bot.services import knowledge
from bot.services.knowledge import reindexing, search_index
from bot.services.knowledge.search_index import Entry
from tests.helpers.knowledge import (
    NETWORK,
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


# --- Chinese, and Chinese beside English ----------------------------------------------------

JAM_ZH = "三楼的打印机一直卡纸"


def chinese_base(db, kdir, now):
    resolve(
        db,
        kdir,
        now,
        11,
        JAM_ZH,
        {"floor": "3", "model": "LaserJet 4000"},
        "更换了磨损的搓纸轮，之后打印正常。",
        description="每次打印都卡纸。",
    )
    resolve(
        db,
        kdir,
        now,
        12,
        "VPN每小时断开一次",
        {"device": "笔记本电脑"},
        "续期了过期的客户端证书。",
        procedure=NETWORK,
    )
    resolve(
        db, kdir, now, 13, "无线网络连不上", {"device": "手机"}, "重启了路由器。", procedure=NETWORK
    )
    resolve(
        db, kdir, now, 14, "無線網絡連不上", {"device": "手機"}, "重啟了路由器。", procedure=NETWORK
    )


def test_a_chinese_word_is_found_inside_a_chinese_sentence(db, kdir, now):
    chinese_base(db, kdir, now)
    for word in ["打印机", "卡纸", "三楼", "打印", "搓纸轮", "磨损", "证书"]:
        found = search(db, word)
        assert found, word
    assert search(db, "卡纸")[0].title == JAM_ZH  # in the title
    assert search(db, "搓纸轮")[0].title == JAM_ZH  # three characters, in the solution
    assert search(db, "证书")[0].title == "VPN每小时断开一次"
    assert search(db, "vpn")[0].title == "VPN每小时断开一次"  # a word run into Chinese text
    assert "搓纸轮" in search(db, "搓纸轮")[0].snippet
    assert search(db, "咖啡") == []
    # "复印机" (copier) shares "印机" with "打印机" (printer): a partial match, never a whole one.
    assert [m.score for m in search(db, "复印机")] == [0.5]


def test_one_chinese_character_alone_is_found_anywhere_in_a_word(db, kdir, now):
    chinese_base(db, kdir, now)
    assert search(db, "轮")[0].title == JAM_ZH  # the last character of 搓纸轮
    assert {m.title for m in search(db, "楼")} == {JAM_ZH}
    assert search(db, "的") == []  # a particle alone finds nothing, as "the" does


def test_simplified_and_traditional_characters_are_different_words(db, kdir, now):
    chinese_base(db, kdir, now)
    assert [m.title for m in search(db, "网络")] == ["无线网络连不上"]
    assert [m.title for m in search(db, "網絡")] == ["無線網絡連不上"]


def test_chinese_and_english_words_of_one_article_rank_it_first(db, kdir, now):
    chinese_base(db, kdir, now)
    small_base(db, kdir, now)
    resolve(db, kdir, now, 20, "打印机 toner 用完", {"floor": "2"}, "换了新的 toner cartridge。")
    matches = search(db, "打印机 toner")
    assert matches[0].title == "打印机 toner 用完" and matches[0].score == 1.0
    # The Chinese word and the English word weigh alike, however many characters it has.
    by_title = {m.title: m.score for m in matches}
    assert by_title[JAM_ZH] == by_title["Toner warning on the colour printer"] == 0.5
    english = {m.title: m.score for m in search(db, "toner cartridge")}
    assert english["打印机 toner 用完"] == english["Toner warning on the colour printer"] == 0.9


def test_suggest_offers_an_article_for_a_chinese_first_message(db, kdir, now):
    chinese_base(db, kdir, now)
    small_base(db, kdir, now)
    matches = suggest(db, "你好，三楼的打印机又卡纸了，怎么办？")
    assert matches and matches[0].title == JAM_ZH
    assert suggest(db, "我的VPN每小时都会断开")[0].title == "VPN每小时断开一次"
    assert suggest(db, "会议室的咖啡机坏了") == []
    assert suggest(db, "我想申请一把新的办公椅") == []


def test_an_index_cut_the_old_way_is_rebuilt_at_the_next_refresh(db, kdir, now):
    chinese_base(db, kdir, now)
    with db.transaction() as session:  # the folder as the running bot last saw it
        knowledge.refresh_if_changed(session, kdir, now)
    with db.transaction() as session:  # as an older sopbot indexed: a Chinese run is one word
        index = knowledge.index_for(session)
        rows = session.execute(select(Article.id, Article.title, Article.body)).all()
        index.put([Entry(r.id, old_words(r.title), "", old_words(r.body)) for r in rows])
        session.execute(delete(Setting).where(Setting.key == "kb.words"))
    assert search(db, "卡纸") == []
    with db.transaction() as session:
        assert knowledge.refresh_if_changed(session, kdir, now) is None  # no file changed
    assert search(db, "卡纸")[0].title == JAM_ZH
    with db.transaction() as session:  # once only
        assert reindexing.rebuild_if_words_changed(session) is None


def old_words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text)))


def test_counts_taken_from_the_database_statistics_rank_as_exact_counts_do(
    db, kdir, now, monkeypatch
):
    chinese_base(db, kdir, now)
    small_base(db, kdir, now)
    asked = ["printer toner", "打印机 toner", "证书", "vpn 断开", "print"]
    told = ["三楼的打印机又卡纸了", "The printer on the 3rd floor jams all the time"]
    before = [search(db, q) for q in asked] + [suggest(db, m) for m in told]
    with db.transaction() as session:  # PostgreSQL now knows each word's share of the articles
        session.execute(text("ANALYZE kb_articles"))
    monkeypatch.setattr(search_index, "ESTIMATE_FROM", 1)  # ... and uses it for every word
    after = [search(db, q) for q in asked] + [suggest(db, m) for m in told]
    assert after == before and all(before)
