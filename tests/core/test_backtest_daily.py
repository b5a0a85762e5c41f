"""Daily swing strategies in the backtester (issue 17 item 3) on the bundled real NSE EOD bars:
vectorised features and activity masks equal the bar-by-bar computation, the idle-bar engine
equals the full engine, and CNC is the desk's: orders at the next session's open, T+1
settlement, the DP charge once per sell of held shares per day, the gatekeeper on."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from app.adapters import nse_data
from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.backtest.daily import DAY_SPAN, pre_open, session_bars, settlement_days
from core.backtest.ticks import BarTicks
from core.charges import NSE_EQUITY_SCHEDULES, dp_charge, schedule_for
from core.errors import ValidationError
from core.models import Instrument
from core.orders import Product
from core.risk import RiskLimits
from core.strategies import STRATEGIES, make_strategy
from core.timeutil import IST
from tests.strategy_checks import assert_features_bar_by_bar, assert_masks_are_decide

DAILY = sorted(n for n, cls in STRATEGIES.items() if cls.interval == "day")
SYMBOLS = ("INFY", "SBIN", "TATASTEEL", "ITC")
#: Parameters that trade often on two years of daily bars.
BUSY = {"breakout_52w": {"lookback": 30, "exit_days": 10}}


def daily_bars(symbol: str, start: str = "2021-01-01", end: str = "2023-01-01") -> pd.DataFrame:
    d = nse_data.load_daily()
    g = d[(d["symbol"] == symbol) & (d["date"] >= date.fromisoformat(start)) & (d["date"] < date.fromisoformat(end))]
    idx = pd.DatetimeIndex(pd.to_datetime(g["date"].to_numpy()), name="ts").tz_localize(IST)  # Kite: 00:00 IST
    return pd.DataFrame({c: g[c].to_numpy(float) for c in ("open", "high", "low", "close", "volume")}, index=idx)


def instrument(symbol: str) -> Instrument:
    inst = nse_data.load_instruments()
    r = inst[(inst["tradingsymbol"] == symbol) & (inst["segment"] == "NSE")].iloc[0]
    return Instrument(int(r["instrument_token"]), int(r["exchange_token"]), symbol, str(r["name"]), "NSE", "NSE",
                      "EQ", Decimal("0.05"), 1)


@pytest.fixture(scope="module")
def universe() -> list[InstrumentBars]:
    return [InstrumentBars(instrument(s), daily_bars(s)) for s in SYMBOLS]


def test_daily_strategies_are_registered_as_cnc():
    assert DAILY == ["breakout_52w"]
    s = make_strategy("breakout_52w")
    assert s.product is Product.CNC and s.params == {"quantity": 10, "lookback": 252, "exit_days": 50}


@pytest.mark.parametrize("name", DAILY)
@pytest.mark.parametrize("busy", [False, True])
def test_daily_features_equal_bar_by_bar_on_real_daily_bars(name, busy):
    bars = daily_bars("INFY", "2016-08-01", "2019-06-01")
    s = make_strategy(name, BUSY[name] if busy else {})
    assert s.features(bars).iloc[-1].notna().all(), "features never warm up: a weak test"
    assert_features_bar_by_bar(s, bars, every=5)


@pytest.mark.parametrize("name", DAILY)
@pytest.mark.parametrize("busy", [False, True])
def test_daily_active_masks_are_exactly_where_decide_signals(name, busy):
    bars = session_bars(daily_bars("SBIN", "2016-08-01", "2021-01-01"))
    assert_masks_are_decide(make_strategy(name, BUSY[name] if busy else {}), bars, bars.index + DAY_SPAN)


def test_session_bars_stamps_the_session_open_and_refuses_intraday_bars():
    bars = session_bars(daily_bars("ITC").iloc[:3])
    assert [t.time() for t in bars.index] == [time(9, 15)] * 3
    assert bars.index[0] + DAY_SPAN == datetime(2021, 1, 1, 15, 30, tzinfo=IST)
    minute = nse_data.minute_bars_for("ITC").iloc[:5]
    with pytest.raises(ValidationError, match="two bars on one date"):
        session_bars(minute)


def test_settlement_is_the_next_session_of_the_timeline():
    days = [date(2024, 10, 31), date(2024, 11, 4), date(2024, 11, 5)]  # 1 Nov: Muhurat only, not in the data
    assert settlement_days(days) == {days[0]: days[1], days[1]: days[2], days[2]: date(2024, 11, 6)}
    assert pre_open(days[1]) == datetime(2024, 11, 4, 9, 0, tzinfo=IST)


def test_daily_ticks_span_the_session_by_the_path_rule():
    bt = BarTicks(1, datetime(2021, 1, 4, 9, 15, tzinfo=IST), 100.0, 104.0, 99.0, 103.0, 6000, k=60,
                  tick_size=0.05, prev_close=100.0, day_open=100.0, span_s=int(DAY_SPAN.total_seconds()))
    assert bt.time(0) == datetime(2021, 1, 4, 9, 15, tzinfo=IST)
    assert bt.time(59) == datetime(2021, 1, 4, 15, 23, 45, tzinfo=IST)  # 59 × 375 min / 60
    p = bt.prices
    assert p[0] == 10000 and p[-1] == 10300 and p.min() == 9900 and p.max() == 10400
    assert int(np.argmin(p)) < int(np.argmax(p))  # an up day: open → low → high → close


@pytest.mark.parametrize("params", [{}, BUSY["breakout_52w"], {"lookback": 60, "exit_days": 5, "quantity": 700}])
def test_daily_idle_bar_engine_equals_the_full_engine(universe, params):
    s = make_strategy("breakout_52w", params)
    cfg = BacktestConfig(limits=RiskLimits(max_open_positions=2))
    idle = run_backtest(s, universe, cfg)
    full = run_backtest(s, universe, BacktestConfig(limits=cfg.limits, skip_idle=False))
    assert len(idle.fills) or not params, "no fills: a weak test"
    pd.testing.assert_frame_equal(idle.fills, full.fills)
    pd.testing.assert_frame_equal(idle.rejections, full.rejections)
    pd.testing.assert_frame_equal(idle.equity, full.equity)
    assert idle.metrics == full.metrics and idle.bars == full.bars == sum(len(u.bars) for u in universe)


def test_daily_cnc_fills_at_the_next_open_settles_t1_and_pays_dp_once_per_sell_day(universe):
    s = make_strategy("breakout_52w", BUSY["breakout_52w"])
    res = run_backtest(s, universe, BacktestConfig(limits=RiskLimits(max_open_positions=10)))
    fills = res.fills
    assert len(fills) >= 10 and set(fills["tag"]) == {"breakout_52w"}  # no square-off of delivery
    bars = {u.instrument.tradingsymbol: session_bars(u.bars) for u in universe}
    for f in fills.itertuples():
        assert f.filled_at.time() == time(9, 15)  # the session's first tick
        b = bars[f.tradingsymbol].loc[f.filled_at]
        assert f.price == Decimal(str(b["open"])).quantize(Decimal("0.01"))  # a pre-open order meets the open
    for sym, g in fills.groupby("tradingsymbol"):
        sides = list(g["side"])
        assert sides == ["BUY", "SELL"] * (len(sides) // 2) + ["BUY"] * (len(sides) % 2)
        buys, sells = g[g["side"] == "BUY"], g[g["side"] == "SELL"]
        for (_, buy), (_, sell) in zip(buys.iterrows(), sells.iterrows(), strict=False):
            assert sell["filled_at"].date() > buy["filled_at"].date()  # never sold the day it was bought
    sells = fills[fills["side"] == "SELL"]
    dp = sum(float(dp_charge(schedule_for(t.date(), NSE_EQUITY_SCHEDULES)).total) for t in sells["filled_at"])
    assert dp > 0
    assert res.metrics["charges"] == pytest.approx(float(res.trades["charges"].sum()) + dp, abs=1e-6)
    marks = res.equity["equity"].iloc[-1]
    held = fills.assign(q=np.where(fills["side"] == "BUY", 1, -1) * fills["quantity"])
    open_q = held.groupby("tradingsymbol")["q"].sum()
    value = sum(q * bars[sym]["close"].iloc[-1] for sym, q in open_q.items() if q)
    cash = 1_000_000 - float(sum(Decimal(q) * p for q, p in zip(held["q"], held["price"], strict=True))) \
        - float(fills["charges"].sum()) - dp
    assert marks == pytest.approx(cash + value, abs=0.01)


def test_daily_gatekeeper_refuses_entries_beyond_the_limits(universe):
    s = make_strategy("breakout_52w", BUSY["breakout_52w"])
    res = run_backtest(s, universe, BacktestConfig(limits=RiskLimits(max_open_positions=1)))
    assert (res.rejections["reasons"].str.contains("MAX_OPEN_POSITIONS")).any()
    at = pd.DatetimeIndex(res.rejections["at"])
    assert set(at.time) == {time(9, 0)}  # judged in the next session's pre-open


def test_daily_one_pass_preparation_equals_the_per_symbol_one_on_real_bars():
    """``core.backtest.daily_prepare`` (all symbols at once) gives every field the engine's
    per-symbol ``_prepare`` gives, across NSE's tick regimes of 2024 and 2025."""
    from datetime import time as dtime

    from core.backtest import engine
    from core.backtest.daily_prepare import prepare_daily

    uni = sorted((InstrumentBars(instrument(s), daily_bars(s, "2023-06-01", "2026-09-01")) for s in SYMBOLS),
                 key=lambda u: u.instrument.instrument_token)
    s = make_strategy("breakout_52w", BUSY["breakout_52w"])
    fast = prepare_daily(s, uni, engine._Sym)
    seen = set()
    for u, f in zip(uni, fast, strict=True):
        ref = engine._prepare(s, u, dtime(15, 20), DAY_SPAN)
        for name in ("ts", "o", "h", "lo", "c", "v", "last_of_day", "prev_close", "day_open", "day_high", "day_low"):
            np.testing.assert_array_equal(getattr(f, name), getattr(ref, name), err_msg=f"{u.instrument.tradingsymbol} {name}")
        assert f.cols == ref.cols and f.wake == ref.wake
        for k in ref.cols:
            np.testing.assert_array_equal(f.feats[k], ref.feats[k], err_msg=k)
        n = len(ref.ts)
        assert [f.inst_at(i) for i in range(n)] == [ref.inst_at(i) for i in range(n)]
        assert [f.days[i] for i in range(n)] == list(ref.days)
        seen |= {ref.inst_at(i).tick_size for i in range(n)}
    assert len(seen) >= 3, f"ticks {seen}: too few regimes and bands for a strong test"


def test_default_stacked_features_are_each_parts_features():
    s = make_strategy("sma_cross", {"fast": 3, "slow": 7})
    parts = [nse_data.minute_bars_for(sym).iloc[:400] for sym in ("INFY", "SBIN")]
    stacked = s.stacked_features(pd.concat(parts), np.array([0, 400]))
    want = pd.concat([s.features(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(stacked, want)
    assert stacked["slow"].iloc[400:406].isna().all()  # the second part warms up on its own bars
