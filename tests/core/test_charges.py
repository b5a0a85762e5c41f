"""Charges: one exact test per dated row and per rule, each naming its source.

Sources (indian-market.md §3): NSE circulars 46730, 56129, 61137, the 1 Oct 2024 circular and
FA73061 (27 Feb 2026); support.zerodha.com "What is the brokerage at Zerodha for equity",
"How is the STT calculated?", "DP charges for BTST trades", "intraday auto square-off timings".
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.charges import (
    NSE_EQUITY_SCHEDULES,
    ChargeLeg,
    Charges,
    backfilled_schedules,
    contract_note_charges,
    dp_charge,
    equity_charges,
    schedule_for,
    scrip_day_stt,
    square_off_charge,
    square_off_orders,
)
from core.errors import ValidationError
from core.orders import Product, Side

D = Decimal
OCT24 = schedule_for(date(2025, 1, 6))  # the 1 Oct 2024 schedule
MAR26 = schedule_for(date(2026, 3, 2))  # the 1 Mar 2026 schedule
WORKED = [
    ChargeLeg("b1", Side.BUY, Product.MIS, 100, D("1000")),
    ChargeLeg("s1", Side.SELL, Product.MIS, 100, D("1000")),
]


def _txn(day: date) -> Decimal:
    return equity_charges(Side.BUY, Product.MIS, 100, D("1000"), schedule_for(day)).exchange_txn


# ---- dated rows: NSE transaction charge on ₹1,00,000


def test_row_2021_01_01_txn_is_0_00345_pct():
    """NSE circular 46730: 0.00345 % from 1 Jan 2021 to 31 Mar 2023 → ₹3.45 on ₹1,00,000."""
    assert (_txn(date(2021, 1, 1)), _txn(date(2023, 3, 31))) == (D("3.45"), D("3.45"))


def test_row_2023_04_01_txn_is_0_00325_pct():
    """NSE circular 56129: 0.00325 % from 1 Apr 2023 to 31 Mar 2024 → ₹3.25 on ₹1,00,000."""
    assert (_txn(date(2023, 4, 1)), _txn(date(2024, 3, 31))) == (D("3.25"), D("3.25"))


def test_row_2024_04_01_txn_is_0_00322_pct():
    """NSE circular 61137: 0.00322 % from 1 Apr to 30 Sep 2024 → ₹3.22 on ₹1,00,000."""
    assert (_txn(date(2024, 4, 1)), _txn(date(2024, 9, 30))) == (D("3.22"), D("3.22"))


def test_row_2024_10_01_txn_is_0_00297_pct_plus_ipft():
    """NSE circular effective 1 Oct 2024: ₹2.97/lakh = 0.00297 % → ₹2.97, and IPFT ₹10/crore
    levied on top → ₹0.10 on ₹1,00,000, until 28 Feb 2026."""
    for day in (date(2024, 10, 1), date(2026, 2, 28)):
        c = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), schedule_for(day))
        assert (c.exchange_txn, c.ipft) == (D("2.97"), D("0.10"))


def test_row_2026_03_01_txn_is_307_per_crore_including_ipft():
    """NSE circular FA73061 (27 Feb 2026), Zerodha's charges page: ₹306.99 + ₹0.01 IPFT =
    ₹307/crore = 0.00307 % → ₹3.07 on ₹1,00,000; no separate IPFT line, with or without
    ``include_ipft``."""
    with_ipft = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), MAR26)
    without = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), MAR26, include_ipft=False)
    assert (with_ipft.exchange_txn, with_ipft.ipft) == (D("3.07"), D("0.00"))
    assert with_ipft == without


def test_ipft_is_charged_by_default_before_2026():
    """Zerodha passes NSE's IPFT (₹10/crore) on, so it is on by default: ₹0.10 on ₹1,00,000,
    and its GST enters: 18 % × (20 + 2.97 + 0.10 + 0.10) = 4.1706 → ₹4.17."""
    c = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), OCT24)
    assert (c.ipft, c.gst) == (D("0.10"), D("4.17"))


def test_schedule_rows_are_the_five_dated_rows_with_sources():
    """Each row carries its source (a NSE circular): five dates, none back-filled."""
    assert [s.effective_from for s in NSE_EQUITY_SCHEDULES] == [
        date(2021, 1, 1), date(2023, 4, 1), date(2024, 4, 1), date(2024, 10, 1), date(2026, 3, 1)]
    assert all("NSE circular" in s.source for s in NSE_EQUITY_SCHEDULES)


def test_schedule_for_before_first_schedule_raises():
    with pytest.raises(ValidationError, match="first starts 2021-01-01"):
        schedule_for(date(2020, 12, 31))


def test_backfilled_schedules_charge_2016_at_the_2021_rate_and_say_so():
    """Replays of 2016 predate the first row: charged at NSE circular 46730's 0.00345 %."""
    old = schedule_for(date(2016, 8, 17), backfilled_schedules())
    assert old.exchange_txn_rate == D("0.0000345")
    assert old.source.endswith("(back-filled)")


