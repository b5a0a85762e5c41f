"""core.backtest.sweep: grids against the strategy's schema, walk-forward windows, the best pick,
and a fit that never sees out-of-sample bars (real bundled minute bars)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.backtest.sweep import (MAX_RUNS, Window, best_run, metric_key, parameter_grid, sessions_of, value_range,
                                 walk_forward_runs, walk_forward_windows, window_bars)
from core.errors import ValidationError
from core.models import Instrument
from core.strategies import Momentum, SmaCross, make_strategy
from tests.bundled_bars import minute_bars

DAYS = [date(2016, 8, 1) + timedelta(days=i) for i in range(10)]


def test_grid_is_the_cartesian_product_in_order_with_defaults_and_base():
    g = parameter_grid(SmaCross, {"fast": [5, 10], "slow": [20, 30, 30.0]}, {"quantity": 7})
    assert g.names == ("fast", "slow") and g.skipped == 0
    assert [(r["fast"], r["slow"]) for r in g.runs] == [(5, 20), (5, 30), (10, 20), (10, 30)]
    assert all(r["quantity"] == 7 and isinstance(r["slow"], int) for r in g.runs)


def test_grid_leaves_out_combinations_that_break_the_cross_parameter_rule():
    g = parameter_grid(SmaCross, {"fast": [5, 20, 40], "slow": [10, 30]})
    assert [(r["fast"], r["slow"]) for r in g.runs] == [(5, 10), (5, 30), (20, 30)] and g.skipped == 3


@pytest.mark.parametrize(("ranges", "base", "match"), [
    ({}, None, "no parameters"),
    ({"fast": []}, None, "has no values"),
    ({"fast": "5,10"}, None, "must be a list"),
    ({"sped": [1]}, None, r"no parameter\(s\) \['sped'\]; known"),
    ({"fast": [1]}, None, "out of range"),
    ({"fast": [2.5]}, None, "whole number"),
    ({"fast": [float("nan")]}, None, "finite"),
    ({"fast": [True]}, None, "must be a number"),
    ({"fast": list(range(2, 40)), "slow": list(range(41, 55))}, None, "532 combinations; keep it to 500"),
    ({"fast": [60], "slow": [10, 20]}, None, "no combination"),
    ({"fast": [5]}, {"slow": 99999}, "out of range"),
    ({"fast": [5]}, {"bogus": 1}, r"no parameter\(s\) \['bogus'\]"),
])
def test_grid_bad_input_raises_a_clear_validation_error(ranges, base, match):
    with pytest.raises(ValidationError, match=match):
        parameter_grid(SmaCross, ranges, base)


def test_grid_cap_is_500_runs():
    assert MAX_RUNS == 500
    assert len(parameter_grid(Momentum, {"lookback": list(range(2, 27)), "quantity": list(range(1, 21))})) == 500


def test_value_range_is_inclusive_and_typed():
    assert value_range(5, 20, 5, kind=int) == [5, 10, 15, 20]
    assert value_range(0.5, 1.0, 0.25) == [0.5, 0.75, 1.0]
    assert value_range(5, 19, 5, kind=int) == [5, 10, 15]
    for args, match in [((1, 5, 0), "positive"), ((5, 1, 1), "swap"), ((0, 1000, 1), "keep it to 100"),
                        ((0, float("inf"), 1), "finite")]:
        with pytest.raises(ValidationError, match=match):
            value_range(*args)


def test_rolling_windows_fit_just_before_each_back_to_back_test():
    ws = walk_forward_windows(list(reversed(DAYS)) + DAYS[:2], 3, 2)  # any order, duplicates ignored
    assert [(w.fit_start.day, w.fit_end.day, w.test_start.day, w.test_end.day) for w in ws] == [
        (1, 3, 4, 5), (3, 5, 6, 7), (5, 7, 8, 9)]  # session 10 is left: not a whole test window


def test_anchored_windows_fit_from_the_first_session_and_step_overrides_the_stride():
    ws = walk_forward_windows(DAYS, 4, 2, anchored=True, step=3)
    assert [(w.fit_start.day, w.fit_end.day, w.test_start.day, w.test_end.day) for w in ws] == [
        (1, 4, 5, 6), (1, 7, 8, 9)]
    assert [w.index for w in ws] == [0, 1]


@pytest.mark.parametrize(("fit", "test", "step", "match"), [
    (0, 2, None, "fit window must be a whole number of sessions, at least 1"),
    (3, 0, None, "test window must be"),
    (3, 2, 0, "step must be"),
    (3, 1.5, None, "test window must be"),
    (8, 3, None, "10 session\\(s\\) with bars is too few"),
])
def test_windows_bad_input(fit, test, step, match):
    with pytest.raises(ValidationError, match=match):
        walk_forward_windows(DAYS, fit, test, step=step)


def test_a_window_whose_test_overlaps_its_fit_is_refused():
    with pytest.raises(ValidationError, match="may not overlap"):
        Window(0, DAYS[0], DAYS[3], DAYS[3], DAYS[5])
    with pytest.raises(ValidationError, match="ends before it starts"):
        Window(0, DAYS[3], DAYS[0], DAYS[4], DAYS[5])
    w = Window(2, DAYS[0], DAYS[2], DAYS[3], DAYS[4])
    assert Window.from_dict(w.as_dict()) == w


def test_walk_forward_run_count_is_capped():
    g = parameter_grid(SmaCross, {"fast": list(range(2, 12)), "slow": list(range(20, 45))})  # 250
    ws = walk_forward_windows(DAYS, 2, 2)  # 4 windows
    with pytest.raises(ValidationError, match="1004 runs; keep it to 500"):
        walk_forward_runs(g, ws)
    assert walk_forward_runs(g, ws[:1]) == 251


def test_best_run_by_metric_nan_ranks_last_and_the_first_wins_a_tie():
    ms = [{"sharpe": float("nan")}, {"sharpe": 1.5}, {"sharpe": 2.0}, {"sharpe": 2.0}, None]
    assert best_run(ms, "sharpe") == 2
    assert best_run([{"max_drawdown_pct": -5.0}, {"max_drawdown_pct": -1.0}], "max_drawdown_pct") == 1
    assert best_run([{"profit_factor": "inf"}, {"profit_factor": 3.0}], "profit_factor") == 0  # as stored
    assert metric_key({}, "sharpe") == float("-inf")
    with pytest.raises(ValidationError, match="cannot rank by 'luck'"):
        best_run(ms, "luck")
    with pytest.raises(ValidationError, match="no completed run"):
        best_run([], "sharpe")


def _universe() -> list[InstrumentBars]:
    out = []
    for token, sym in ((408065, "INFY"), (779521, "SBIN")):
        inst = Instrument(token, token // 256, sym, sym, "NSE", "NSE", "EQ", Decimal("0.05"), 1)
        out.append(InstrumentBars(inst, minute_bars(sym, until="2016-08-19")))
    return out


def _fit(universe: list[InstrumentBars], window: Window) -> list[dict]:
    """What a walk-forward's fit runs compute: every grid point on the fit sessions' bars."""
    cfg = BacktestConfig()
    bars = window_bars(universe, window.fit_start, window.fit_end)
    grid = parameter_grid(SmaCross, {"fast": [3, 8], "slow": [20, 40]})
    return [run_backtest(make_strategy("sma_cross", p), bars, cfg).metrics for p in grid.runs]


def test_fit_never_sees_out_of_sample_bars_poisoned_test_sessions_change_nothing():
    uni = _universe()
    sessions = sessions_of(uni)
    assert sessions == [date(2016, 8, d) for d in (16, 17, 18, 19)]
    [w0, w1] = walk_forward_windows(sessions, 2, 1)
    poisoned = []
    for ib in uni:  # every bar from the first test session on becomes a wild zig-zag
        b = ib.bars.copy()
        late = b.index.date >= w0.test_start
        wild = np.where(np.arange(late.sum()) % 2, 10.0, 10_000.0)
        for c in ("open", "high", "low", "close"):
            b.loc[late, c] = wild
        poisoned.append(InstrumentBars(ib.instrument, b))
    clean_fit, dirty_fit = _fit(uni, w0), _fit(poisoned, w0)
    assert clean_fit == dirty_fit  # exactly: the same floats, so the same best params
    assert best_run(clean_fit, "sharpe") == best_run(dirty_fit, "sharpe")
    # the poison is read where it may be: window 1 fits on the poisoned 18 Aug
    assert _fit(uni, w1) != _fit(poisoned, w1)


def test_window_bars_keeps_only_the_sessions_asked_for():
    uni = _universe()
    part = window_bars(uni, date(2016, 8, 17), date(2016, 8, 18))
    assert [ib.instrument.tradingsymbol for ib in part] == ["INFY", "SBIN"]
    assert all(set(ib.bars.index.date) == {date(2016, 8, 17), date(2016, 8, 18)} for ib in part)
    assert window_bars(uni, date(2016, 9, 1), date(2016, 9, 2)) == []
