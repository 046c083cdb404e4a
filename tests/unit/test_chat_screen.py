"""The terminal chat's numbered buttons and what typed text presses (bot/chat.py)."""

from __future__ import annotations

from bot.chat import Screen, messages
from bot.services.messages import Button


def numbers(placed):
    return [(n, b.label) for n, b in placed]


def test_a_checklist_sent_again_keeps_the_numbers_of_the_steps_left():
    screen = Screen()
    a, b, c = Button("Done: A", "s:1:0"), Button("Done: B", "s:1:1"), Button("Done: C", "s:1:2")
    assert numbers(screen.show([a, b, c], 10)) == [(1, "Done: A"), (2, "Done: B"), (3, "Done: C")]
    assert numbers(screen.show([b, c], 11)) == [(2, "Done: B"), (3, "Done: C")]
    assert screen.find("1") is None and screen.find("3") == c


def test_the_pagers_later_keeps_its_number_from_page_to_page():
    screen = Screen()
    screen.show([Button("Later ▶", "a:p:2")], 5)
    placed = screen.show([Button("◀ Earlier", "a:p:1"), Button("Later ▶", "a:p:3")], 5)
    assert numbers(placed) == [(2, "◀ Earlier"), (1, "Later ▶")]
    assert screen.find("1").data == "a:p:3"


def test_the_next_questions_buttons_are_numbered_afresh():
    screen = Screen()
    screen.show([Button("Skip", "k:1:a")], 5)
    placed = screen.show([Button("read", "c:1:0"), Button("Skip", "k:1:b")], 6)
    assert numbers(placed) == [(1, "read"), (2, "Skip")]


def test_typed_words_press_a_button_by_its_label_without_signs_or_by_a_steps_title():
    screen = Screen()
    screen.show([Button("➡️ Continue", "d:c"), Button("Done: Access granted", "s:1:1")], 5)
    assert screen.find("continue").data == "d:c"
    assert screen.find("Access granted").data == "s:1:1"
    assert screen.find("something else") is None


def test_a_block_between_triple_quotes_is_one_message():
    typed = ["first", '"""', "one", "", "two", '"""', "", "last"]
    assert list(messages(iter(typed))) == ["first", "one\n\ntwo", "last"]
