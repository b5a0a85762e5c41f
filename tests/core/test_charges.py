"""Charges: dated schedule lookup, per-fill components, contract-note aggregate, square-off fee."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.charges import (
    NSE_EQUITY_SCHEDULES,
    ChargeLeg,
    Charges,
    contract_note_charges,
    equity_charges,
    schedule_for,
    dp_charge,
    square_off_charge,
)
from core.errors import ValidationError
from core.orders import Product, Side

D = Decimal
NOW = schedule_for(date(2025, 1, 6))  # the 1 Oct 2024 schedule
WORKED = [
    ChargeLeg("b1", Side.BUY, Product.MIS, 100, D("1000")),
    ChargeLeg("s1", Side.SELL, Product.MIS, 100, D("1000")),
]


# ---- schedule lookup


def test_schedule_for_after_oct_2024_uses_0_00297_pct():
    assert schedule_for(date(2024, 10, 1)).exchange_txn_rate == D("0.0000297")


def test_schedule_for_day_before_cut_uses_0_00322_pct():
    assert schedule_for(date(2024, 9, 30)).exchange_txn_rate == D("0.0000322")


def test_schedule_for_before_first_schedule_raises():
    with pytest.raises(ValidationError, match="first starts 2023-04-01"):
        schedule_for(date(2023, 3, 31))


def test_schedule_for_unsorted_table_raises():
    with pytest.raises(ValidationError, match="sorted"):
        schedule_for(date(2025, 1, 1), tuple(reversed(NSE_EQUITY_SCHEDULES)))


def test_schedules_cite_sources():
    assert all(s.source for s in NSE_EQUITY_SCHEDULES)


# ---- worked example, indian-market.md §3


def test_worked_example_contract_note_total_is_82_45():
    """₹1,00,000 MIS buy + ₹1,00,000 MIS sell on NSE, IPFT excluded, 2025 rates.

    brokerage   min(0.03% × 1,00,000 = 30, 20) = 20.00 per order × 2      = 40.00
    STT         0.025% × 1,00,000 (sell only)                           = 25.00
    exchange    0.00297% × 2,00,000 = 5.94 exactly                       =  5.94
    SEBI        ₹10/crore × 2,00,000 = 0.0001% × 2,00,000 = 0.20         =  0.20
    stamp       0.003% × 1,00,000 (buy only)                            =  3.00
    GST         18% × (40.00 + 5.94 + 0.20) = 18% × 46.14 = 8.3052 → 8.31 (half-up)
    total       40 + 25 + 5.94 + 0.20 + 3 + 8.31                       = 82.45
    """
    c = contract_note_charges(WORKED, NOW)
    assert (c.brokerage, c.stt, c.exchange_txn, c.sebi, c.stamp, c.gst) == (
        D("40.00"), D("25.00"), D("5.94"), D("0.20"), D("3.00"), D("8.31")
    )
    assert c.total == D("82.45")


def test_worked_example_summed_per_order_is_82_44():
    """Per order, GST is 18% × (20 + 2.97 + 0.10) = 4.1526 → 4.15 on each side: 8.30 not 8.31,
    so two per-fill breakdowns sum to one paisa less than the contract note."""
    buy = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), NOW)
    sell = equity_charges(Side.SELL, Product.MIS, 100, D("1000"), NOW)
    assert (buy.gst, sell.gst) == (D("4.15"), D("4.15"))
    assert buy.total + sell.total == D("82.44")


def test_worked_example_with_ipft_adds_ipft_and_its_gst():
    """IPFT ₹10/crore × 2,00,000 = 0.20; GST 18% × 46.34 = 8.3412 → 8.34; 82.45 + 0.20 + 0.03."""
    c = contract_note_charges(WORKED, NOW, include_ipft=True)
    assert (c.ipft, c.gst, c.total) == (D("0.20"), D("8.34"), D("82.68"))


# ---- per-fill components


def test_intraday_buy_caps_brokerage_and_charges_stamp_not_stt():
    c = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), NOW)
    assert (c.brokerage, c.stt, c.stamp) == (D("20.00"), D("0.00"), D("3.00"))


def test_intraday_small_order_brokerage_is_0_03_pct():
    c = equity_charges(Side.BUY, Product.MIS, 10, D("500"), NOW)  # ₹5,000 turnover
    assert c.brokerage == D("1.50")


def test_intraday_sell_charges_stt_not_stamp():
    c = equity_charges(Side.SELL, Product.MIS, 100, D("1000"), NOW)
    assert (c.stt, c.stamp) == (D("25.00"), D("0.00"))


def test_delivery_buy_has_no_brokerage_and_0_1_pct_stt_and_0_015_pct_stamp():
    c = equity_charges(Side.BUY, Product.CNC, 100, D("1000"), NOW)
    assert (c.brokerage, c.stt, c.stamp) == (D("0.00"), D("100.00"), D("15.00"))


def test_delivery_sell_charges_stt():
    c = equity_charges(Side.SELL, Product.CNC, 100, D("1000"), NOW)
    assert (c.stt, c.stamp) == (D("100.00"), D("0.00"))


def test_components_round_half_up_to_paisa():
    # turnover 1,234.50: exchange 0.00297% = 0.036664… → 0.04; stamp 0.003% = 0.037035 → 0.04
    c = equity_charges(Side.BUY, Product.MIS, 1, D("1234.50"), NOW)
    assert (c.exchange_txn, c.stamp, c.sebi) == (D("0.04"), D("0.04"), D("0.00"))


def test_old_schedule_exchange_fee_is_higher():
    old = schedule_for(date(2024, 9, 30))
    assert equity_charges(Side.BUY, Product.MIS, 100, D("1000"), old).exchange_txn == D("3.22")


def test_second_fill_of_same_order_pays_brokerage_only_up_to_cap():
    # first fill ₹50,000 → ₹15; second ₹50,000 → min(30, 20) − 15 = ₹5
    second = equity_charges(Side.BUY, Product.MIS, 50, D("1000"), NOW, prior_order_turnover=D("50000"))
    assert second.brokerage == D("5.00")


def test_fill_after_cap_reached_pays_no_brokerage():
    c = equity_charges(Side.BUY, Product.MIS, 50, D("1000"), NOW, prior_order_turnover=D("100000"))
    assert c.brokerage == D("0.00")


def test_contract_note_caps_brokerage_per_order_across_fills():
    legs = [ChargeLeg("o1", Side.BUY, Product.MIS, 60, D("1000")), ChargeLeg("o1", Side.BUY, Product.MIS, 60, D("1000"))]
    assert contract_note_charges(legs, NOW).brokerage == D("20.00")


def test_zero_quantity_raises():
    with pytest.raises(ValidationError, match="quantity"):
        equity_charges(Side.BUY, Product.MIS, 0, D("1000"), NOW)


def test_float_price_raises():
    with pytest.raises(ValidationError, match="price"):
        equity_charges(Side.BUY, Product.MIS, 1, 1000.0, NOW)  # type: ignore[arg-type]


def test_negative_component_raises():
    with pytest.raises(ValidationError, match="stt"):
        Charges(stt=D("-0.01"))


def test_square_off_charge_is_50_plus_9_gst():
    c = square_off_charge(NOW)
    assert (c.square_off_fee, c.gst, c.total) == (D("50.00"), D("9.00"), D("59.00"))


def test_dp_charge_is_13_50_plus_2_43_gst_per_scrip_day():
    c = dp_charge(NOW)
    assert (c.dp, c.gst, c.total) == (D("13.50"), D("2.43"), D("15.93"))


def test_charges_add_componentwise():
    a = Charges(brokerage=D("1.00"), gst=D("0.18"))
    assert (a + a) == Charges(brokerage=D("2.00"), gst=D("0.36"))
