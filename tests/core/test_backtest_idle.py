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
from core.alerts import Alert, AlertType, Attribute, Operator, ato_order
from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.backtest.exits import ExitRule
from core.errors import ValidationError
from core.exits import TrailKind, Trailing
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
    idle, full = _idle_equals_full(universe, *run)
    assert idle.bars == full.bars == sum(len(u.bars) for u in universe)


def _idle_equals_full(universe, name: str, params: dict, cfg: dict):
    """Run the idle-bar and the full engine with ``cfg``; assert the same fills, rejections,
    equity and metrics; return both results."""
    try:
        strategy = make_strategy(name, params)
    except ValidationError:
        assume(False)
    idle = run_backtest(strategy, universe, BacktestConfig(**cfg))
    full = run_backtest(strategy, universe, BacktestConfig(**cfg, skip_idle=False))
    pd.testing.assert_frame_equal(idle.fills, full.fills)
    pd.testing.assert_frame_equal(idle.rejections, full.rejections)
    pd.testing.assert_frame_equal(idle.equity, full.equity, check_exact=True)
    pd.testing.assert_frame_equal(idle.alerts, full.alerts)
    assert pd.Series(idle.metrics).equals(pd.Series(full.metrics))  # NaN-aware
    return idle, full


def test_backtest_idle_bar_engine_equals_the_full_engine_with_busy_parameters(universe):
    for name, params in BUSY.items():
        strategy = make_strategy(name, params)
        idle = run_backtest(strategy, universe, BacktestConfig())
        full = run_backtest(strategy, universe, BacktestConfig(skip_idle=False))
        assert len(full.fills) > 10, f"{name}: too few fills to compare"
        pd.testing.assert_frame_equal(idle.fills, full.fills)
        pd.testing.assert_frame_equal(idle.equity, full.equity, check_exact=True)
        assert pd.Series(idle.metrics).equals(pd.Series(full.metrics))  # NaN-aware


@st.composite
def exit_rules(draw) -> ExitRule:
    """An exit rule (core.backtest.exits): a stop and/or a target, maybe trailing by ₹, % or ATR."""
    pct = st.decimals(min_value=Decimal("0.05"), max_value=Decimal("1.5"), places=2)
    stop = draw(pct) if draw(st.integers(0, 3)) else None
    target = draw(pct) if stop is None or draw(st.booleans()) else None
    trailing = None
    kind = draw(st.sampled_from([*TrailKind, None]))
    if stop is not None and kind is not None:
        step = draw(st.decimals(min_value=Decimal("0.05"), max_value=Decimal("2"), places=2))
        trailing = Trailing(kind, step, atr=Decimal("0.80") if kind is TrailKind.ATR else None)
    return ExitRule(stop, target, trailing)


@pytest.fixture(scope="module")
def one_session(universe) -> list[InstrumentBars]:
    return [InstrumentBars(u.instrument, u.bars[u.bars.index.date == SESSIONS[0]]) for u in universe]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=runs(), rule=exit_rules())
def test_backtest_idle_bar_engine_equals_the_full_engine_with_exits(one_session, run, rule):
    """Issue 17 item 2 with exits on (issue 15 item 1): a position with working exits is a bar where
    something can happen; the idle-bar engine still makes the full engine's fills and equity."""
    name, params, cfg = run
    _idle_equals_full(one_session, name, params, dict(cfg, ticks_per_bar=min(cfg["ticks_per_bar"], 7), exits=rule))


def test_backtest_idle_bar_engine_equals_the_full_engine_with_busy_parameters_and_exits(one_session):
    rules = (ExitRule(Decimal("0.3"), Decimal("0.5")),
             ExitRule(Decimal("0.4"), None, Trailing(TrailKind.PERCENT, Decimal("0.25"))),
             ExitRule(Decimal("0.5"), Decimal("1.0"), Trailing(TrailKind.ATR, Decimal("1.5"), atr=Decimal("0.60"))))
    exited = 0
    for n, (name, params) in enumerate(BUSY.items()):
        idle, _ = _idle_equals_full(one_session, name, params, dict(exits=rules[n % len(rules)], ticks_per_bar=7))
        exited += int((idle.fills["tag"] == "EXIT").sum())
    assert exited > 20, "the exits must fill to compare anything"


def _attribute_levels(bars: pd.DataFrame, attribute: Attribute) -> pd.Series:
    """The values an alert on ``attribute`` sees at each bar's close (one session: no change %)."""
    if attribute is Attribute.VOLUME:
        return bars["volume"].cumsum().astype(float)
    if attribute is Attribute.DAY_HIGH:
        return bars["high"].cummax()
    if attribute is Attribute.DAY_LOW:
        return bars["low"].cummin()
    return bars["close"]


