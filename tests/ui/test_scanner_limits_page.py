"""AppTest: the Scanner page shows the parser's own message for a scan nested too deep or one
of constants only (issue 16), never an exception, and queues nothing.

The container's market is the default replay world; the store holds the scanner test bars
(``tests/scanner_bars.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from tests.scanner_bars import seed_scanner_store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "scanner.py")


@pytest.fixture()
def fresh(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_BROKER", "stub")
    monkeypatch.delenv("DESK_REPLAY_DATE", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    seed_scanner_store(services().store)
    yield
    reset_services()
    st.cache_resource.clear()


@pytest.mark.parametrize("expression,message", [
    ("(" * 300 + "close > 1" + ")" * 300, "column 65: expected at most 64 nested levels"),
    ("-" * 1500 + "close > 1", "column 65: expected at most 64 nested levels"),
    ("1 > 0", "The scan compares only constants; use a field like close"),
    ("close > 1e9", "Scientific notation is not supported; write 1000000000"),
])
def test_parse_error_text_is_shown_and_nothing_runs(fresh, expression, message):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="scanner_mode").set_value("Expression").run()
    at.text_area(key="scanner_expr").input(expression).run()
    assert not at.exception, at.exception
    errors = "\n".join(str(e.value) for e in at.error)
    assert message in errors and "RecursionError" not in errors
    assert services().store.jobs.recent(kind="scan") == []  # nothing queued
