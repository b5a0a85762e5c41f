"""The idle-bar backtester (issue 17): vectorised features and activity masks equal the
bar-by-bar computation on real bundled bars, and skipping idle bars changes nothing — the same
fills, charges, rejections and equity as the full engine that visits every bar."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.adapters import nse_data
from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.errors import ValidationError
from core.models import Instrument
from core.strategies import STRATEGIES, make_strategy
from tests.strategy_checks import assert_features_bar_by_bar, assert_masks_are_decide

#: The intraday (1-minute) strategies; the daily ones are tested in test_backtest_daily.py.
MINUTE = sorted(n for n, cls in STRATEGIES.items() if cls.interval == "minute")
SESSIONS = (date(2016, 8, 17), date(2016, 8, 18), date(2016, 8, 19))
SYMBOLS = ("INFY", "SBIN", "TATASTEEL")
#: Parameters that trade often on these bars (so the masks and the engines are exercised).
BUSY = {"sma_cross": {"fast": 3, "slow": 7}, "momentum": {"lookback": 3, "entry_roc_pct": 0.05, "trend": 10},
        "mean_reversion": {"period": 10, "entry_z": 1.5, "exit_z": 0.5}, "orb": {"range_minutes": 5},
        "stochrsi_ema": {"rsi_period": 5, "stoch_period": 5, "trend": 10, "oversold": 40, "overbought": 60}}


def session_bars(symbol: str) -> pd.DataFrame:
    b = nse_data.minute_bars_for(symbol)
    return b[np.isin(b.index.date, SESSIONS)]


@pytest.fixture(scope="module")
def universe() -> list[InstrumentBars]:
    inst = nse_data.load_instruments()
    out = []
    for sym in SYMBOLS:
        r = inst[(inst["tradingsymbol"] == sym) & (inst["segment"] == "NSE")].iloc[0]
        i = Instrument(int(r["instrument_token"]), int(r["exchange_token"]), sym, str(r["name"]), "NSE", "NSE",
                       "EQ", Decimal("0.05"), 1)
        out.append(InstrumentBars(i, session_bars(sym)))
    return out


@pytest.mark.parametrize("name", MINUTE)
def test_backtest_features_equal_bar_by_bar_on_real_bars(name):
    assert_features_bar_by_bar(make_strategy(name, BUSY[name]), session_bars("INFY").iloc[:750], every=7)


@pytest.mark.parametrize("name", MINUTE)
@pytest.mark.parametrize("busy", [False, True])
def test_backtest_active_masks_are_exactly_where_decide_signals(name, busy):
    bars = session_bars("SBIN")
    assert_masks_are_decide(make_strategy(name, BUSY[name] if busy else {}), bars, bars.index + pd.Timedelta(minutes=1))


def draw_params(draw, name: str) -> dict:
    out = {}
    for p in STRATEGIES[name].spec():
        if p.name == "quantity":
            out[p.name] = draw(st.integers(1, 2000))
        elif p.kind is int:
            out[p.name] = draw(st.integers(int(p.low), int(min(p.high, 40))))
        else:
            out[p.name] = draw(st.floats(p.low, min(p.high, max(p.low * 4, 3.0)), allow_nan=False))
    return out


@st.composite
def runs(draw):
    name = draw(st.sampled_from(MINUTE))
    cfg = dict(use_risk=draw(st.booleans()), depth=draw(st.booleans()),
               ticks_per_bar=draw(st.sampled_from([4, 7, 60])),
               capital=Decimal(draw(st.sampled_from(["50000.00", "200000.00", "1000000.00"]))))
    return name, draw_params(draw, name), cfg


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=runs())
def test_backtest_idle_bar_engine_equals_the_full_engine(universe, run):
    name, params, cfg = run
    try:
        strategy = make_strategy(name, params)
    except ValidationError:
        assume(False)
    idle = run_backtest(strategy, universe, BacktestConfig(**cfg))
    full = run_backtest(strategy, universe, BacktestConfig(**cfg, skip_idle=False))
    pd.testing.assert_frame_equal(idle.fills, full.fills)
    pd.testing.assert_frame_equal(idle.rejections, full.rejections)
    pd.testing.assert_frame_equal(idle.equity, full.equity, check_exact=True)
    assert pd.Series(idle.metrics).equals(pd.Series(full.metrics))  # NaN-aware
    assert idle.bars == full.bars == sum(len(u.bars) for u in universe)


def test_backtest_idle_bar_engine_equals_the_full_engine_with_busy_parameters(universe):
    for name, params in BUSY.items():
        strategy = make_strategy(name, params)
        idle = run_backtest(strategy, universe, BacktestConfig())
        full = run_backtest(strategy, universe, BacktestConfig(skip_idle=False))
        assert len(full.fills) > 10, f"{name}: too few fills to compare"
        pd.testing.assert_frame_equal(idle.fills, full.fills)
        pd.testing.assert_frame_equal(idle.equity, full.equity, check_exact=True)
        assert pd.Series(idle.metrics).equals(pd.Series(full.metrics))  # NaN-aware
