"""AppTest for the row actions (issue 14, item 5a: Kite's habits from a watchlist or scanner row).

From the Home watchlist, the Scanner's results and the Chart page: nothing picked → the buttons
are disabled; a picked row → Chart opens the Chart page on it, Buy/Sell open Orders & Positions
with ``ticket_prefill`` for the ticket, Analyse opens Analysis with the symbol in its field; an
index (NIFTY 50) can be charted but not bought. Runs the entrypoint (``st.navigation``), so a
``st.switch_page`` lands on the real page. Fresh SQLite store, the session's real Redis.

The row is picked the way the browser does it: the dataframe's selection state
(``{"selection": {"rows": [i], ...}}``) set under the table's widget key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from app.ui.row_actions import selected_key, split_key, ticket_prefill
from core.errors import ValidationError
from tests.scanner_bars import FALLING, seed_scanner_store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
WATCH = "NSE:INFY,NSE:TCS,NSE:NIFTY 50"


@pytest.fixture()
def desk(monkeypatch, tmp_path, redis_url) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_BROKER", "stub")
    monkeypatch.setenv("DESK_WATCHLIST", WATCH)
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_REPLAY_DATE", raising=False)
    reset_services()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    reset_services()
    st.cache_resource.clear()


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def _pick(at: AppTest, table_key: str, row: int) -> AppTest:
    at.session_state[table_key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def _header(at: AppTest) -> str:
    return at.header[0].value


def _ticket_shows(at: AppTest, symbol: str, side: str) -> None:
    """Orders & Positions opened for ``side symbol``: the hand-off is in ``ticket_prefill`` or,
    once the ticket has consumed it, in the ticket's own Symbol and Side widgets."""
    assert _header(at) == "Orders & Positions"
    if "ticket_prefill" in at.session_state:
        assert at.session_state["ticket_prefill"] == {"tradingsymbol": symbol, "exchange": "NSE", "side": side}
    else:
        assert at.selectbox(key="orders_symbol").value in (f"NSE:{symbol}", symbol)
        assert at.radio(key="orders_side").value == side


# ---- the pure helpers ---------------------------------------------------------------------------


def test_split_key_and_prefill_shapes():
    assert split_key("NSE:INFY") == ("NSE", "INFY")
    assert split_key(" infy ") == ("NSE", "INFY")
    assert split_key("NSE:NIFTY 50") == ("NSE", "NIFTY 50")
    assert ticket_prefill("NSE:TCS", "SELL") == {"tradingsymbol": "TCS", "exchange": "NSE", "side": "SELL"}


@pytest.mark.parametrize("key", ["", "NSE:", ":INFY"])
def test_malformed_key_is_refused_with_the_expected_form(key):
    with pytest.raises(ValidationError, match="NSE:INFY"):
        split_key(key)


def test_side_other_than_buy_or_sell_is_refused():
    with pytest.raises(ValidationError, match="BUY or SELL"):
        ticket_prefill("NSE:INFY", "SHORT")


def test_selected_key_is_none_without_a_pick_or_past_the_end():
    class Sel:
        def __init__(self, rows):
            self.selection = type("S", (), {"rows": rows})()

    keys = ["NSE:INFY", "NSE:TCS"]
    assert selected_key(Sel([1]), keys) == "NSE:TCS"
    assert selected_key(Sel([]), keys) is None
    assert selected_key(Sel([2]), keys) is None  # the list shrank since the pick
    assert selected_key(None, keys) is None


# ---- Home watchlist ------------------------------------------------------------------------------


def test_home_buttons_disabled_until_a_row_is_picked(desk):
    at = _app().run()
    assert not at.exception, at.exception
    for action in ("chart", "buy", "sell", "analyse"):
        assert at.button(key=f"home_row_{action}").disabled
    at = _pick(at, "home_watchlist_table", 1)
    assert not at.exception, at.exception
    for action in ("chart", "buy", "sell", "analyse"):
        assert not at.button(key=f"home_row_{action}").disabled
    assert any("NSE:TCS" in c.value for c in at.caption)


def test_home_row_chart_opens_the_chart_on_that_symbol(desk):
    at = _pick(_app().run(), "home_watchlist_table", 1)
    at.button(key="home_row_chart").click().run()
    assert not at.exception, at.exception
    assert _header(at) == "Chart"
    assert at.selectbox(key="chart_symbol").value == "NSE:TCS"
    assert at.query_params["symbol"] == "NSE:TCS"


def test_home_row_buy_opens_the_ticket_prefilled(desk):
    at = _pick(_app().run(), "home_watchlist_table", 0)
    at.button(key="home_row_buy").click().run()
    assert not at.exception, at.exception
    _ticket_shows(at, "INFY", "BUY")


def test_home_row_analyse_fills_the_analysis_symbol(desk):
    at = _pick(_app().run(), "home_watchlist_table", 1)
    at.button(key="home_row_analyse").click().run()
    assert not at.exception, at.exception
    assert _header(at) == "Analysis"
    assert at.text_input(key="analysis_symbol").value == "NSE:TCS"
    assert "analysis_prefill" not in at.session_state  # consumed once: a later visit starts clean


def test_home_index_row_charts_but_cannot_be_traded(desk):
    at = _pick(_app().run(), "home_watchlist_table", 2)  # NSE:NIFTY 50
    assert not at.button(key="home_row_chart").disabled
    assert at.button(key="home_row_buy").disabled and at.button(key="home_row_sell").disabled
    assert any("an index" in c.value for c in at.caption)


# ---- Scanner results and the Chart page ------------------------------------------------------


def _scanner_with_hits() -> AppTest:
    seed_scanner_store(services().store)
    at = _app().run()
    at.switch_page("pages/scanner.py").run()
    at.selectbox(key="scanner_builtin").set_value("rsi_oversold").run()
    at.button(key="scanner_run").click().run()
    job_id = at.session_state["scanner_job"]
    import workers.scans as actors

    job = services().store.jobs.get(job_id)
    actors.run_scan.fn(job_id, "rsi_oversold", "NIFTY 500", job.args["as_of_iso"])  # what the worker does
    at.run()
    assert not at.exception, at.exception
    return at


def test_scanner_row_sell_opens_the_ticket_prefilled(desk):
    at = _scanner_with_hits()
    assert at.button(key="scanner_sell").disabled  # nothing picked yet
    symbol = at.dataframe[0].value["symbol"].iloc[0]
    assert symbol in {i.tradingsymbol for i in FALLING}
    at = _pick(at, "scanner_results", 0)
    at.button(key="scanner_sell").click().run()
    assert not at.exception, at.exception
    _ticket_shows(at, symbol, "SELL")


def test_scanner_row_chart_adds_to_watchlist_and_opens_the_chart(desk):
    at = _scanner_with_hits()
    symbol = at.dataframe[0].value["symbol"].iloc[1]
    at = _pick(at, "scanner_results", 1)
    at.button(key="scanner_chart").click().run()
    assert not at.exception, at.exception
    assert _header(at) == "Chart"
    assert at.selectbox(key="chart_symbol").value == f"NSE:{symbol}"
    assert f"NSE:{symbol}" in services().watchlists.keys()


def test_chart_page_buy_opens_the_ticket_for_the_charted_symbol(desk):
    at = _app().run()
    at.switch_page("pages/chart.py").run()
    assert not at.exception, at.exception
    charted = at.selectbox(key="chart_symbol").value
    assert charted == "NSE:INFY"
    at.button(key="chart_row_buy").click().run()
    assert not at.exception, at.exception
    _ticket_shows(at, "INFY", "BUY")