def test_schedule_for_unsorted_table_raises():
    with pytest.raises(ValidationError, match="sorted"):
        schedule_for(date(2025, 1, 1), tuple(reversed(NSE_EQUITY_SCHEDULES)))


# ---- worked examples, indian-market.md §3


def test_worked_example_oct_2024_without_ipft_is_82_45():
    """₹1,00,000 MIS buy + ₹1,00,000 MIS sell, Oct 2024 – Feb 2026 rates, IPFT excluded.

    brokerage   min(0.03% × 1,00,000 = 30, 20) = 20.00 per order × 2      = 40.00
    STT         0.025% × 1,00,000 (sell only) = 25 exactly, to the rupee  = 25.00
    exchange    0.00297% × 2,00,000                                       =  5.94
    SEBI        ₹10/crore × 2,00,000                                      =  0.20
    stamp       0.003% × 1,00,000 (buy only)                              =  3.00
    GST         18% × (40.00 + 5.94 + 0.20) = 8.3052 → 8.31 (half-up)
    total                                                                 = 82.45
    Unchanged by the STT rupee rule (₹25 is whole).
    """
    c = contract_note_charges(WORKED, OCT24, include_ipft=False)
    assert (c.brokerage, c.stt, c.exchange_txn, c.sebi, c.stamp, c.gst) == (
        D("40.00"), D("25.00"), D("5.94"), D("0.20"), D("3.00"), D("8.31")
    )
    assert c.total == D("82.45")


def test_worked_example_oct_2024_with_ipft_is_82_68():
    """Same trades, IPFT ₹10/crore × 2,00,000 = 0.20 (the default now); GST 18% × 46.34 =
    8.3412 → 8.34; 82.45 + 0.20 + 0.03 = 82.68 (indian-market.md's "about ₹82.69" is this,
    rounded per component)."""
    c = contract_note_charges(WORKED, OCT24)
    assert (c.ipft, c.gst, c.total) == (D("0.20"), D("8.34"), D("82.68"))


def test_worked_example_mar_2026_is_82_68():
    """Same trades, 1 Mar 2026 rates (NSE circular FA73061): txn 0.00307% × 2,00,000 = 6.14
    (IPFT included); GST 18% × (40 + 6.14 + 0.20) = 8.3412 → 8.34; total 40 + 25 + 6.14 +
    0.20 + 3 + 8.34 = 82.68."""
    c = contract_note_charges(WORKED, MAR26)
    assert (c.exchange_txn, c.ipft, c.gst, c.total) == (D("6.14"), D("0.00"), D("8.34"), D("82.68"))


def test_worked_example_summed_per_order_is_82_44_without_ipft():
    """Per order, GST is 18% × (20 + 2.97 + 0.10) = 4.1526 → 4.15 on each side: 8.30 not 8.31,
    so two per-fill breakdowns sum to one paisa less than the contract note."""
    buy = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), OCT24, include_ipft=False)
    sell = equity_charges(Side.SELL, Product.MIS, 100, D("1000"), OCT24, include_ipft=False)
    assert (buy.gst, sell.gst) == (D("4.15"), D("4.15"))
    assert buy.total + sell.total == D("82.44")


def test_worked_example_summed_per_order_mar_2026_equals_contract_note():
    """2026: per order txn 3.07, GST 18% × 23.17 = 4.1706 → 4.17 per side; 30.34 + 52.34 = 82.68."""
    buy = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), MAR26)
    sell = equity_charges(Side.SELL, Product.MIS, 100, D("1000"), MAR26)
    assert (buy.total, sell.total) == (D("30.34"), D("52.34"))


# ---- STT per scrip per day, to the rupee (support.zerodha.com, "How is the STT calculated?")


def test_stt_single_fill_rounds_to_the_rupee():
    """7 × ₹333.35 = ₹2,333.45 MIS sell: 0.025% = 0.5834 → ₹1 (was ₹0.58 to the paisa)."""
    c = equity_charges(Side.SELL, Product.MIS, 7, D("333.35"), OCT24)
    assert c.stt == D("1.00")


def test_stt_rounds_half_up_at_exactly_fifty_paise():
    """₹2,000 MIS sell: 0.025% = ₹0.50 exactly → ₹1 (half-up)."""
    assert equity_charges(Side.SELL, Product.MIS, 20, D("100"), OCT24).stt == D("1.00")


