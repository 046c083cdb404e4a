"""Rendering: user text is escaped, long messages are split where Telegram accepts them."""

from __future__ import annotations

from bot.render import html_to_text, render, split_message


def test_user_text_is_escaped_in_every_message():
    text = render("chat/refused.html", ticket=None, reason="<b>x</b> & <script>")
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp;" in text


def test_long_messages_are_split_under_the_limit_without_breaking_entities():
    line = "a &amp; b " * 300
    parts = split_message("\n".join([line] * 5), limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert "".join(parts).replace("\n", "").count("&amp;") == line.count("&amp;") * 5
    assert all(not p.rstrip().endswith("&amp") for p in parts)


def test_html_is_shown_as_plain_text_in_the_terminal():
    assert html_to_text("<b>#1</b> a &lt;b&gt;") == "#1 a <b>"
