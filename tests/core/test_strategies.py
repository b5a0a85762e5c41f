"""Strategies: parameter validation, no look-ahead, and known decisions on built bars."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from app.adapters import nse_data
from core.errors import ValidationError
from core.models import Bar
from core.orders import OrderType, Product, Side
from core.strategies import STRATEGIES, make_strategy
from core.timeutil import IST

DAY = datetime(2016, 8, 17, 9, 15, tzinfo=IST)


def bars_from(closes, start=DAY, spread=0.5) -> pd.DataFrame:
    closes = np.asarray(closes, dtype=float)
    idx = pd.DatetimeIndex([start + timedelta(minutes=i) for i in range(len(closes))])
    opens = np.concatenate([[closes[0]], closes[:-1]])
    return pd.DataFrame({"open": opens, "high": np.maximum(opens, closes) + spread,
                         "low": np.minimum(opens, closes) - spread, "close": closes,
                         "volume": np.full(len(closes), 1000.0)}, index=idx)


@pytest.fixture(scope="module")
def infy() -> pd.DataFrame:
    return nse_data.minute_bars_for("INFY").iloc[:800]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_features_have_no_lookahead(name, infy):
    s = make_strategy(name)
    full = s.features(infy)
    for t in (40, 120, 377, 500, 799):
        part = s.features(infy.iloc[: t + 1])
        np.testing.assert_allclose(part.iloc[-1].to_numpy(float), full.iloc[t].to_numpy(float), equal_nan=True,
                                   err_msg=f"{name} at bar {t}")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_defaults_are_valid_and_include_quantity(name):
    s = make_strategy(name)
    assert s.params["quantity"] == 10


def test_parameter_out_of_range_names_the_range():
    with pytest.raises(ValidationError, match=r"momentum.lookback = 1000 is out of range; choose a value between 2 and 240"):
        make_strategy("momentum", {"lookback": 1000})


def test_parameter_fraction_for_int_and_unknown_name_are_refused():
    with pytest.raises(ValidationError, match="whole number"):
        make_strategy("sma_cross", {"fast": 2.5})
    with pytest.raises(ValidationError, match="no parameter"):
        make_strategy("sma_cross", {"fastest": 3})
    with pytest.raises(ValidationError, match="unknown strategy"):
        make_strategy("nope")


def test_cross_parameter_rules_are_checked():
    with pytest.raises(ValidationError, match="fast .* must be below slow"):
        make_strategy("sma_cross", {"fast": 30, "slow": 10})
    with pytest.raises(ValidationError, match="exit_z"):
        make_strategy("mean_reversion", {"entry_z": 1.0, "exit_z": 1.5})


def _decisions(strategy, bars, position=0):
    f = strategy.features(bars)
    out = []
    for i, ts in enumerate(bars.index):
        sig = strategy.decide(ts.to_pydatetime() + timedelta(minutes=1), f.iloc[i].to_dict(), position)
        if sig is not None:
            out.append((i, sig.side, sig.quantity))
            position += sig.quantity * sig.side.sign
    return out


def test_sma_cross_buys_on_the_cross_up_and_sells_on_the_cross_down():
    closes = [100] * 5 + [101, 102, 103, 104, 105] + [104, 103, 102, 101, 100, 99, 98]
    s = make_strategy("sma_cross", {"fast": 2, "slow": 4, "quantity": 5})
    assert _decisions(s, bars_from(closes)) == [(5, Side.BUY, 5), (11, Side.SELL, 5)]


def test_mean_reversion_fades_a_spike_and_exits_at_the_mean():
    closes = [100.0, 100.2] * 10 + [103.0, 100.1]
    s = make_strategy("mean_reversion", {"period": 10, "entry_z": 2.0, "exit_z": 0.5})
    assert _decisions(s, bars_from(closes)) == [(20, Side.SELL, 10), (21, Side.BUY, 10)]


def test_orb_buys_the_first_close_above_the_range_only_once():
    closes = [100, 101, 100, 99.5, 100.5] + [101.0, 102.5, 100.0, 103.0]
    s = make_strategy("orb", {"range_minutes": 5})
    bars = bars_from(closes, spread=0.0)
    # range 99.5..101 (mid 100.25): bar 6 is the first close above 101, bar 7 falls below the
    # mid (exit), bar 8 closes above the range again but is not the first break: no re-entry
    assert _decisions(s, bars) == [(6, Side.BUY, 10), (7, Side.SELL, 10)]


def test_every_position_is_closed_at_1515_and_no_entry_after_1500():
    s = make_strategy("sma_cross", {"fast": 2, "slow": 4})
    f = {"fast": 2.0, "slow": 1.0, "fast_prev": 0.5, "slow_prev": 1.0, "close": 1.0}
    assert s.decide(datetime(2016, 8, 17, 15, 0, tzinfo=IST), f, 0) is None
    assert s.decide(datetime(2016, 8, 17, 14, 59, tzinfo=IST), f, 0).side is Side.BUY
    sig = s.decide(datetime(2016, 8, 17, 15, 15, tzinfo=IST), f, -7)
    assert (sig.side, sig.quantity) == (Side.BUY, 7)


def test_on_bar_turns_a_signal_into_a_market_mis_intent():
    closes = [100] * 5 + [101, 102, 103, 104, 105]
    bars = bars_from(closes)
    s = make_strategy("sma_cross", {"fast": 2, "slow": 4, "quantity": 3})
    last = bars.index[5]
    bar = Bar(408065, "minute", last.to_pydatetime(), *bars.iloc[5][["open", "high", "low", "close"]], 1000)
    [intent] = s.on_bar(bar, bars.iloc[:5], position=0, tradingsymbol="INFY")
    assert (intent.side, intent.quantity, intent.product, intent.order_type) == (Side.BUY, 3, Product.MIS, OrderType.MARKET)
    assert intent.strategy == "sma_cross"
    assert s.on_bar(bar, bars.iloc[:5], position=3, tradingsymbol="INFY") == []