def test_stt_three_sells_of_one_scrip_day_sum_to_the_day_total_rounded_once():
    """Three MIS sells of ₹1,400 each: per order 0.35 → ₹0 each (₹0 in all), but the
    scrip-day total 0.025% × 4,200 = 1.05 → ₹1. Increments: R(1,400)=0 − 0 = 0;
    R(2,800)=0.70→1 − 0 = 1; R(4,200)=1.05→1 − 1 = 0: ₹0 + ₹1 + ₹0 = ₹1."""
    got = [equity_charges(Side.SELL, Product.MIS, 14, D("100"), OCT24, prior_day_turnover=D(p)).stt
           for p in ("0", "1400", "2800")]
    assert got == [D("0.00"), D("1.00"), D("0.00")]


def test_stt_delivery_buy_per_scrip_day():
    """CNC buy ₹12,345.60 then ₹10,000: 0.1% = 12.3456 → ₹12; day 22.3456 → ₹22; second fill ₹10."""
    assert scrip_day_stt(D("0"), D("12345.60"), D("0.001")) == D("12.00")
    assert scrip_day_stt(D("12345.60"), D("10000"), D("0.001")) == D("10.00")


def test_contract_note_stt_is_per_scrip_day_class():
    """Two scrips, MIS sells of ₹2,200 each: 0.55 → ₹1 per scrip = ₹2 (one bucket would be 1.10 → ₹1)."""
    legs = [ChargeLeg("a", Side.SELL, Product.MIS, 22, D("100"), instrument_token=1),
            ChargeLeg("b", Side.SELL, Product.MIS, 22, D("100"), instrument_token=2)]
    assert contract_note_charges(legs, OCT24).stt == D("2.00")


def test_contract_note_stt_equals_sum_of_ledger_increments():
    """The contract note's STT for a scrip-day equals the ledger's per-fill increments."""
    legs = [ChargeLeg(f"o{i}", Side.SELL, Product.CNC, 3, D("777.77"), instrument_token=9) for i in range(5)]
    prior, ledger = D(0), D(0)
    for leg in legs:
        ledger += equity_charges(leg.side, leg.product, leg.quantity, leg.price, OCT24, prior_day_turnover=prior).stt
        prior += leg.price * leg.quantity
    assert ledger == contract_note_charges(legs, OCT24).stt == D("12.00")  # 0.1% × 11,666.55 = 11.67 → 12


def test_negative_prior_day_turnover_raises():
    with pytest.raises(ValidationError, match="prior_day_turnover"):
        equity_charges(Side.SELL, Product.MIS, 1, D("100"), OCT24, prior_day_turnover=D("-1"))


# ---- per-fill components (support.zerodha.com, "What is the brokerage at Zerodha for equity")


def test_intraday_buy_caps_brokerage_and_charges_stamp_not_stt():
    c = equity_charges(Side.BUY, Product.MIS, 100, D("1000"), OCT24)
    assert (c.brokerage, c.stt, c.stamp) == (D("20.00"), D("0.00"), D("3.00"))


def test_intraday_small_order_brokerage_is_0_03_pct():
    c = equity_charges(Side.BUY, Product.MIS, 10, D("500"), OCT24)  # ₹5,000 turnover
    assert c.brokerage == D("1.50")


def test_intraday_sell_charges_stt_not_stamp():
    c = equity_charges(Side.SELL, Product.MIS, 100, D("1000"), OCT24)
    assert (c.stt, c.stamp) == (D("25.00"), D("0.00"))


def test_delivery_buy_has_no_brokerage_and_0_1_pct_stt_and_0_015_pct_stamp():
    c = equity_charges(Side.BUY, Product.CNC, 100, D("1000"), OCT24)
    assert (c.brokerage, c.stt, c.stamp) == (D("0.00"), D("100.00"), D("15.00"))


def test_delivery_sell_charges_stt():
    c = equity_charges(Side.SELL, Product.CNC, 100, D("1000"), OCT24)
    assert (c.stt, c.stamp) == (D("100.00"), D("0.00"))


def test_components_round_half_up_to_paisa():
    # turnover 1,234.50: exchange 0.00297% = 0.036664… → 0.04; stamp 0.003% = 0.037035 → 0.04
    c = equity_charges(Side.BUY, Product.MIS, 1, D("1234.50"), OCT24)
    assert (c.exchange_txn, c.stamp, c.sebi) == (D("0.04"), D("0.04"), D("0.00"))


def test_second_fill_of_same_order_pays_brokerage_only_up_to_cap():
    # first fill ₹50,000 → ₹15; second ₹50,000 → min(30, 20) − 15 = ₹5
    second = equity_charges(Side.BUY, Product.MIS, 50, D("1000"), OCT24, prior_order_turnover=D("50000"))
    assert second.brokerage == D("5.00")


