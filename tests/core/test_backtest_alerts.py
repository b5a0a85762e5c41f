"""Alerts in backtests (issue 15 item 2, core.backtest.alerts): a simple alert fires once at the
first bar whose close-time values cross (checked against pandas on real bundled bars), an ATO
alert places exactly one order through the backtest's gatekeeper and broker and it fills on the
next bar, and bad input is refused before anything runs."""

from __future__ import annotations

import pandas as pd
import pytest

from core.alerts import Alert, AlertEvaluator, AlertStatus, AlertType, Attribute, Operator, ato_order, evaluate_bars
from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.errors import ValidationError
from core.models import Bar
from core.strategies import make_strategy
from core.timeutil import IST
from tests.core.test_backtest_idle import universe  # noqa: F401  (the fixture)

#: Parameters that never cross on these bars often: the strategy stays mostly flat.
QUIET = {"fast": 20, "slow": 200}


def _first(mask: pd.Series) -> pd.Timestamp:
    assert mask.any(), "the alert must cross somewhere on these bars"
    return mask.idxmax()


def _bars(universe, symbol):  # noqa: F811
    return next(u for u in universe if u.instrument.tradingsymbol == symbol)


def test_simple_alerts_fire_once_at_the_first_crossing_bar(universe):  # noqa: F811
    infy, sbin = _bars(universe, "INFY"), _bars(universe, "SBIN")
    b = infy.bars
    level = float(b["close"].iloc[:90].min()) - 0.05  # below the first 90 closes: it fires later if at all
    day = pd.Series(b.index.tz_convert(IST).date, index=b.index)
    day_volume = b["volume"].groupby(day).cumsum()
    vol_level = int(day_volume.iloc[200])
    prev_close = b["close"].groupby(day).last().shift(1)
    change = (b["close"] - day.map(prev_close)) * 100.0 / day.map(prev_close)
    chg_level = float(change.dropna().quantile(0.1))
    tok, stok = infy.instrument.instrument_token, sbin.instrument.instrument_token
    alerts = (Alert("ltp", "INFY dips", tok, "INFY", Attribute.LTP, Operator.LE, level),
              Alert("vol", "INFY volume", tok, "INFY", Attribute.VOLUME, Operator.GT, float(vol_level)),
              Alert("chg", "INFY down", tok, "INFY", Attribute.CHANGE_PCT, Operator.LE, chg_level),
              Alert("low", "SBIN low", stok, "SBIN", Attribute.DAY_LOW, Operator.LT, 0.01),  # never
              Alert("off", "off", tok, "INFY", Attribute.LTP, Operator.GE, 0.0, status=AlertStatus.DISABLED))
    res = run_backtest(make_strategy("sma_cross", QUIET), universe, BacktestConfig(alerts=alerts))
    got = res.alerts.set_index("alert_id")
    assert sorted(got.index) == ["chg", "ltp", "vol"]  # once each; the unreachable and the disabled never
    assert got.loc["ltp", "bar"] == _first(b["close"] <= level)
    assert got.loc["ltp", "value"] == pytest.approx(float(b.loc[got.loc["ltp", "bar"], "close"]))
    assert got.loc["vol", "bar"] == _first(day_volume > vol_level)
    assert got.loc["vol", "value"] == day_volume[got.loc["vol", "bar"]]
    assert got.loc["chg", "bar"] == _first(change <= chg_level)
    assert got.loc["ltp", "at"] == got.loc["ltp", "bar"] + pd.Timedelta(minutes=1)
    assert (got["order_id"] == "").all() and (got["sequence"] == 1).all()
    # the same bars and values as core.alerts.evaluate_bars, the hook the desk's rules define
    rows = [Bar(tok, "minute", ts.to_pydatetime(), r.open, r.high, r.low, r.close, int(r.volume))
            for ts, r in zip(b.index, b.itertuples(), strict=True)]
    hook = {t.alert.alert_id: (pd.Timestamp(bar.ts), t.lhs_value)
            for bar, t in evaluate_bars(AlertEvaluator(a for a in alerts if a.instrument_token == tok), rows)}
    assert hook == {k: (got.loc[k, "bar"], got.loc[k, "value"]) for k in hook} and sorted(hook) == sorted(got.index)


