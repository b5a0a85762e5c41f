"""Exits in backtests (issue 15 item 1, ``core.backtest.exits``): the exit rule's bad input, its
levels, the desk's OCO rules on the backtester's own orders (one filled cancels the other, a
partial fill resizes the other, trailing only in the trader's favour, the square-off cancels the
exits first), and runs on real bundled bars."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from app.adapters import nse_data
from core import exits as ex
from core.backtest import BacktestConfig, InstrumentBars, run_backtest
from core.backtest.exits import BacktestExits, ExitRule
from core.errors import ValidationError
from core.models import Instrument
from core.orders import Order, OrderIntent, OrderStatus, OrderType, Product, Side
from core.strategies import make_strategy
from core.timeutil import IST

DAY = date(2016, 8, 17)
T = datetime(2016, 8, 17, 10, 0, tzinfo=IST)
TICK = Decimal("0.05")
D = Decimal


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "needs stop_pct, target_pct or both"),
    (dict(stop_pct=D(0)), "0 < p < 100"),
    (dict(stop_pct=D("-1")), "0 < p < 100"),
    (dict(stop_pct=D(100)), "0 < p < 100"),
    (dict(target_pct=D("NaN")), "Decimal percent"),
    (dict(stop_pct=1.5), "Decimal percent"),
    (dict(target_pct=D(1), trailing=ex.Trailing(ex.TrailKind.RUPEES, D(1))), "needs stop_pct"),
    (dict(stop_pct=D(1), trailing="1%"), "core.exits.Trailing"),
])
def test_exit_rule_refuses_bad_input_with_a_clear_message(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        ExitRule(**kwargs)


def test_a_trailing_step_of_zero_is_refused_by_core_exits():
    with pytest.raises(ValidationError, match="step of zero"):
        ExitRule(stop_pct=D(1), trailing=ex.Trailing(ex.TrailKind.PERCENT, D(0)))


def test_backtest_config_refuses_exits_that_are_not_a_rule():
    with pytest.raises(ValidationError, match="ExitRule"):
        BacktestConfig(exits={"stop_pct": 1})


def test_levels_are_rounded_to_the_tick_away_from_the_entry_and_at_least_one_tick_away():
    rule = ExitRule(stop_pct=D("0.3"), target_pct=D("0.5"))
    assert rule.levels(Side.BUY, D("245.90"), TICK) == (D("245.15"), D("247.15"))  # 245.162 down, 247.1295 up
    assert rule.levels(Side.SELL, D("245.90"), TICK) == (D("246.65"), D("244.65"))  # 246.637 up, 244.67 down
    tiny = ExitRule(stop_pct=D("0.001"), target_pct=D("0.001"))
    assert tiny.levels(Side.BUY, D("100.00"), TICK) == (D("99.95"), D("100.05"))
    intent = OrderIntent(1, "X", Side.BUY, 10, Product.MIS, OrderType.MARKET, tag="s")
    attached = rule.attach(intent, D("245.90"), TICK)
    assert (attached.stop_loss, attached.target) == (D("245.15"), D("247.15"))
    plan = rule.plan_of(attached)
    assert plan == ex.ExitPlan(Side.BUY, stop=D("245.15"), target=D("247.15"))
    assert rule.plan_of(replace(attached, tag=ex.EXIT_TAG)) is None  # the desk's own exits have none


# ---------------------------------------------------------------- the rules on orders


def _order(order_id: str, intent: OrderIntent, filled: int = 0, price: Decimal = D("100.00"),
           status: OrderStatus = OrderStatus.OPEN) -> Order:
    return Order(order_id, intent, status, T, T, TICK, filled_quantity=filled, filled_turnover=price * filled,
                 fill_count=1 if filled else 0)


def _entry(filled: int, status=OrderStatus.COMPLETE, qty: int = 10) -> Order:
    rule = ExitRule(stop_pct=D(1), target_pct=D(2))
    intent = rule.attach(OrderIntent(7, "X", Side.BUY, qty, Product.MIS, OrderType.MARKET, tag="s"), D("100.00"), TICK)
    return _order("BT-000001", intent, filled, D("100.00"), status)


def _placed(book: BacktestExits, actions) -> dict[ex.LegKind, str]:
    out = {}
    for n, a in enumerate(actions):
        assert isinstance(a, ex.Place)
        book.placed(7, a.key, f"BT-1{n}")
        out[a.leg] = f"BT-1{n}"
    return out


def test_entry_fill_places_both_exits_and_one_filled_cancels_the_other():
    book = BacktestExits(ExitRule(stop_pct=D(1), target_pct=D(2)))
    actions = book.on_order(_entry(10), TICK, T)
    assert [(a.leg, a.intent.order_type, a.intent.quantity, a.intent.trigger_price or a.intent.price)
            for a in actions] == [(ex.LegKind.STOP, OrderType.SL_M, 10, D("99.00")),
                                  (ex.LegKind.TARGET, OrderType.LIMIT, 10, D("102.00"))]
    ids = _placed(book, actions)
    assert book.live(7)
    target = _order(ids[ex.LegKind.TARGET], actions[1].intent, 10, D("102.00"), OrderStatus.COMPLETE)
    actions = book.on_order(target, TICK, T)
    assert [type(a) for a in actions] == [ex.Cancel] and actions[0].leg is ex.LegKind.STOP
    assert book.groups[7].status is ex.GroupStatus.DONE and not book.live(7)


def test_a_partial_exit_fill_resizes_the_other_exit():
    book = BacktestExits(ExitRule(stop_pct=D(1), target_pct=D(2)))
    actions = book.on_order(_entry(10), TICK, T)
    ids = _placed(book, actions)
    part = _order(ids[ex.LegKind.TARGET], actions[1].intent, 4, D("102.00"))
    after = book.on_order(part, TICK, T)
    assert after == [ex.Resize(ex.LegKind.STOP, book.groups[7].stop.key, 6)]
    assert book.groups[7].open_quantity == 6


def test_a_partial_entry_fill_sizes_the_exits_to_it_and_a_later_fill_resizes_them():
    book = BacktestExits(ExitRule(stop_pct=D(1), target_pct=D(2)))
    actions = book.on_order(_entry(3, OrderStatus.OPEN), TICK, T)
    assert [a.intent.quantity for a in actions] == [3, 3]
    _placed(book, actions)
    more = book.on_order(_entry(10), TICK, T)
    assert sorted((a.leg, a.quantity) for a in more) == [(ex.LegKind.STOP, 10), (ex.LegKind.TARGET, 10)]


def test_trailing_moves_the_stop_only_in_the_traders_favour():
    book = BacktestExits(ExitRule(stop_pct=D(1), trailing=ex.Trailing(ex.TrailKind.RUPEES, D(1))))
    _placed(book, book.on_order(_entry(10), TICK, T))
    assert book.groups[7].stop_trigger == D("99.00")
    moves = book.trail(7, D("101.50"))
    assert moves == [ex.Move(ex.LegKind.STOP, book.groups[7].stop.key, trigger_price=D("100.50"), price=None)]
    assert book.trail(7, D("100.00")) == [] and book.groups[7].stop_trigger == D("100.50")  # a fall never lowers it


def test_an_entry_that_gapped_through_its_stop_gets_no_exits_and_says_why():
    book = BacktestExits(ExitRule(stop_pct=D(1), target_pct=D(2)))
    gapped = _order("BT-000001", _entry(10).intent, 10, D("98.50"), OrderStatus.COMPLETE)  # stop 99.00 above
    assert book.on_order(gapped, TICK, T) == []
    assert not book.live(7) and "stop must be below its entry" in book.refusals[0]["reason"]


def test_cancel_cancels_every_working_exit():
    book = BacktestExits(ExitRule(stop_pct=D(1), target_pct=D(2)))
    _placed(book, book.on_order(_entry(10), TICK, T))
    actions = book.cancel(7, "MIS auto square-off")
    assert sorted(a.leg for a in actions) == [ex.LegKind.STOP, ex.LegKind.TARGET]
    assert all(isinstance(a, ex.Cancel) for a in actions) and book.groups[7].status is ex.GroupStatus.CANCELLED


# ---------------------------------------------------------------- runs on real bars


def _universe(symbols=("INFY", "SBIN")) -> list[InstrumentBars]:
    inst = nse_data.load_instruments()
    out = []
    for sym in symbols:
        r = inst[(inst["tradingsymbol"] == sym) & (inst["segment"] == "NSE")].iloc[0]
        i = Instrument(int(r["instrument_token"]), int(r["exchange_token"]), sym, str(r["name"]), "NSE", "NSE",
                       "EQ", TICK, 1)
        out.append(InstrumentBars(i, nse_data.minute_bars_for(sym, DAY)))
    return out


@pytest.fixture(scope="module")
def universe() -> list[InstrumentBars]:
    return _universe()


def test_a_backtest_with_exits_closes_each_entry_once_by_stop_target_or_square_off(universe):
    rule = ExitRule(stop_pct=D("0.3"), target_pct=D("0.5"))
    res = run_backtest(make_strategy("sma_cross", dict(fast=5, slow=20, quantity=10)), universe,
                       BacktestConfig(exits=rule, ticks_per_bar=6))
    f = res.fills
    assert set(f["tag"]) == {"sma_cross", "EXIT", "SQUAREOFF"}
    for _, g in f.groupby("tradingsymbol"):
        signed = np.where(g["side"] == "BUY", 1, -1) * g["quantity"].to_numpy()
        position = np.cumsum(signed)
        assert set(position.tolist()) <= {0, 10}, "an exit never closes more than its entry opened (OCO)"
        assert position[-1] == 0
        # entries and closes alternate: exactly one exit (stop, target or square-off) per entry
        assert g["tag"].tolist()[0::2] == ["sma_cross"] * (len(g) // 2)
        assert all(t in ("EXIT", "SQUAREOFF") for t in g["tag"].tolist()[1::2])
    stops = targets = 0
    for _, g in f.groupby("tradingsymbol"):
        for entry, close in zip(g.iloc[0::2].itertuples(), g.iloc[1::2].itertuples(), strict=True):
            if close.tag != "EXIT":
                continue
            stop, target = rule.levels(Side.BUY, D(str(_close_before(universe, entry))), TICK)
            if close.price >= target:
                targets += 1  # LIMIT: never below its price
            else:
                assert close.price <= stop  # SL-M: at or through its trigger
                stops += 1
    assert stops and targets


def _close_before(universe, entry) -> float:
    """The close of the bar the entry was decided on (the bar before its fill's minute)."""
    bars = next(u.bars for u in universe if u.instrument.tradingsymbol == entry.tradingsymbol)
    at = pd.Timestamp(entry.filled_at).tz_convert(IST) - pd.Timedelta(minutes=1)
    return float(bars.loc[at, "close"])


def test_the_square_off_cancels_the_exits_first(universe):
    rule = ExitRule(stop_pct=D("0.3"), target_pct=D("0.5"))
    res = run_backtest(make_strategy("sma_cross", dict(fast=5, slow=20, quantity=10)), universe,
                       BacktestConfig(exits=rule, ticks_per_bar=6))
    sq = res.fills[res.fills.tag == "SQUAREOFF"]
    assert len(sq) == 1 and pd.Timestamp(sq.iloc[0].filled_at).tz_convert(IST).time().isoformat() == "15:20:00"
    later = res.fills[(res.fills.tradingsymbol == sq.iloc[0].tradingsymbol) & (res.fills.filled_at > sq.iloc[0].filled_at)]
    assert later.empty, "no exit fills after the square-off flattened the position"


def test_trailing_in_a_backtest_changes_the_exits_and_keeps_the_engines_equal(universe):
    strategy = make_strategy("sma_cross", dict(fast=5, slow=20, quantity=10))
    plain = run_backtest(strategy, universe, BacktestConfig(exits=ExitRule(D("0.3")), ticks_per_bar=6))
    rule = ExitRule(D("0.3"), trailing=ex.Trailing(ex.TrailKind.PERCENT, D("0.2")))
    trailed = run_backtest(strategy, universe, BacktestConfig(exits=rule, ticks_per_bar=6))
    full = run_backtest(strategy, universe, BacktestConfig(exits=rule, ticks_per_bar=6, skip_idle=False))
    assert not plain.fills.equals(trailed.fills)
    pd.testing.assert_frame_equal(trailed.fills, full.fills)
    pd.testing.assert_frame_equal(trailed.equity, full.equity, check_exact=True)


def test_cnc_strategies_refuse_exits():
    daily = make_strategy("breakout_52w", {})
    with pytest.raises(ValidationError, match="CNC GTTs run on the desk only"):
        run_backtest(daily, _universe(("INFY",)), BacktestConfig(exits=ExitRule(D(5))))


@pytest.mark.parametrize("rule", [ExitRule(D("0.3"), D("0.5")), ExitRule(D("1.0"), D("0.15")), ExitRule(None, D("0.2"))])
def test_bars_skipped_as_out_of_reach_of_the_exits_change_nothing(universe, monkeypatch, rule):
    """``ExitDriver.quiet`` skips the ticks of bars no working exit can fill on: the same run as
    matching every tick of every bar with open orders."""
    from core.backtest.exits import ExitDriver

    strategy = make_strategy("sma_cross", dict(fast=3, slow=7, quantity=10))
    cfg = BacktestConfig(exits=rule, ticks_per_bar=7)
    skipping = run_backtest(strategy, universe, cfg)
    monkeypatch.setattr(ExitDriver, "quiet", lambda self, sym, i: False)
    every_tick = run_backtest(strategy, universe, cfg)
    assert (skipping.fills["tag"] == "EXIT").sum() > 5
    pd.testing.assert_frame_equal(skipping.fills, every_tick.fills)
    pd.testing.assert_frame_equal(skipping.rejections, every_tick.rejections)
    pd.testing.assert_frame_equal(skipping.equity, every_tick.equity, check_exact=True)