@st.composite
def alert_sets(draw, session: list[InstrumentBars]) -> tuple[Alert, ...]:
    """1-4 alerts on the session's symbols: a constant drawn from the attribute's own values (so
    most fire, at any time of day), simple or ATO (a BUY or SELL MIS MARKET order), maybe one
    instrument-vs-instrument alert."""
    out = []
    for n in range(draw(st.integers(1, 4))):
        u = draw(st.sampled_from(session))
        inst = u.instrument
        if draw(st.integers(0, 4)) == 0:
            other = draw(st.sampled_from([v for v in session if v is not u])).instrument
            out.append(Alert(f"a{n}", "pair", inst.instrument_token, inst.tradingsymbol, Attribute.LTP,
                             draw(st.sampled_from([Operator.GT, Operator.LT])), rhs_token=other.instrument_token,
                             rhs_tradingsymbol=other.tradingsymbol, rhs_attribute=Attribute.DAY_HIGH))
            continue
        attribute = draw(st.sampled_from([Attribute.LTP, Attribute.VOLUME, Attribute.DAY_HIGH, Attribute.DAY_LOW]))
        level = float(_attribute_levels(u.bars, attribute).quantile(draw(st.floats(0.02, 0.98))))
        level = float(round(level)) if attribute is Attribute.VOLUME else round(level, 2)
        op = draw(st.sampled_from(list(Operator)[:4]))
        order = None
        if draw(st.booleans()):
            order = ato_order(dict(side=draw(st.sampled_from(["BUY", "SELL"])), quantity=draw(st.integers(1, 50)),
                                   product="MIS", order_type="MARKET"))
        out.append(Alert(f"a{n}", "level", inst.instrument_token, inst.tradingsymbol, attribute, op,
                         level, kind=AlertType.ATO if order else AlertType.SIMPLE, order=order))
    return tuple(out)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), run=runs())
def test_backtest_idle_bar_engine_equals_the_full_engine_with_alerts(one_session, data, run):
    """Issue 15 item 2: a bar of an instrument a live alert reads is a bar where something can
    happen, and an ATO order is placed as an entry; the idle-bar engine still equals the full one."""
    name, params, cfg = run
    alerts = data.draw(alert_sets(one_session))
    rule = data.draw(st.one_of(st.none(), exit_rules()))
    _idle_equals_full(one_session, name, params,
                      dict(cfg, ticks_per_bar=min(cfg["ticks_per_bar"], 7), exits=rule, alerts=alerts))


def test_backtest_idle_bar_engine_equals_the_full_engine_with_busy_parameters_and_alerts(one_session):
    by = {u.instrument.tradingsymbol: u for u in one_session}
    infy, sbin = by["INFY"].instrument, by["SBIN"].instrument
    c, v = by["SBIN"].bars["close"], by["INFY"].bars["volume"].cumsum()
    buy = ato_order(dict(side="BUY", quantity=25, product="MIS", order_type="MARKET"))
    sell = ato_order(dict(side="SELL", quantity=10, product="MIS", order_type="MARKET"))
    alerts = (Alert("dip", "SBIN dip", sbin.instrument_token, "SBIN", Attribute.LTP, Operator.LE,
                    round(float(c.quantile(0.2)), 2), kind=AlertType.ATO, order=buy),
              Alert("pop", "SBIN pop", sbin.instrument_token, "SBIN", Attribute.LTP, Operator.GE,
                    round(float(c.quantile(0.8)), 2), kind=AlertType.ATO, order=sell),
              Alert("vol", "INFY volume", infy.instrument_token, "INFY", Attribute.VOLUME, Operator.GE,
                    float(v.iloc[len(v) // 2])),
              Alert("pair", "SBIN vs INFY", sbin.instrument_token, "SBIN", Attribute.LTP, Operator.LT,
                    rhs_token=infy.instrument_token, rhs_tradingsymbol="INFY", rhs_attribute=Attribute.DAY_LOW))
    placed = 0
    for name, params in BUSY.items():
        idle, _ = _idle_equals_full(one_session, name, params, dict(alerts=alerts, ticks_per_bar=7))
        assert len(idle.alerts) == 4, f"{name}: every alert fires once"
        placed += int((idle.fills["tag"] == "alert").sum())
    assert placed >= len(BUSY), "the ATO orders must fill to compare anything"


def test_backtest_idle_bar_engine_equals_the_full_engine_when_an_ato_fires_on_the_other_instruments_bar(
        one_session):
    """A pair ATO alert fired by the right-hand instrument's bar places its order on an instrument
    with no bar at that step: the idle loop must watch it until its next bar fills the order."""
    infy = next(u for u in one_session if u.instrument.tradingsymbol == "INFY")
    b = infy.bars
    low = b["low"].cummin()
    t = next(k for k in range(1, len(b)) if b["close"].iloc[k] < low.iloc[k - 1])  # first close under the day low
    gap = b.drop(b.index[t:t + 20])  # the copy has no bars t .. t+19
    twin = Instrument(infy.instrument.instrument_token + 10**8, 1, "INFYTWIN", "twin", "NSE", "NSE", "EQ",
                      Decimal("0.05"), 1)
    order = ato_order(dict(side="BUY", quantity=5, product="MIS", order_type="MARKET"))
    alert = Alert("twin", "twin low above INFY", twin.instrument_token, "INFYTWIN", Attribute.DAY_LOW, Operator.GT,
                  rhs_token=infy.instrument.instrument_token, rhs_tradingsymbol="INFY", rhs_attribute=Attribute.LTP,
                  kind=AlertType.ATO, order=order)
    idle, _ = _idle_equals_full([*one_session, InstrumentBars(twin, gap)], "sma_cross", BUSY["sma_cross"],
                                dict(alerts=(alert,), ticks_per_bar=7))
    assert list(idle.alerts["bar"]) == [b.index[t]] and idle.alerts["order_id"].iloc[0]
    mine = idle.fills[idle.fills["tag"] == "alert"]
    assert list(mine["tradingsymbol"]) == ["INFYTWIN"] and pd.Timestamp(mine["filled_at"].iloc[0]) == b.index[t + 20]
