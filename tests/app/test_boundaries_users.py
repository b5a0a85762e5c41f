"""User names at the auth boundary (issue 16, item 6): NFKC-normalised, and a look-alike of an
existing user (Unicode TR39 skeleton) refused, through the real SQLite users table and Redis."""

from __future__ import annotations

import pytest

from app.ops.user_names import skeleton
from core.errors import ValidationError
from tests.app.boundaries import redis_snapshot, sql_snapshot
from tests.app.test_auth_service import PASSWORD, sql_users, svc  # noqa: F401


@pytest.mark.parametrize(("name", "existing"), [
    ("\u0430lice", "alice"),           # Cyrillic а
    ("\u0251lice", "alice"),           # Latin alpha ɑ
    ("AL\u0399CE", "alice"),           # Greek capital iota for I
    ("tr\u0430d\u0435r", "trader"),    # Cyrillic а and е
    ("ops-l", "ops-1"),                # l for 1
])
def test_look_alike_of_an_existing_user_is_refused_and_nothing_written(svc, sql_users, rds, name, existing):
    if existing != "alice":
        svc.add_user(existing, PASSWORD)
    before = (sql_snapshot(sql_users.engine), redis_snapshot(rds))
    with pytest.raises(ValidationError) as err:
        svc.add_user(name, PASSWORD)
    assert f"looks like the existing user {existing!r}" in str(err.value)
    assert (sql_snapshot(sql_users.engine), redis_snapshot(rds)) == before


def test_full_width_name_is_the_same_user_after_nfkc(svc, sql_users):
    assert svc.add_user("\uff41\uff4c\uff49\uff43\uff45", PASSWORD + "-2") is False  # ａｌｉｃｅ: alice's password changed
    assert sorted(sql_users.names()) == ["alice"]
    assert svc.sign_in("ＡＬＩＣＥ", PASSWORD + "-2").ok


def test_distinct_names_and_the_same_name_again_are_allowed(svc, sql_users):
    assert svc.add_user("bob", PASSWORD) is True
    assert svc.add_user("alice", PASSWORD + "-3") is False  # a password change, not a look-alike
    assert sorted(sql_users.names()) == ["alice", "bob"]


def test_skeleton_follows_tr39_classes():
    assert skeleton("\u0430lice") == skeleton("alice") != skeleton("alicf")


@pytest.mark.parametrize(("name", "fragment"), [
    (12345, "a user name is text"),
    ("a" * 65, "at most 64"),
    ("al\u200dice", "at most 64 letters, digits"),  # a zero-width joiner hidden inside
])
def test_bad_names_are_refused(svc, sql_users, name, fragment):
    before = sql_snapshot(sql_users.engine)
    with pytest.raises(ValidationError, match=fragment):
        svc.add_user(name, PASSWORD)
    assert sql_snapshot(sql_users.engine) == before
