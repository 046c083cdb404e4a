"""The token never reaches a log; errors are reported where the leads read them."""

from __future__ import annotations

import io
import logging

import pytest

from bot.config import ChatConfig, Config
from bot.telegram.errors import (
    RedactSecrets,
    install_log_redaction,
    leads_chats,
    redact,
    secrets_of,
)

TOKEN = "123456789:AAHsecretPartOfTheToken_0123456789"


@pytest.fixture
def captured():
    """A logger with its own handler, as logging.basicConfig would set up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, handler, stream
    logger.removeHandler(handler)


def test_the_token_is_blanked_in_messages_arguments_and_tracebacks(captured):
    logger, handler, stream = captured
    handler.addFilter(RedactSecrets(TOKEN))
    logger.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise RuntimeError(f"connect failed for /bot{TOKEN}/sendMessage")
    except RuntimeError:
        logger.exception("request failed")
    out = stream.getvalue()
    assert TOKEN not in out
    assert "AAHsecretPartOfTheToken" not in out
    assert "/bot<token>/getMe" in out
    assert "connect failed for /bot<token>/sendMessage" in out


def test_the_secret_half_alone_is_blanked_too():
    assert redact("key AAHsecretPartOfTheToken_0123456789", secrets_of(TOKEN)) == "key <token>"


def test_no_token_means_nothing_to_blank():
    assert secrets_of("") == ()
    assert redact("text", secrets_of("")) == "text"


def test_installing_covers_every_handler_and_quiets_httpx(captured):
    logger, handler, stream = captured
    httpx_logger = logging.getLogger("httpx")
    before = httpx_logger.level
    try:
        install_log_redaction(TOKEN, logger)
        logger.warning("token is %s", TOKEN)
        assert stream.getvalue().strip() == "test.redaction WARNING token is <token>"
        assert httpx_logger.level == logging.WARNING
    finally:
        httpx_logger.setLevel(before)
        handler.filters.clear()


def test_errors_go_to_the_first_team_chat():
    config = Config(chats=(ChatConfig(-100, "Team"), ChatConfig(-200, "Other")), leads={1, 2})
    assert leads_chats(config) == [-100]


def test_without_team_chats_each_lead_is_told_privately():
    assert leads_chats(Config(leads=frozenset({7, 3}))) == [3, 7]


def test_refused_feed_requests_are_logged_at_most_once_a_minute_with_their_count(caplog):
    from bot.http.app import RefusalLog

    clock = [0.0]
    refusals = RefusalLog(every=60.0, clock=lambda: clock[0])
    with caplog.at_level("WARNING", logger="bot.http.app"):
        for _ in range(100):
            refusals.refused("/changes", ("10.0.0.9", 5000))
        clock[0] = 61.0
        refusals.refused("/changes", ("10.0.0.9", 5000))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "refused 1 request(s)" in lines[0] and "refused 100 request(s)" in lines[1]
    assert "10.0.0.9" in lines[1]
