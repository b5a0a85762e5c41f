"""app.ui.refresh.BackgroundRefresh: inline first build, stale value served while a rebuild runs."""

import threading
import time

import pytest

from app.ui.refresh import BackgroundRefresh


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_first_read_and_a_new_key_build_inline_then_reads_share_the_value():
    calls = []
    cache = BackgroundRefresh(lambda key: calls.append(key) or f"{key}#{len(calls)}", max_age_s=60)
    assert cache.get("d1") == "d1#1"
    assert cache.get("d1") == "d1#1" and calls == ["d1"]
    assert cache.get("d2") == "d2#2"  # a new key never gets the old value


def test_an_old_value_is_served_while_one_rebuild_runs_in_the_background():
    release = threading.Event()
    calls = []

    def build(key):
        calls.append(key)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    cache = BackgroundRefresh(build, max_age_s=0.0)
    assert cache.get("k") == 1
    assert cache.get("k") == 1 and cache.get("k") == 1  # stale, no wait, one rebuild only
    _wait_for(lambda: len(calls) == 2)
    release.set()
    _wait_for(lambda: cache.get("k") == 2)
    assert len(calls) >= 2


def test_a_failed_rebuild_keeps_the_value_and_an_inline_failure_raises():
    state = {"fail": False}

    def build(key):
        if state["fail"]:
            raise RuntimeError("market unreachable")
        return key.upper()

    cache = BackgroundRefresh(build, max_age_s=0.0)
    assert cache.get("a") == "A"
    state["fail"] = True
    assert cache.get("a") == "A"
    time.sleep(0.1)
    assert cache.get("a") == "A"
    with pytest.raises(RuntimeError):
        cache.get("b")
    cache.clear()
    with pytest.raises(RuntimeError):
        cache.get("a")