def test_an_ato_alert_places_exactly_one_order_that_fills_on_the_next_bar(universe):  # noqa: F811
    infy = _bars(universe, "INFY")
    b = infy.bars
    level = float(b["close"].iloc[:90].min()) - 0.05
    crossed = _first(b["close"] <= level)
    assert crossed.tz_convert(IST).time() < pd.Timestamp("15:00").time()
    order = ato_order(dict(side="BUY", quantity=7, product="MIS", order_type="MARKET"))
    alert = Alert("ato", "buy INFY", infy.instrument.instrument_token, "INFY", Attribute.LTP, Operator.LE, level,
                  kind=AlertType.ATO, order=order)
    res = run_backtest(make_strategy("sma_cross", QUIET), universe, BacktestConfig(alerts=(alert,)))
    assert len(res.alerts) == 1
    row = res.alerts.iloc[0]
    assert row["bar"] == crossed and row["order_id"] and row["refusal"] == ""
    mine = res.fills[res.fills["tag"] == "alert"]
    assert len(mine) == 1 and mine["order_id"].iloc[0] == row["order_id"]
    fill = mine.iloc[0]
    nxt = b.index[b.index.get_loc(crossed) + 1]
    assert (fill["side"], fill["quantity"], fill["tradingsymbol"]) == ("BUY", 7, "INFY")
    assert pd.Timestamp(fill["filled_at"]) == nxt  # the next bar's first tick, as a strategy entry
    # MIS: the position is closed the same day (by the strategy or the square-off)
    later = res.fills[(res.fills["tradingsymbol"] == "INFY") & (res.fills["filled_at"] > fill["filled_at"])]
    assert later["side"].iloc[0] == "SELL"


def test_bad_alerts_are_refused_before_the_run(universe):  # noqa: F811
    strategy = make_strategy("sma_cross", QUIET)
    tok = _bars(universe, "INFY").instrument.instrument_token
    cases = [
        ((Alert("x", "TCS", 2953217, "TCS", Attribute.LTP, Operator.GE, 1.0),), "not in this backtest's universe"),
        ((Alert("x", "pair", tok, "INFY", Attribute.LTP, Operator.GT, rhs_token=2953217, rhs_tradingsymbol="TCS",
                rhs_attribute=Attribute.LTP),), "not in this backtest's universe"),
        ((Alert("x", "cnc", tok, "INFY", Attribute.LTP, Operator.GE, 1.0, kind=AlertType.ATO,
                order=ato_order(dict(side="BUY", quantity=1, product="CNC", order_type="MARKET"))),),
         "the strategy trades MIS"),
        ((Alert("x", "", tok, "INFY", Attribute.LTP, Operator.GE, 1.0),), "name"),
        (("INFY >= 1",), "core.alerts.Alert"),
    ]
    for alerts, message in cases:
        with pytest.raises(ValidationError, match=message):
            run_backtest(strategy, universe, BacktestConfig(alerts=alerts))


def test_a_daily_cnc_ato_alert_fills_at_the_next_sessions_open_in_both_engines():
    """Daily bars (breakout_52w, CNC): the trigger on a session's close places a CNC order for the
    next session's open, as a daily strategy's decision is; idle == full."""
    from tests.core.test_backtest_daily import SYMBOLS, daily_bars, instrument

    universe = [InstrumentBars(instrument(s), daily_bars(s)) for s in SYMBOLS]
    inst, closes = universe[0].instrument, universe[0].bars["close"]
    level = round(float(closes.quantile(0.9)), 2)
    order = ato_order(dict(side="BUY", quantity=3, product="CNC", order_type="MARKET"))
    alert = Alert("d", "daily", inst.instrument_token, inst.tradingsymbol, Attribute.LTP, Operator.GE, level,
                  kind=AlertType.ATO, order=order)
    strategy = make_strategy("breakout_52w", {})
    idle = run_backtest(strategy, universe, BacktestConfig(alerts=(alert,)))
    full = run_backtest(strategy, universe, BacktestConfig(alerts=(alert,), skip_idle=False))
    pd.testing.assert_frame_equal(idle.fills, full.fills)
    pd.testing.assert_frame_equal(idle.alerts, full.alerts)
    crossed = (closes >= level).idxmax()
    assert list(idle.alerts["bar"].dt.date) == [crossed.date()]
    mine = idle.fills[idle.fills["tag"] == "alert"]
    nxt = closes.index[closes.index.get_loc(crossed) + 1]
    assert len(mine) == 1 and pd.Timestamp(mine["filled_at"].iloc[0]).date() == nxt.date()


def test_an_ato_order_the_gatekeeper_refuses_is_recorded_not_placed(universe):  # noqa: F811
    infy = _bars(universe, "INFY")
    order = ato_order(dict(side="BUY", quantity=900_000, product="MIS", order_type="MARKET"))  # ~₹9 crore
    alert = Alert("big", "too big", infy.instrument.instrument_token, "INFY", Attribute.LTP, Operator.GE, 1.0,
                  kind=AlertType.ATO, order=order)
    res = run_backtest(make_strategy("sma_cross", QUIET), universe, BacktestConfig(alerts=(alert,)))
    row = res.alerts.iloc[0]
    assert len(res.alerts) == 1 and row["order_id"] == "" and row["refusal"]
    assert not (res.fills["tag"] == "alert").any()
    assert (res.rejections["signal"] == "alert big").sum() == 1
