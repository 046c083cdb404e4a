"""Article file names: a safe slug for any title, and paths that never leave the folder."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.slug import (
    FALLBACK,
    MAX_SLUG_BYTES,
    MAX_SLUG_CHARS,
    UnsafePath,
    article_path,
    folder_name,
    inside,
    slugify,
)


def test_plain_title_becomes_lower_case_words_joined_by_hyphens():
    assert slugify("Printer on Floor 3 is jammed!") == "printer-on-floor-3-is-jammed"


def test_accented_latin_letters_lose_their_accents():
    assert slugify("Crème brûlée à la Straße") == "creme-brulee-a-la-strasse"


def test_other_scripts_keep_their_letters():
    assert slugify("Принтер не печатает") == "принтер-не-печатает"
    assert slugify("プリンター故障") == "プリンター故障"


@pytest.mark.parametrize(
    "title",
    ["../../etc/passwd", "a/b\\c", "..", ".", "/", "x\x00y\x1b[31m", "name.md", "~/.ssh/keys"],
)
def test_slashes_dots_and_control_characters_never_survive(title):
    slug = slugify(title)
    assert "/" not in slug and "\\" not in slug and "." not in slug
    assert all(ord(c) >= 32 for c in slug)
    assert slug and not slug.startswith("-") and not slug.endswith("-")


@pytest.mark.parametrize("title", ["", "   ", "!!!", "🔥🔥", "\x00\x01", "___"])
def test_a_title_without_letters_gives_the_fallback(title):
    assert slugify(title) == FALLBACK


def test_a_very_long_title_is_cut_at_a_word_boundary():
    slug = slugify("word " * 200)
    assert len(slug) <= MAX_SLUG_CHARS
    assert slug.endswith("word")


def test_a_long_title_in_a_wide_script_stays_within_the_byte_limit():
    slug = slugify("漢" * 500)
    assert len(slug.encode()) <= MAX_SLUG_BYTES


def test_article_path_is_procedure_folder_then_ticket_number_and_slug():
    assert article_path("printer", 12, "Paper jam") == "printer/12-paper-jam.md"
    assert article_path("printer", 12, "Paper jam", 2) == "printer/12-paper-jam-2.md"


def test_a_reserved_windows_name_gets_a_suffix_as_a_folder():
    assert folder_name("con") == "con_"
    assert folder_name("../evil") == "evil"


def test_inside_accepts_a_path_under_the_folder(tmp_path):
    assert inside(tmp_path, "printer/1-x.md") == (tmp_path / "printer" / "1-x.md").resolve()


@pytest.mark.parametrize(
    "relative", ["../x.md", "/etc/passwd", "a/../../x.md", "", ".", "a\\..\\x.md", "a\nb.md"]
)
def test_inside_refuses_paths_that_leave_the_folder(tmp_path, relative):
    with pytest.raises(UnsafePath):
        inside(tmp_path / "knowledge", relative)


def test_inside_refuses_a_symlinked_folder_pointing_elsewhere(tmp_path):
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "knowledge" / "printer")
    with pytest.raises(UnsafePath):
        inside(tmp_path / "knowledge", "printer/1-x.md")


@given(st.text(max_size=400), st.integers(min_value=1, max_value=10**9))
def test_any_title_gives_a_path_inside_the_folder(title, ticket):
    rel = article_path("printer", ticket, title)
    folder, name = rel.split("/")
    assert folder == "printer"
    assert name.startswith(f"{ticket}-") and name.endswith(".md")
    assert name.count(".") == 1 and "\\" not in name
    assert len(name.encode()) < 255
    slug = name[len(f"{ticket}-") : -3]
    assert slug and slug == slug.strip("-")
