"""core.auth: scrypt hashing policy, constant-time verify, session expiry, lockout rule."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from core import auth
from core.errors import ValidationError

SALT = bytes(range(16))
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHEAP = auth.HashPolicy(n=2**10, r=8, p=1)


def test_hash_password_encodes_policy_salt_and_scrypt_digest():
    encoded = auth.hash_password("correct horse battery", salt=SALT)
    scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**15), "8", "1")
    parsed = auth.parse_hash(encoded)
    assert parsed.salt == SALT
    expected = hashlib.scrypt(b"correct horse battery", salt=SALT, n=2**15, r=8, p=1, dklen=32, maxmem=64 * 2**20)
    assert parsed.digest == expected
    assert "correct horse" not in encoded


def test_same_password_with_different_salts_hashes_differently():
    a = auth.hash_password("correct horse battery", salt=SALT, policy=CHEAP)
    b = auth.hash_password("correct horse battery", salt=bytes(16), policy=CHEAP)
    assert a != b
    assert auth.verify_password("correct horse battery", a) and auth.verify_password("correct horse battery", b)


def test_verify_password_right_true_wrong_false():
    encoded = auth.hash_password("correct horse battery", salt=SALT, policy=CHEAP)
    assert auth.verify_password("correct horse battery", encoded)
    assert not auth.verify_password("correct horse batterY", encoded)
    assert not auth.verify_password("", encoded)


def test_verify_password_uses_constant_time_compare(monkeypatch):
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    encoded = auth.hash_password("correct horse battery", salt=SALT, policy=CHEAP)
    assert not auth.verify_password("wrong password!", encoded)
    assert len(calls) == 1


@pytest.mark.parametrize("bad", ["", "plain", "scrypt$1024$8$1$AAAA$BBBB", "bcrypt$x$y$z$a$b", "scrypt$1000$8$1$" + "A" * 24 + "$" + "A" * 43])
def test_verify_password_malformed_hash_false_and_parse_raises(bad):
    assert not auth.verify_password("anything at all", bad)
    with pytest.raises(ValidationError, match="not a PaperDesk password hash"):
        auth.parse_hash(bad)


def test_hash_password_short_salt_raises():
    with pytest.raises(ValidationError, match="salt"):
        auth.hash_password("correct horse battery", salt=b"short")


def test_over_long_password_refused_without_hashing():
    encoded = auth.hash_password("correct horse battery", salt=SALT, policy=CHEAP)
    assert not auth.verify_password("x" * 5000, encoded)
    with pytest.raises(ValidationError, match="at most"):
        auth.check_new_password("x" * 5000)


@pytest.mark.parametrize("pw, msg", [("short", "at least 10"), ("Trader-One", "must not be the user name")])
def test_check_new_password_weak_raises(pw, msg):
    with pytest.raises(ValidationError, match=msg):
        auth.check_new_password(pw, "trader-one")


def test_check_username_canonical_lowercase_and_bad_chars_raise():
    assert auth.check_username("  Alice@Desk ") == "alice@desk"
    for bad in ("", "   ", "a b", "x" * 65, "semi;colon"):
        with pytest.raises(ValidationError):
            auth.check_username(bad)


def test_needs_rehash_true_for_weaker_parameters_only():
    assert auth.needs_rehash(auth.hash_password("correct horse battery", salt=SALT, policy=CHEAP))
    assert not auth.needs_rehash(auth.hash_password("correct horse battery", salt=SALT))
    assert auth.needs_rehash("garbage")


# ---- sessions ------------------------------------------------------------------------------------


def test_session_expires_after_idle_timeout():
    rule = auth.SessionRule(idle=timedelta(minutes=60), lifetime=timedelta(hours=12))
    seen = T0 + timedelta(hours=2)
    assert not rule.is_expired(T0, seen, seen + timedelta(minutes=59, seconds=59))
    assert rule.is_expired(T0, seen, seen + timedelta(minutes=60))
    assert "no activity for 1 hour" == rule.why_expired(T0, seen, seen + timedelta(minutes=61))


def test_session_expires_at_lifetime_even_when_active():
    rule = auth.SessionRule(idle=timedelta(minutes=60), lifetime=timedelta(hours=12))
    seen = T0 + timedelta(hours=11, minutes=50)
    assert rule.expires_at(T0, seen) == T0 + timedelta(hours=12)
    assert rule.is_expired(T0, seen, T0 + timedelta(hours=12))
    assert rule.why_expired(T0, seen, T0 + timedelta(hours=12)) == "sessions last at most 12 hours"
    assert rule.why_expired(T0, seen, seen) == ""


def test_session_rule_non_positive_raises():
    with pytest.raises(ValidationError):
        auth.SessionRule(idle=timedelta(0))


# ---- lockout -------------------------------------------------------------------------------------

RULE = auth.LockoutRule(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=15))


def test_lockout_counts_down_remaining_tries_before_limit():
    s = auth.lockout_state([T0], T0 + timedelta(seconds=1), RULE)
    assert (s.locked, s.failures, s.remaining) == (False, 1, 2)
    s = auth.lockout_state([T0, T0 + timedelta(minutes=1)], T0 + timedelta(minutes=1), RULE)
    assert (s.locked, s.remaining) == (False, 1)


def test_lockout_locks_after_n_failures_within_window_until_lockout_ends():
    fails = [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
    s = auth.lockout_state(fails, T0 + timedelta(minutes=10), RULE)
    assert s.locked and s.locked_until == T0 + timedelta(minutes=25) and s.remaining == 0
    assert auth.lock_message(s, T0 + timedelta(minutes=10)).endswith("locked for 15 more minutes.")
    assert auth.lockout_state(fails, T0 + timedelta(minutes=24, seconds=59), RULE).locked
    assert not auth.lockout_state(fails, T0 + timedelta(minutes=25), RULE).locked


def test_lockout_failures_spread_wider_than_window_do_not_lock():
    fails = [T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)]
    s = auth.lockout_state(fails, T0 + timedelta(minutes=20), RULE)
    assert not s.locked and s.failures == 2 and s.remaining == 1


def test_lockout_ignores_failures_in_the_future():
    s = auth.lockout_state([T0 + timedelta(hours=1)] * 3, T0, RULE)
    assert not s.locked and s.failures == 0
