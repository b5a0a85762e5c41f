"""AuthService on a real Redis server and a real SQLite users table (or a users file)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib

from app.adapters.auth_store import FileUserStore, SqlUserStore
from app.adapters.store import SqlStore
from app.ops.sign_in import FAIL_PREFIX, SESSION_PREFIX, AuthConfig, AuthService, AuthUnavailable, make_hash_line, main
from core.errors import ValidationError

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "s3cret-paper-desk"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _config(**kw) -> AuthConfig:
    base = dict(DESK_AUTH="on", DESK_ENV="test", DESK_SIGNIN_MAX_FAILURES=3, DESK_SIGNIN_LOCKOUT_MINUTES=15,
                DESK_SESSION_IDLE_MINUTES=30, DESK_SESSION_HOURS=8)
    base.update(kw)
    return AuthConfig(**base)


@pytest.fixture()
def sql_users(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'desk.db'}")
    yield SqlUserStore(store.engine)
    store.dispose()


@pytest.fixture()
def svc(sql_users, rds) -> AuthService:
    s = AuthService(_config(), sql_users, rds, clock=Clock())
    s.add_user("Alice", PASSWORD)
    return s


def test_config_auto_requires_sign_in_only_in_prod():
    assert not AuthConfig(DESK_AUTH="auto", DESK_ENV="dev").required
    assert AuthConfig(DESK_AUTH="auto", DESK_ENV="prod").required
    assert AuthConfig(DESK_AUTH="on", DESK_ENV="dev").required
    assert not AuthConfig(DESK_AUTH="off", DESK_ENV="prod").required
    with pytest.raises(ValueError, match="DESK_AUTH"):
        AuthConfig(DESK_AUTH="maybe")


def test_add_user_stores_scrypt_hash_not_password(svc, sql_users):
    record = sql_users.get("alice")
    assert record.password_hash.startswith("scrypt$") and PASSWORD not in record.password_hash
    assert PASSWORD not in repr(record) and "scrypt" not in repr(record)


def test_add_user_weak_password_raises_and_stores_nothing(svc, sql_users):
    with pytest.raises(ValidationError, match="at least 10"):
        svc.add_user("bob", "short")
    assert sql_users.get("bob") is None


def test_sign_in_right_password_opens_session_in_redis(svc, rds):
    result = svc.sign_in("ALICE ", PASSWORD)
    assert result.ok and result.user == "alice" and result.token
    assert result.expires_at == T0 + timedelta(minutes=30)
    keys = [k.decode() for k in rds.keys(SESSION_PREFIX + "*")]
    assert len(keys) == 1 and result.token not in keys[0]  # only a hash of the token is stored
    stored = rds.get(keys[0]).decode()
    assert result.token not in stored and PASSWORD not in stored
    assert result.token not in repr(result)
    check = svc.session(result.token)
    assert check.ok and check.user == "alice"


def test_sign_in_wrong_password_refused_with_tries_left(svc, rds):
    result = svc.sign_in("alice", "wrong-password-1")
    assert not result.ok and not result.token
    assert result.message.startswith("Wrong user name or password. 2 more wrong tries")
    assert rds.zcard(FAIL_PREFIX + "alice") == 1


def test_sign_in_unknown_user_same_message_as_wrong_password(svc):
    unknown, wrong = svc.sign_in("mallory", "whatever-pass"), svc.sign_in("alice", "whatever-pass")
    assert not unknown.ok and unknown.message == wrong.message


def test_sign_in_locked_after_n_wrong_passwords_even_with_right_one(svc):
    clock = svc.clock
    for i in range(2):
        assert not svc.sign_in("alice", f"wrong-password-{i}").locked
        clock.now += timedelta(seconds=10)
    third = svc.sign_in("alice", "wrong-password-3")
    assert third.locked and "locked for 15 more minutes" in third.message
    clock.now += timedelta(minutes=5)
    refused = svc.sign_in("alice", PASSWORD)
    assert not refused.ok and refused.locked and "locked for 10 more minutes" in refused.message
    clock.now += timedelta(minutes=10, seconds=1)
    assert svc.sign_in("alice", PASSWORD).ok


def test_successful_sign_in_clears_failures(svc, rds):
    svc.sign_in("alice", "wrong-password-1")
    assert svc.sign_in("alice", PASSWORD).ok
    assert rds.zcard(FAIL_PREFIX + "alice") == 0


def test_lockout_shared_across_service_instances_through_redis(svc, sql_users, rds):
    other = AuthService(_config(), sql_users, rds, clock=svc.clock)  # a second web process
    for i in range(3):
        (svc if i % 2 else other).sign_in("alice", f"wrong-password-{i}")
    assert other.sign_in("alice", PASSWORD).locked


def test_session_idle_timeout_expires_with_reason(svc):
    token = svc.sign_in("alice", PASSWORD).token
    svc.clock.now += timedelta(minutes=29)
    assert svc.session(token).ok  # touched: idle timer renewed
    svc.clock.now += timedelta(minutes=29)
    assert svc.session(token).ok
    svc.clock.now += timedelta(minutes=30)
    check = svc.session(token)
    assert check.state == "expired" and "no activity for 30 minutes" in check.message
    assert svc.session(token).state == "missing"  # deleted once expired


def test_session_lifetime_ends_active_session(svc):
    token = svc.sign_in("alice", PASSWORD).token
    for _ in range(8 * 3):
        svc.clock.now += timedelta(minutes=20)
        check = svc.session(token)
        if not check.ok:
            break
    assert check.state == "expired" and "at most 8 hours" in check.message
    assert svc.clock.now == T0 + timedelta(hours=8)


def test_sign_out_deletes_session(svc, rds):
    token = svc.sign_in("alice", PASSWORD).token
    assert svc.sign_out(token)
    assert svc.session(token).state == "missing"
    assert rds.keys(SESSION_PREFIX + "*") == []
    assert not svc.sign_out(token)


def test_forged_token_is_missing(svc):
    svc.sign_in("alice", PASSWORD)
    assert svc.session("forged-token").state == "missing"


def test_disabled_user_cannot_sign_in(svc, sql_users):
    sql_users.disable("alice", T0)
    assert not svc.sign_in("alice", PASSWORD).ok


def test_redis_down_raises_auth_unavailable_with_clear_message(sql_users):
    from tests.servers import free_port

    dead = redis_lib.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    s = AuthService(_config(), sql_users, dead, clock=Clock())
    s.add_user("alice", PASSWORD)
    with pytest.raises(AuthUnavailable, match="Sign-in is unavailable: ConnectionError reaching Redis"):
        s.sign_in("alice", PASSWORD)
    with pytest.raises(AuthUnavailable):
        s.session("some-token")
    assert s.sign_out("some-token") is False


def test_users_file_from_desk_users_signs_in_and_is_read_only(tmp_path, rds):
    path = tmp_path / "users"
    path.write_text("# desk users\n" + make_hash_line("Bob", PASSWORD) + "\n")
    s = AuthService(_config(DESK_USERS=str(path)), FileUserStore(path), rds, clock=Clock())
    assert s.users_configured()
    assert s.sign_in("bob", PASSWORD).ok
    assert not s.sign_in("bob", "wrong-password-1").ok
    with pytest.raises(ValidationError, match="does not write"):
        s.add_user("carol", PASSWORD)


def test_users_file_malformed_line_raises_with_line_number(tmp_path):
    path = tmp_path / "users"
    path.write_text("alice-without-hash\n")
    with pytest.raises(ValidationError, match="line 1 is not name:hash"):
        FileUserStore(path)


def test_no_users_configured_says_how_to_add_one(sql_users, rds):
    s = AuthService(_config(), sql_users, rds)
    assert not s.users_configured()
    assert "python -m app.ops.sign_in add-user NAME" in s.no_users_message()


def test_logs_never_contain_password_or_token(svc, caplog):
    caplog.set_level(logging.DEBUG)
    svc.sign_in("alice", "wrong-password-1")
    token = svc.sign_in("alice", PASSWORD).token
    svc.session(token)
    svc.sign_out(token)
    text = caplog.text
    assert "alice" in text
    assert PASSWORD not in text and "wrong-password-1" not in text and token not in text


def test_cli_hash_prints_users_file_line(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["hash", "Dave", "--stdin"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("dave:scrypt$") and PASSWORD not in line


def test_session_record_is_json_with_user_and_times(svc, rds):
    svc.sign_in("alice", PASSWORD)
    (key,) = rds.keys(SESSION_PREFIX + "*")
    data = json.loads(rds.get(key))
    assert data == {"user": "alice", "issued_at": T0.isoformat(), "last_seen": T0.isoformat()}
    assert 0 < rds.ttl(key) <= 9 * 3600