def test_fill_after_cap_reached_pays_no_brokerage():
    c = equity_charges(Side.BUY, Product.MIS, 50, D("1000"), OCT24, prior_order_turnover=D("100000"))
    assert c.brokerage == D("0.00")


def test_contract_note_caps_brokerage_per_order_across_fills():
    legs = [ChargeLeg("o1", Side.BUY, Product.MIS, 60, D("1000")), ChargeLeg("o1", Side.BUY, Product.MIS, 60, D("1000"))]
    assert contract_note_charges(legs, OCT24).brokerage == D("20.00")


def test_zero_quantity_raises():
    with pytest.raises(ValidationError, match="quantity"):
        equity_charges(Side.BUY, Product.MIS, 0, D("1000"), OCT24)


def test_float_price_raises():
    with pytest.raises(ValidationError, match="price"):
        equity_charges(Side.BUY, Product.MIS, 1, 1000.0, OCT24)  # type: ignore[arg-type]


def test_negative_component_raises():
    with pytest.raises(ValidationError, match="stt"):
        Charges(stt=D("-0.01"))


def test_charges_add_componentwise():
    a = Charges(brokerage=D("1.00"), gst=D("0.18"))
    assert (a + a) == Charges(brokerage=D("2.00"), gst=D("0.36"))


# ---- auto square-off fee (support.zerodha.com, intraday auto square-off timings)


def test_square_off_charge_is_50_plus_9_gst_per_order():
    c = square_off_charge(OCT24)
    assert (c.square_off_fee, c.gst, c.total) == (D("50.00"), D("9.00"), D("59.00"))


def test_square_off_of_30000_shares_is_one_order():
    """Zerodha squares off at most 30,000 shares per order: 30,000 is exactly one."""
    assert square_off_orders(30_000, OCT24) == 1
    assert square_off_charge(OCT24, 30_000).total == D("59.00")


def test_square_off_of_70000_shares_is_three_orders_three_fees():
    """70,000 shares = 30,000 + 30,000 + 10,000: 3 orders → 3 × (₹50 + ₹9 GST) = ₹177."""
    c = square_off_charge(OCT24, 70_000)
    assert (square_off_orders(70_000, OCT24), c.square_off_fee, c.gst, c.total) == (
        3, D("150.00"), D("27.00"), D("177.00"))


def test_square_off_of_zero_shares_raises():
    with pytest.raises(ValidationError, match="square-off quantity"):
        square_off_orders(0, OCT24)


# ---- DP charge (support.zerodha.com, "DP charges for BTST trades")


def test_dp_charge_before_oct_2024_is_13_50_plus_2_43_gst():
    """₹13.50 + 18% GST = 2.43 → ₹15.93 per scrip per day, up to 30 Sep 2024."""
    c = dp_charge(schedule_for(date(2024, 9, 30)))
    assert (c.dp, c.gst, c.total) == (D("13.50"), D("2.43"), D("15.93"))


def test_dp_charge_from_oct_2024_is_13_plus_2_34_gst():
    """₹13 + 18% GST = 2.34 → ₹15.34 per scrip per day, from 1 Oct 2024 (and in 2026)."""
    for day in (date(2024, 10, 1), date(2026, 3, 2)):
        c = dp_charge(schedule_for(day))
        assert (c.dp, c.gst, c.total) == (D("13.00"), D("2.34"), D("15.34"))


# ---- property: the ledger's STT increments always sum to the contract note's rupee STT


@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.sampled_from([Product.MIS, Product.CNC]),
                          st.integers(1, 500), st.integers(1, 300_000)), min_size=1, max_size=12))
def test_stt_increments_sum_to_the_contract_note_for_any_day(legs):
    """For any day of fills on one scrip, Σ per-fill STT (each the scrip-day increment from the
    turnover of its (product, side) class so far) equals the contract note's per scrip-day STT,
    and every increment is a whole rupee >= 0 (support.zerodha.com, "How is the STT calculated?")."""
    prior: dict[tuple, Decimal] = {}
    total, note_legs = D(0), []
    for i, (side, product, qty, paise) in enumerate(legs):
        price = D(paise) / 100
        c = equity_charges(side, product, qty, price, OCT24, prior_day_turnover=prior.get((side, product), D(0)))
        assert c.stt >= 0 and c.stt == c.stt.to_integral_value()
        total += c.stt
        prior[(side, product)] = prior.get((side, product), D(0)) + price * qty
        note_legs.append(ChargeLeg(f"o{i}", side, product, qty, price, instrument_token=7))
    assert total == contract_note_charges(note_legs, OCT24).stt
