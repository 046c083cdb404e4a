"""What kb_articles and the search index keep of an article file, without a database."""

from __future__ import annotations

from bot.knowledge import frontmatter
from bot.knowledge.record import from_file, index_text_of


def read(rel: str, text: str):
    return from_file(rel, frontmatter.parse(text))


def test_a_hand_written_file_is_titled_by_its_heading_and_filed_under_its_folder():
    values = read("network/vpn-notes.md", "# VPN drops **every** hour\n\nRenew it.\n")
    assert values["title"] == "VPN drops every hour"
    assert values["procedure_id"] == "network" and values["ticket_id"] is None
    assert values["body"] == "Renew it."  # the title has a column of its own


def test_the_first_heading_titles_a_file_even_below_other_text():
    assert read("a.md", "Intro\n# Fuser error 50\n")["title"] == "Fuser error 50"


def test_without_a_heading_the_file_name_is_the_title_and_a_top_level_file_has_no_procedure():
    values = read("spare_keys.md", "Behind the reception desk.\n")
    assert (values["title"], values["procedure_id"]) == ("Spare keys", None)


def test_front_matter_gives_title_tags_ticket_and_procedure():
    text = "---\ntitle: Paper jam\ntags: [hardware, 3]\nticket: 7\nprocedure: printer\n---\n# X\n"
    values = read("other/7-x.md", text)
    assert values["title"] == "Paper jam" and values["tags"] == "hardware 3"
    assert (values["ticket_id"], values["procedure_id"]) == (7, "printer")


def test_a_ticket_that_is_no_ticket_number_is_ignored():
    for ticket in ("true", "0", "-3", "2147483648", "'7'"):
        assert read("a.md", f"---\nticket: {ticket}\n---\n")["ticket_id"] is None


def test_a_title_too_long_for_its_column_is_cut():
    assert len(read("a.md", "---\ntitle: " + "x" * 400 + "\n---\n")["title"]) == 300


def test_the_index_gets_folded_words_and_the_procedure_as_a_tag():
    text = index_text_of("Crème Brûlée", "Dessert", "kitchen", "Heat /var/log!")
    assert text == {"title": "creme brulee", "tags": "dessert kitchen", "body": "heat var log"}
