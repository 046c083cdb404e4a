"""A Telegram Mini App's initData signs a person in only with Telegram's signature, and only
while it is fresh."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from bot.services.signin import check_init_data

TOKEN = "123456:ABC-bot-token"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def signed(fields: dict[str, str], token: str = TOKEN) -> str:
    """initData as Telegram builds it (HMAC-SHA256 keyed by HMAC("WebAppData", bot token))."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return urlencode(
        {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}
    )


def fields(at: datetime = NOW) -> dict[str, str]:
    user = {"id": 2, "first_name": "Ann", "last_name": "Member", "username": "ann"}
    return {"auth_date": str(int(at.timestamp())), "query_id": "AAH", "user": json.dumps(user)}


def test_telegram_signed_init_data_names_the_person():
    who = check_init_data(signed(fields()), TOKEN, NOW + timedelta(minutes=1))
    assert who is not None
    assert (who.user_id, who.name, who.username) == (2, "Ann Member", "ann")


def test_init_data_signed_with_another_bot_token_is_refused():
    assert check_init_data(signed(fields(), "999:other"), TOKEN, NOW) is None


def test_changed_init_data_is_refused():
    data = signed(fields()).replace("%22id%22%3A+2", "%22id%22%3A+1")
    assert "%22id%22%3A+1" in data
    assert check_init_data(data, TOKEN, NOW) is None


def test_old_init_data_is_refused():
    assert check_init_data(signed(fields()), TOKEN, NOW + timedelta(hours=2)) is None


def test_without_a_bot_token_nobody_signs_in_this_way():
    assert check_init_data(signed(fields(), ""), "", NOW) is None
