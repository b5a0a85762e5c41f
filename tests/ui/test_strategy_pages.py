"""AppTest for the Strategies and Backtest pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from tests.app.replay_market import start_later_replay, use_replay
from tests.fixtures_replay import stop_replay

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90


@pytest.fixture(scope="module")
def market_server(tmp_path_factory):
    """The connected market: a replay of 2016-09-09 (its history serves the sessions before it)."""
    from datetime import date

    server = start_later_replay(tmp_path_factory.mktemp("replay-0909"), date(2016, 9, 9))
    yield server
    stop_replay(server)


@pytest.fixture()
def fresh(monkeypatch, tmp_path, redis_url, market_server):
    use_replay(monkeypatch, market_server)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("DESK_BROKER", raising=False)
    reset_services()
    st.cache_resource.clear()
    from tests.fixtures_store import seed_instruments

    if services().store.instruments.count() == 0:
        seed_instruments(services().store)
    yield
    reset_services()
    st.cache_resource.clear()


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / name), default_timeout=TIMEOUT)


@pytest.mark.parametrize("name", ["strategies.py", "backtest.py"])
def test_page_renders_without_exception(fresh, name):
    at = page(name).run()
    assert not at.exception


def test_strategies_save_enables_and_enabling_without_symbols_errors(fresh):
    at = page("strategies.py").run()
    at.selectbox(key="strategies_pick").set_value("momentum").run()
    at.checkbox(key="strategies_enabled_momentum").check()
    at.text_input(key="strategies_symbols_momentum").set_value("")
    at.button(key="strategies_save").click().run()
    assert "universe is empty" in at.error[0].value
    at.text_input(key="strategies_symbols_momentum").set_value("infy, SBIN")
    at.number_input(key="strategies_param_momentum_lookback").set_value(20)
    at.button(key="strategies_save").click().run()
    assert not at.exception and "Saved Momentum (enabled)" in at.success[0].value
    cfg = services().strategies.config("momentum")
    assert cfg.enabled and cfg.symbols == ("INFY", "SBIN") and cfg.params["lookback"] == 20


def test_backtest_run_queues_a_job_then_shows_the_comparison(fresh):
    at = page("backtest.py").run()
    at.button(key="backtest_run").click().run()
    assert not at.exception
    assert "Backtest queued: 1 run(s)" in at.success[0].value
    bt = services().backtests
    [run_id] = list(bt.runs()["run_id"])
    assert bt.run_row(run_id)["status"] == "queued"
    bt.run(run_id)  # what the worker's run_backtest actor does
    at = page("backtest.py").run()
    assert not at.exception
    tables = [d.value for d in at.dataframe if "sharpe" in d.value.index]
    assert tables and "max_drawdown_pct" in tables[0].index and tables[0].shape[1] == 1


def test_backtest_with_no_data_in_range_shows_an_error_and_stores_nothing(fresh):
    from datetime import date

    at = page("backtest.py").run()
    at.date_input(key="backtest_start").set_value(date(2016, 1, 4))
    at.date_input(key="backtest_end").set_value(date(2016, 1, 8))
    at.button(key="backtest_run").click().run()
    assert "no bars for" in at.error[0].value
    assert services().backtests.runs().empty
