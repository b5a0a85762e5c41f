"""AppTest of the Backtest page's daily bars (issue 17 item 3): the interval choice lists the
daily strategies, and a daily run reads day bars through the market-data service and shows its
results."""

from __future__ import annotations

from datetime import date

from app.container import services
from tests.ui.test_strategy_pages import _run_queued, fresh, market_server, page  # noqa: F401  (fixtures)


def test_backtest_page_runs_a_daily_cnc_strategy_on_day_bars(fresh):
    at = page("backtest.py").run()
    minute = at.selectbox(key="backtest_strategy").options
    assert "52-week-high breakout (daily, CNC)" not in minute
    at.radio(key="backtest_interval").set_value("day").run()
    assert not at.exception
    assert at.selectbox(key="backtest_strategy").options == ["52-week-high breakout (daily, CNC)"]
    at.number_input(key="backtest_param_lookback").set_value(20)
    at.number_input(key="backtest_param_exit_days").set_value(5)
    at.multiselect(key="backtest_symbols").set_value(["INFY", "SBIN", "TCS"])
    at.date_input(key="backtest_start").set_value(date(2016, 3, 1))
    at.date_input(key="backtest_end").set_value(date(2016, 9, 8))
    run_id = _run_queued(at)
    row = services().backtests.run_row(run_id)
    assert row["status"] == "complete" and row["strategy"] == "breakout_52w"
    assert 3 * 100 < row["bars"] < 3 * 200  # one bar a session, ~130 sessions each
    at.run()
    assert not at.exception
    assert at.multiselect(key="backtest_compare").value == [run_id]
    trades = next(d.value for d in at.dataframe if "Entry (IST)" in d.value.columns)
    assert len(trades) and trades["Entry (IST)"].str.contains("09:15").all()  # filled at the open


def test_backtest_page_runs_a_universe_leaving_out_symbols_the_master_lacks(fresh):
    at = page("backtest.py").run()
    at.radio(key="backtest_interval").set_value("day").run()
    at.selectbox(key="backtest_universe").set_value("NIFTY 500")
    at.date_input(key="backtest_start").set_value(date(2016, 3, 1))
    at.date_input(key="backtest_end").set_value(date(2016, 9, 8))
    at.button(key="backtest_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Backtest queued: 1 run(s)" in at.success[0].value
    assert "LTM" in at.warning[0].value and "RELINFRA" in at.warning[0].value
    [run] = services().backtests.runs()["symbols"]
    assert len(run) == 498 and "RELIANCE" in run and "LTM" not in run
