"""Button data: what the bot writes it reads back; anything else is refused, never raised."""

from __future__ import annotations

import pytest

from bot.services import buttons as data


@pytest.mark.parametrize(
    "button",
    [
        data.Choice(12, 3, 1),
        data.Skip(12, 3),
        data.Confirm(999_999_999, 0),
        data.PickField(1, 2, 3),
        data.ChooseProcedure(40, 19),
        data.AssignMe(5),
        data.StepDone(5, 2, "0a9f"),
        data.Chase("sn", 77),
    ],
)
def test_what_the_bot_writes_it_reads_back(button):
    prefix, *parts = button.encode().split(":")
    assert prefix == button.prefix
    assert type(button).parse(parts) == button


@pytest.mark.parametrize(
    "parts",
    [
        ["²", "1", "1"],  # a digit to str.isdigit, not to us
        ["12", "3", "١"],  # Arabic-Indic digit
        ["12345678901234567890", "1", "1"],  # would overflow a database integer
        ["-1", "1", "1"],
        ["01", "1", "1"],  # the bot never writes leading zeros
        ["12", "3"],  # too few parts
        ["12", "3", "1", "9"],  # too many
        ["12", "", "1"],
        [" 12", "3", "1"],
    ],
)
def test_forged_choice_data_is_refused(parts):
    assert data.Choice.parse(parts) is None


def test_words_in_button_data_must_be_the_ones_the_bot_writes():
    assert data.Chase.parse(["on", "12"]) == data.Chase("on", 12)
    assert data.Chase.parse(["rm", "12"]) is None
    assert data.StepDone.parse(["5", "2", "ZZZZ"]) is None
    assert data.StepDone.parse(["5", "2", "0a9f0"]) is None


def test_data_longer_than_telegram_allows_is_never_written():
    class Long(data.Codec):
        prefix = "x" * 70

    with pytest.raises(ValueError, match="64 bytes"):
        Long().encode()
