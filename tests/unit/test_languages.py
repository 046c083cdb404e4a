"""Whose language: Telegram's language tags, the team's and a chat's, and words per locale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.domain.languages import language_of, reader_language
from bot.render import render, speaking
from bot.words import duration, moment, number


@pytest.mark.parametrize("tag", ["zh", "zh-hans", "zh-CN", "zh-cn", "zh-sg", "ZH_cn", "zh-Hans-CN"])
def test_telegram_tags_for_simplified_chinese_give_zh_cn(tag):
    assert language_of(tag) == "zh-CN"


@pytest.mark.parametrize("tag", ["en", "en-US", "en-gb"])
def test_english_tags_give_english(tag):
    assert language_of(tag) == "en"


@pytest.mark.parametrize("tag", ["zh-hant", "zh-tw", "de", "", None])
def test_a_language_sopbot_does_not_speak_gives_the_team_default(tag):
    assert language_of(tag) is None
    assert reader_language(None, tag, "zh-CN") == "zh-CN"


def test_a_chosen_language_wins_over_the_telegram_app():
    assert reader_language("en", "zh-hans", "zh-CN") == "en"
    assert reader_language(None, "zh-hans", "en") == "zh-CN"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_team_and_each_chat_may_have_a_language(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "language: zh-cn\n"
            "chats:\n  - {id: -1, name: Ops}\n  - {id: -2, name: Dev, language: en}\n",
        ),
        env={},
    )
    assert config.language == "zh-CN"
    assert (config.chat_language(-1), config.chat_language(-2)) == ("zh-CN", "en")
    assert config.chat_language(-3) == "zh-CN"


def test_a_language_sopbot_does_not_speak_is_refused_in_the_config(tmp_path):
    with pytest.raises(ConfigError, match="language: expected one of en, zh-CN, got 'fr'"):
        load_config(write(tmp_path, "language: fr\n"), env={})


AT = datetime(2026, 11, 30, 15, 20, tzinfo=UTC)


def test_dates_durations_and_numbers_are_written_as_each_language_writes_them():
    assert moment(AT, lang="en") == "Mon 30 Nov, 15:20"
    assert moment(AT, lang="zh-CN") == "11月30日 周一 15:20"
    assert duration(timedelta(days=1, hours=2), lang="en") == "1 day 2 hours"
    assert duration(timedelta(days=1, hours=2), lang="zh-CN") == "1天2小时"
    assert duration(timedelta(minutes=45), lang="zh-CN") == "45分钟"
    assert number(1234.5, lang="zh-CN") == "1,234.5" and number(2.0, lang="en") == "2"


def test_words_follow_the_language_being_spoken_unless_a_call_names_one():
    assert render("words/status.txt", status="in_progress") == "in progress"
    with speaking("zh-CN"):
        assert render("words/status.txt", status="in_progress") == "处理中"
        assert render("words/status.txt", "en", status="in_progress") == "in progress"
        # Filters speak their template's language.
        assert render("words/refusal.txt", why="finished", number=3, d={"status": "closed"}) == (
            "工单 #3 已关闭"
        )
