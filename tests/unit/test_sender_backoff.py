"""How long the outbox's sender keeps trying a message Telegram does not take."""

from datetime import timedelta

from bot.services.outbox import GIVE_UP_AFTER
from bot.telegram.sender import MAX_BACKOFF, backoff, tried_for


def test_the_wait_doubles_up_to_five_minutes():
    assert [backoff(n).total_seconds() for n in range(5)] == [1, 2, 4, 8, 16]
    assert backoff(9) == backoff(500) == MAX_BACKOFF


def test_a_message_is_given_up_only_after_about_a_day_of_tries():
    assert tried_for(0) == timedelta()  # never tried: never given up, however old
    day_of_tries = next(n for n in range(10_000) if tried_for(n) >= GIVE_UP_AFTER)
    assert 280 <= day_of_tries <= 300  # five-minute waits, after the first few short ones
    assert GIVE_UP_AFTER <= tried_for(day_of_tries) < GIVE_UP_AFTER + MAX_BACKOFF
