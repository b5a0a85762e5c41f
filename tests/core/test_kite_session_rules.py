"""core.kite_session_rules: expiry at the 06:00 IST boundary, checksum, redirect parsing."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from core.errors import ValidationError
from core.kite_session_rules import checksum, is_expired, request_token_from_redirect, session_expiry
from core.timeutil import IST, UTC


@pytest.mark.parametrize("login, expiry", [
    (datetime(2026, 3, 2, 5, 59, 59, tzinfo=IST), datetime(2026, 3, 2, 6, 0, tzinfo=IST)),
    (datetime(2026, 3, 2, 6, 0, 0, tzinfo=IST), datetime(2026, 3, 3, 6, 0, tzinfo=IST)),
    (datetime(2026, 3, 2, 6, 0, 1, tzinfo=IST), datetime(2026, 3, 3, 6, 0, tzinfo=IST)),
    (datetime(2026, 3, 2, 23, 59, 59, tzinfo=IST), datetime(2026, 3, 3, 6, 0, tzinfo=IST)),
    (datetime(2026, 3, 2, 0, 0, 0, tzinfo=IST), datetime(2026, 3, 2, 6, 0, tzinfo=IST)),
    (datetime(2026, 12, 31, 9, 0, tzinfo=IST), datetime(2027, 1, 1, 6, 0, tzinfo=IST)),
    # 00:30 UTC is 06:00 IST exactly: next day
    (datetime(2026, 3, 2, 0, 30, tzinfo=UTC), datetime(2026, 3, 3, 6, 0, tzinfo=IST)),
    (datetime(2026, 3, 2, 0, 29, 59, tzinfo=UTC), datetime(2026, 3, 2, 6, 0, tzinfo=IST)),
])
def test_session_expiry_at_boundaries_is_next_0600_ist(login, expiry):
    got = session_expiry(login)
    assert got == expiry and got.tzinfo == UTC


def test_session_expiry_naive_time_raises():
    with pytest.raises(ValidationError, match="timezone-aware"):
        session_expiry(datetime(2026, 3, 2, 9, 0))


def test_is_expired_at_exact_expiry_is_true():
    exp = datetime(2026, 3, 3, 6, 0, tzinfo=IST)
    assert not is_expired(exp, datetime(2026, 3, 3, 5, 59, 59, tzinfo=IST))
    assert is_expired(exp, exp)


def test_checksum_is_sha256_of_key_token_secret():
    assert checksum("k", "t", "s") == hashlib.sha256(b"kts").hexdigest()


def test_redirect_without_token_is_none():
    assert request_token_from_redirect({}) is None


def test_redirect_good_token_returned_list_or_str():
    assert request_token_from_redirect({"request_token": ["abcDEF123_-"], "status": ["success"]}) == "abcDEF123_-"
    assert request_token_from_redirect({"request_token": "abcdef12", "action": "login"}) == "abcdef12"


@pytest.mark.parametrize("token", ["abc def12", "x' OR 1=1", "a" * 500, "tok%00en12", "abc"])
def test_redirect_tampered_token_raises_without_echoing_it(token):
    with pytest.raises(ValidationError, match="malformed") as info:
        request_token_from_redirect({"request_token": token, "status": "success"})
    assert token not in str(info.value)


def test_redirect_failed_status_raises():
    with pytest.raises(ValidationError, match="log in to Kite again"):
        request_token_from_redirect({"request_token": "abcdef12", "status": "error"})
