"""AppTest for the Backtest page's Sweep section: a grid from the from/to/step form is queued,
its runs (run here as the worker's ``run_sweep_run`` would) show as a ranked table and a
heatmap; a walk-forward shows its windows; cancel stops a sweep; a bad range is refused."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from app.container import services
from tests.ui.test_strategy_pages import fresh, market_server, page  # noqa: F401  (fixtures)

D1, D2 = date(2016, 9, 6), date(2016, 9, 8)


def _form(at: AppTest, fast: tuple[int, int, int], slow: tuple[int, int, int]) -> AppTest:
    at.selectbox(key="backtest_sweep_strategy").set_value("sma_cross").run()
    for name, (lo, hi, step) in (("fast", fast), ("slow", slow)):
        at.number_input(key=f"backtest_sweep_from_sma_cross_{name}").set_value(lo)
        at.number_input(key=f"backtest_sweep_to_sma_cross_{name}").set_value(hi)
        at.number_input(key=f"backtest_sweep_step_sma_cross_{name}").set_value(step)
    at.multiselect(key="backtest_sweep_symbols").set_value(["INFY"])
    at.date_input(key="backtest_sweep_start").set_value(D1)
    at.date_input(key="backtest_sweep_end").set_value(D2)
    return at


def _table(at: AppTest, column: str):
    """The first dataframe with ``column`` (AppTest's dataframes carry no widget key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _run_all(sid: str) -> None:
    """What the workers do: every queued run, in order (a walk-forward's test runs are released
    as their fits finish)."""
    sweeps = services().sweeps
    progress = True
    while progress:
        progress = False
        for r in sweeps.store.runs(sid):
            if r["status"] == "queued":
                sweeps.run(sid, r["run_no"])
                progress = True


def test_sweep_grid_queues_then_shows_ranked_results_and_a_heatmap(fresh):
    at = _form(page("backtest.py").run(), (3, 5, 2), (20, 30, 10))
    at.selectbox(key="backtest_sweep_metric").set_value("total_return_pct")
    at.button(key="backtest_sweep_run").click().run()
    assert not at.exception
    assert any("Sweep queued: 4 runs" in s.value for s in at.success)
    [row] = services().sweeps.sweeps()
    assert row["ranges"] == {"fast": [3, 5], "slow": [20, 30]} and row["metric"] == "total_return_pct"
    _run_all(row["sweep_id"])
    at.run()
    assert not at.exception
    table = _table(at, "Worker")
    assert len(table) == 4 and {"Fast", "Slow", "Total return", "Worker"} <= set(table.columns)
    ranked = services().sweeps.results(row["sweep_id"])
    assert list(table["Fast"]) == [str(v) for v in ranked["fast"]]  # best first, as the service ranks
    assert at.get("plotly_chart") and "backtest_sweep_cancel" not in [b.key for b in at.button]


def test_walk_forward_shows_each_windows_best_params_and_out_of_sample_metrics(fresh):
    at = _form(page("backtest.py").run(), (3, 5, 2), (20, 20, 1))
    at.radio(key="backtest_sweep_mode").set_value("walk_forward")
    at.number_input(key="backtest_sweep_fit").set_value(1)
    at.number_input(key="backtest_sweep_test").set_value(1)
    at.button(key="backtest_sweep_run").click().run()
    assert not at.exception and any("Sweep queued: 6 runs" in s.value for s in at.success)  # 2 windows × (2 + 1)
    [row] = services().sweeps.sweeps()
    _run_all(row["sweep_id"])
    at.run()
    windows = _table(at, "Best Fast")
    assert len(windows) == 2 and {"Best Fast", "In-sample Sharpe ratio", "Out-of-sample Total return"} <= set(windows.columns)
    assert list(windows["Test status"]) == ["complete", "complete"]


def test_cancel_button_cancels_the_queued_runs(fresh):
    at = _form(page("backtest.py").run(), (3, 5, 2), (20, 30, 10))
    at.button(key="backtest_sweep_run").click().run()
    [row] = services().sweeps.sweeps()
    at.button(key="backtest_sweep_cancel").click().run()
    assert not at.exception
    prog = services().sweeps.progress(row["sweep_id"])
    assert prog.status == "cancelled" and prog.counts == {"cancelled": 4}


def test_a_bad_range_is_refused_and_nothing_is_queued(fresh):
    at = _form(page("backtest.py").run(), (5, 3, 1), (20, 20, 1))
    at.button(key="backtest_sweep_run").click().run()
    assert not at.exception and "Fast: from (5.0) is above to (3.0); swap them" in at.error[0].value
    at = _form(at, (3, 3, 1), (20, 20, 1))
    at.button(key="backtest_sweep_run").click().run()
    assert "nothing to sweep" in at.error[0].value
    assert services().sweeps.sweeps() == []


def test_open_full_report_of_a_sweep_run_shows_its_equity_and_trades(fresh):
    """The trader picks the best run (the default) and opens it: a backtest run is queued with
    the run's params; once it completes (run here as the worker's run_backtest would) the page
    shows its full results (metric cards, trades CSV), with the sweep run's return."""
    at = _form(page("backtest.py").run(), (3, 5, 2), (20, 30, 10))
    at.selectbox(key="backtest_sweep_metric").set_value("total_return_pct")
    at.button(key="backtest_sweep_run").click().run()
    [row] = services().sweeps.sweeps()
    _run_all(row["sweep_id"])
    at.run()
    best = services().sweeps.results(row["sweep_id"]).iloc[0]
    assert at.selectbox(key="backtest_sweep_open_pick").value == best["run_no"]
    at.button(key="backtest_sweep_open").click().run()
    assert not at.exception
    assert any(f"Run {best['run_no']} queued as a backtest" in s.value for s in at.success)
    bt = services().backtests
    [run_id] = list(bt.runs()["run_id"])
    assert bt.run_row(run_id)["params"]["fast"] == best["fast"] and bt.run_row(run_id)["sweep_id"] == row["sweep_id"]
    bt.run(run_id)  # the worker's run_backtest
    at.run()
    assert not at.exception
    assert any(s.value.startswith("Results — ") and f"run {best['run_no']}" in s.value for s in at.subheader)
    assert bt.run_row(run_id)["metrics"]["total_return_pct"] == pytest.approx(best["total_return_pct"])
    assert "backtest_trades_csv" in [b.key for b in at.get("download_button")]


def test_sweep_section_sweeps_the_daily_strategy_from_a_year_back(fresh):
    at = page("backtest.py").run()
    at.selectbox(key="backtest_sweep_strategy").set_value("breakout_52w").run()
    assert not at.exception
    start = at.date_input(key="backtest_sweep_start").value
    assert (at.date_input(key="backtest_sweep_end").value - start).days >= 365  # daily: a year of sessions
    at.number_input(key="backtest_sweep_from_breakout_52w_lookback").set_value(20)
    at.number_input(key="backtest_sweep_to_breakout_52w_lookback").set_value(40)
    at.number_input(key="backtest_sweep_step_breakout_52w_lookback").set_value(20)
    at.number_input(key="backtest_sweep_from_breakout_52w_exit_days").set_value(5)
    at.number_input(key="backtest_sweep_to_breakout_52w_exit_days").set_value(5)
    at.multiselect(key="backtest_sweep_symbols").set_value(["INFY", "SBIN"])
    at.date_input(key="backtest_sweep_start").set_value(date(2016, 3, 1))
    at.button(key="backtest_sweep_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Sweep queued: 2 runs" in s.value for s in at.success)
    [row] = services().sweeps.sweeps()
    _run_all(row["sweep_id"])
    assert services().sweeps.progress(row["sweep_id"]).counts == {"complete": 2}
    assert all(100 < r["bars"] < 2 * 200 for r in services().sweeps.store.runs(row["sweep_id"]))
