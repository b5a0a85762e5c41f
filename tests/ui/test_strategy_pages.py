"""AppTest for the Strategies and Backtest pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from tests.app.replay_market import use_replay

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90


@pytest.fixture(scope="module")
def market_server(looping_replay):
    """The connected market: a replay of 2016-09-09 (its history serves the sessions before it)."""
    return looping_replay("2016-09-09")


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


def test_strategies_shows_a_daily_strategy_as_backtest_only_with_no_enable_control(fresh):
    """breakout_52w trades daily bars, which the live runner does not feed: the page says
    "Backtest only" (and why), draws no form, checkbox or Save for it, and lists it so."""
    at = page("strategies.py").run()
    at.selectbox(key="strategies_pick").set_value("breakout_52w").run()
    assert not at.exception
    [note] = at.info[:1]
    assert "Backtest only" in note.value and "daily bars" in note.value and "Backtest page" in note.value
    keys = [w.key for w in (*at.checkbox, *at.button, *at.text_input, *at.number_input)]
    assert not [k for k in keys if "breakout_52w" in str(k) or k == "strategies_save"], keys
    [table] = [d.value for d in at.dataframe if "Enabled" in d.value.columns]
    title = services().strategies.config("breakout_52w").title
    assert table.set_index("Strategy")["Enabled"].to_dict()[title] == "backtest only"
    at.selectbox(key="strategies_pick").set_value("momentum").run()  # a 1-minute one keeps its switch
    assert not at.exception and not [i for i in at.info if "Backtest only" in i.value]
    assert at.checkbox(key="strategies_enabled_momentum").value is False


def _run_queued(at: AppTest) -> str:
    at.button(key="backtest_run").click().run()
    assert not at.exception
    assert "Backtest queued: 1 run(s)" in at.success[0].value
    bt = services().backtests
    [run_id] = [r for r in bt.runs()["run_id"] if bt.run_row(r)["status"] == "queued"]
    bt.run(run_id)  # what the worker's run_backtest actor does
    return run_id


def test_backtest_run_shows_results_a_trader_reads(fresh):
    """Issue 17.5: human metric names with tooltips, equity vs NIFTY 50 buy & hold, drawdown,
    monthly returns, trades with IST times and charges, CSV download; no raw metric key."""
    from app.ui import labels

    at = page("backtest.py").run()
    run_id = _run_queued(at)
    at.run()  # the same session's next run (the live fragment triggers it when the run completes)
    assert not at.exception
    assert at.multiselect(key="backtest_compare").value == [run_id]
    cards = {m.label: m for m in at.metric}
    for key in ("net_pnl", "total_return_pct", "max_drawdown_pct", "sharpe", "win_rate_pct", "trades",
                "charges_pct_of_gross", "exposure_pct"):
        assert labels.label(key) in cards, f"no card for {key}: {list(cards)}"
        assert cards[labels.label(key)].proto.help == labels.help_text(key)
    assert "vs NIFTY 50" in cards["Total return"].delta
    text = " ".join(c.value for c in at.caption)
    assert "NIFTY 50 buy & hold" in text and "of gross P&L" in text and "of the time" in text
    import json

    figs = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec)
            for c in at.get("plotly_chart")}
    equity = figs["Equity (₹)"]
    assert [t["name"] for t in equity["data"]][-1] == "NIFTY 50 buy & hold"
    assert all(t.startswith("₹") for t in equity["layout"]["yaxis"]["ticktext"])
    assert any(",00," in t or len(t) < 9 for t in equity["layout"]["yaxis"]["ticktext"])  # lakh grouping
    assert any(k.startswith("Drawdown") for k in figs) and len(figs) == 3, list(figs)
    frames = [d.value for d in at.dataframe]
    monthly = next(f for f in frames if "Year" in f.columns)
    assert list(monthly.columns)[-1] == "Year" and monthly.iloc[0]["Year"].endswith("%")
    trades = next(f for f in frames if "Entry (IST)" in f.columns)
    assert {"Symbol", "Entry (IST)", "Charges", "Net", "Return"} <= set(trades.columns)
    assert trades["Entry (IST)"].str.endswith(" IST").all() and trades["Charges"].str.startswith("₹").all()
    shown = " ".join(str(v) for d in at.dataframe for v in [*d.value.columns, *d.value.index])
    for raw in ("total_return_pct", "sharpe", "max_drawdown_pct", "charges_pct_of_gross"):
        assert raw not in shown, f"raw metric key {raw} shown"
    assert at.get("download_button") and "trades" in str(at.get("download_button")[0].proto.label).lower()
    # a second run: it is shown when it completes; both side by side with human labels
    a = run_id
    b = _run_queued(at)
    at.run()
    at.multiselect(key="backtest_compare").set_value([a, b]).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "Sharpe ratio" in d.value.index)
    assert table.shape[1] == 2 and "Sharpe ratio" in table.index and "Charges ÷ gross" in table.index


def test_backtest_with_no_data_in_range_shows_an_error_and_stores_nothing(fresh):
    from datetime import date

    at = page("backtest.py").run()
    at.date_input(key="backtest_start").set_value(date(2016, 1, 4))
    at.date_input(key="backtest_end").set_value(date(2016, 1, 8))
    at.button(key="backtest_run").click().run()
    assert "no bars for" in at.error[0].value
    assert services().backtests.runs().empty


def test_strategies_signals_show_ist_times_and_no_none(fresh):
    """A signal's bar time reads "09 Sep 2016 09:23 IST" (no ISO "+05:30"), a blank approval is "—"."""
    from datetime import UTC, datetime

    store = services().strategies.store
    bar = datetime(2016, 9, 9, 3, 53, tzinfo=UTC)  # 09:23 IST
    assert store.claim_signal("momentum", 408065, bar, "INFY", bar)
    store.record_signal("momentum", 408065, bar, side="BUY", quantity=1500, reason="breakout", approval_id=None)
    at = page("strategies.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value  # Recent signals
    row = table.iloc[0]
    assert row["Bar (IST)"] == "09 Sep 2016 09:23 IST"
    assert (row["Qty"], row["Approval"]) == ("1,500", "—")
    assert {"Symbol", "Side", "Qty", "Approval", "Reason"} <= set(table.columns)  # labels, not raw keys
    assert "+05:30" not in table.to_string() and "None" not in table.to_string()


def test_backtest_and_strategy_forms_label_parameters_in_words(fresh):
    """Parameter inputs read "Entry ROC %", not ``entry_roc_pct``; their keys keep the name."""
    from app.ui.labels import param_label

    assert [param_label(n) for n in ("entry_roc_pct", "stop_pct", "rsi_period", "fast")] == [
        "Entry ROC %", "Stop %", "RSI period", "Fast"]
    at = page("backtest.py").run()
    assert not at.exception
    shown = {n.key: n.label for n in at.number_input if n.key and n.key.startswith("backtest_param_")}
    assert shown and all("_" not in text for text in shown.values()), shown
    assert {k.removeprefix("backtest_param_"): v for k, v in shown.items()} == {
        k.removeprefix("backtest_param_"): param_label(k.removeprefix("backtest_param_")) for k in shown}
