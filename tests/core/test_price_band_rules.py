"""core.risk.price_bands: one exact test per rule and per dated row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from core.errors import ValidationError
from core.orders import CircuitBand
from core.risk.price_bands import (
    DYNAMIC_RANGE_RULES,
    FixedBand,
    band_from_limits,
    dynamic_range,
    dynamic_rule_for,
    fixed_band,
    fixed_band_for,
)

TICK = D("0.05")
OLD = dynamic_rule_for(date(2016, 9, 8))
SLIDING = dynamic_rule_for(date(2024, 11, 18))


def test_dated_rows_pick_the_rule_in_force():
    """Rows: the operating range before 2024-11-18 (Zerodha tradingqna t/18973), sliding bands
    from 2024-11-18 (NSE circular NSE/FAOP/64995, 08-Nov-2024)."""
    assert [r.effective_from for r in DYNAMIC_RANGE_RULES] == [date(2000, 1, 1), date(2024, 11, 18)]
    assert not OLD.sliding and dynamic_rule_for(date(2024, 11, 17)) is OLD
    assert SLIDING.sliding and "NSE/FAOP/64995" in SLIDING.source
    with pytest.raises(ValidationError, match="no dynamic price range rule in force on 1999-12-31"):
        dynamic_rule_for(date(1999, 12, 31))


def test_dynamic_range_starts_at_ten_percent_of_base():
    """F&O stocks: no fixed band, operating range 10 % of the base price (NSE; tradingqna
    t/18973: BPCL base 504.50 → 454.05–554.95)."""
    assert dynamic_range(D("504.50"), D("504.50"), D("504.50"), TICK, OLD) == CircuitBand(D("454.05"), D("554.95"))


def test_dynamic_range_flexes_at_nine_point_nine_percent_in_the_trend_only_before_sliding():
    """Before 2024-11-18 a trade at 9.90 % widens the range by 5 % in the trend's direction
    only (tradingqna t/18973); 9.89 % does not."""
    assert dynamic_range(D(100), D("109.89"), D(100), TICK, OLD) == CircuitBand(D(90), D(110))
    assert dynamic_range(D(100), D("109.90"), D(100), TICK, OLD) == CircuitBand(D(90), D(115))
    assert dynamic_range(D(100), D("115.00"), D(100), TICK, OLD) == CircuitBand(D(90), D(120))  # 15 % rally


def test_sliding_band_moves_both_limits():
    """NSE/FAOP/64995 example: base ₹100, 10 % band ₹90–110 flexed up becomes ₹95–115."""
    assert dynamic_range(D(100), D("109.90"), D(100), TICK, SLIDING) == CircuitBand(D(95), D(115))
    assert dynamic_range(D(100), D(100), D("90.10"), TICK, SLIDING) == CircuitBand(D(85), D(105))


def test_fixed_band_rounds_inwards_to_the_tick():
    """Non-F&O stocks: NSE's fixed bands 2/5/10/20 % of the previous close, limits on the tick."""
    assert fixed_band(D("1023.65"), 5, TICK) == CircuitBand(D("972.50"), D("1074.80"))
    assert fixed_band(D(100), 2, D("0.01")) == CircuitBand(D(98), D(102))


def test_fixed_band_row_must_be_an_nse_band_and_latest_row_wins():
    """NSE price bands are 2, 5, 10 or 20 % (indian-market.md "Stock price bands")."""
    with pytest.raises(ValidationError, match=r"band_pct of ACC must be one of \(2, 5, 10, 20\)"):
        FixedBand("ACC", 15, date(2016, 8, 16), "x")
    rows = (FixedBand("ACC", 10, date(2016, 8, 16), "a"), FixedBand("ACC", 5, date(2016, 9, 1), "b"))
    assert fixed_band_for("ACC", date(2016, 8, 31), rows).band_pct == 10
    assert fixed_band_for("ACC", date(2016, 9, 1), rows).band_pct == 5
    assert fixed_band_for("ACC", date(2016, 8, 1), rows) is None


def test_quote_limits_become_the_band_and_zero_means_absent():
    """Kite /quote lower_circuit_limit/upper_circuit_limit; 0 for instruments without limits."""
    assert band_from_limits(921.3, 1126.0) == CircuitBand(D("921.3"), D("1126.0"))
    assert band_from_limits(0, 0) is None and band_from_limits(None, 5) is None
    with pytest.raises(ValidationError, match="lower_circuit_limit must be > 0 and <= upper_circuit_limit"):
        band_from_limits(12, 10)


def test_bad_base_or_tick_names_the_field():
    with pytest.raises(ValidationError, match="base price .* must be positive"):
        dynamic_range(D(0), D(1), D(1), TICK, OLD)
    with pytest.raises(ValidationError, match="tick_size must be positive"):
        fixed_band(D(100), 5, D(0))
