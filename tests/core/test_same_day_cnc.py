"""Same-day CNC netting, BTST and the CNC holdings rule (issue 13, "Same-day CNC").

The issue's round trip: 1,005 shares bought at ₹129.20 (₹1,29,846.00) and sold the same day at
₹130.50 (₹1,31,152.50), a ₹2.61 lakh round trip. It is the smallest round trip on the
₹0.05 grid with round prices that gives both of the issue's figures exactly: ₹289.95 as the desk
charged it (delivery, Oct 2024 schedule without IPFT, per fill) and ₹93.86 as Zerodha charges it
(intraday, 1 Mar 2026 schedule, contract note).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.broker import BrokerState, Fill, OrderRejected, submit
from core.charges import NO_CHARGES, dp_charge, equity_charges, schedule_for
from core.errors import ValidationError
from core.gatekeeper import ChangeKind, GateContext, OrderChange, check
from core.orders import Product, Side
from core.portfolio import LedgerKind, apply_fill, funds, holdings, new_portfolio, reconcile, roll_day
from core.risk.market_rules import HOLDINGS_SOURCE, check_holdings
from core.risk.reasons import ReasonCode
from core.same_day_cnc import ScripDayLeg, netting_adjustment, scrip_day_charges, split_scrip_day
from core.sessions import SessionPhase
from core.timeutil import IST
from tests.factories import INFY, intent

D = Decimal
DAY = date(2026, 12, 2)  # a Wednesday; the 1 Mar 2026 schedule is in force
NEXT = date(2026, 12, 3)
S2026 = schedule_for(DAY)
S2025 = schedule_for(date(2025, 6, 2))  # the 1 Oct 2024 row: 0.00297 %, IPFT on top
QTY, BUY, SELL = 1005, D("129.20"), D("130.50")
TOKEN = INFY.instrument_token


def at(hour: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=IST)


def cnc_fill(order_id: str, side: Side, qty: int, price: Decimal, when: datetime) -> Fill:
    """A CNC fill charged as the paper broker charges it: delivery rates, STT per scrip-day."""
    charges = equity_charges(side, Product.CNC, qty, price, schedule_for(when.date()))
    return Fill(f"{order_id}/1", order_id, 1, TOKEN, "INFY", side, Product.CNC, qty, price, charges, when)


def round_trip_legs() -> list[ScripDayLeg]:
    return [ScripDayLeg("O-b", TOKEN, Side.BUY, QTY, BUY * QTY), ScripDayLeg("O-s", TOKEN, Side.SELL, QTY, SELL * QTY)]


# ---- the two figures ----------------------------------------------------------------


def test_round_trip_as_delivery_on_the_old_schedule_costs_289_95():
    """₹289.95: what the desk charged before issue 13 — both fills at delivery rates, the 1 Oct
    2024 schedule (its table stopped there) with IPFT left off, per fill. Delivery STT 0.1 % both
    sides ₹130 + ₹131, stamp 0.015 % ₹19.48, txn 0.00297 % ₹3.86 + ₹3.90, SEBI ₹0.13 + ₹0.13,
    GST ₹0.72 + ₹0.73. Sources: indian-market.md §3 (cleartax STT; NSE circular of 1 Oct 2024)."""
    buy = equity_charges(Side.BUY, Product.CNC, QTY, BUY, S2025, include_ipft=False)
    sell = equity_charges(Side.SELL, Product.CNC, QTY, SELL, S2025, include_ipft=False)
    assert (buy.stt, buy.stamp, buy.exchange_txn, buy.gst) == (D("130.00"), D("19.48"), D("3.86"), D("0.72"))
    assert (sell.stt, sell.exchange_txn, sell.gst) == (D("131.00"), D("3.90"), D("0.73"))
    assert buy.total + sell.total == D("289.95")


def test_round_trip_netted_as_intraday_on_the_2026_schedule_costs_93_86():
    """₹93.86: Zerodha's figure — a same-day CNC buy and sell is intraday (support.zerodha.com,
    "Why was the brokerage charged on delivery trades?"), on the 1 Mar 2026 schedule (NSE
    circular FA73061: 0.00307 % incl. IPFT). Brokerage ₹20 + ₹20 (0.03 % capped per order), STT
    0.025 % of ₹1,31,152.50 = ₹32.79 → ₹33 per scrip-day to the rupee (support.zerodha.com,
    "How is the STT calculated?"), stamp 0.003 % ₹3.90, txn on the day's ₹2,60,998.50 = ₹8.01,
    SEBI ₹0.26, GST 18 % × ₹48.27 = ₹8.69. Summed per fill the txn would be ₹3.99 + ₹4.03 and
    the GST ₹4.34 + ₹4.35, i.e. ₹93.87: ₹93.86 is the contract-note (day) aggregation."""
    c = scrip_day_charges(round_trip_legs(), S2026)
    assert (c.brokerage, c.stt, c.stamp, c.exchange_txn, c.sebi, c.gst) == (
        D("40.00"), D("33.00"), D("3.90"), D("8.01"), D("0.26"), D("8.69"))
    assert c.total == D("93.86")


def test_desk_ledger_books_the_netted_round_trip_to_the_paisa():
    """The desk's ledger: the broker charges each fill as delivery (₹154.34 + ₹135.91 on the
    2026 schedule); on the sell the portfolio posts a netting credit of ₹196.39, so the day's
    charges are Zerodha's ₹93.86 (source: support.zerodha.com, partial delivery article).
    Cash, realized and charges still reconcile."""
    p = new_portfolio(opened_at=at(9))
    p = apply_fill(p, cnc_fill("O-b", Side.BUY, QTY, BUY, at(10)), settles_on=NEXT, schedule=S2026).portfolio
    p = apply_fill(p, cnc_fill("O-s", Side.SELL, QTY, SELL, at(14)), schedule=S2026).portfolio
    netting = [e for e in p.ledger if e.entry_id.endswith("/netting")]
    assert [e.amount for e in netting] == [D("196.39")] and netting[0].kind is LedgerKind.CHARGES
    assert p.charges_today == D("93.86")
    assert [e for e in p.ledger if e.kind is LedgerKind.DP_CHARGE] == []
    assert reconcile(p) == ()


def test_ledger_rebuilt_from_day_totals_nets_to_within_the_per_fill_paisa():
    """A book rebuilt from stored positions knows only the day's totals per side (the app's
    path): the netting is then the change in netting effect, and the day's charges are the
    per-fill figure ₹93.87 (one paisa of per-fill rounding above the contract note's ₹93.86).
    Source: support.zerodha.com, partial delivery article."""
    p = new_portfolio(opened_at=at(9))
    p = apply_fill(p, cnc_fill("O-b", Side.BUY, QTY, BUY, at(10)), settles_on=NEXT, schedule=S2026).portfolio
    p = replace(p, cnc_day_legs=())  # as the app rebuilds it from a position row
    p = apply_fill(p, cnc_fill("O-s", Side.SELL, QTY, SELL, at(14)), schedule=S2026).portfolio
    assert p.charges_today == D("93.87")


# ---- rule 1: the matched quantity is intraday -------------------------------------------------


def test_partial_sell_splits_matched_quantity_at_average_prices():
    """Rule 1 (support.zerodha.com, partial delivery): buy 100 for ₹10,050 (two fills), sell 40
    for ₹4,100 → 40 intraday at the average buy price ₹100.50, 60 delivery."""
    s = split_scrip_day(100, D("10050"), 40, D("4100"))
    assert (s.intraday_quantity, s.intraday_buy_value, s.intraday_sell_value) == (40, D("4020"), D("4100"))
    assert (s.delivery_buy_quantity, s.delivery_buy_value, s.delivery_sell_quantity) == (60, D("6030"), 0)


def test_split_rejects_a_value_without_shares():
    """Bad input names the fields and the allowed range."""
    with pytest.raises(ValidationError, match="buy_quantity and buy_value must be >= 0"):
        split_scrip_day(0, D("100"), 0, D("0"))


def test_partial_sell_charges_intraday_and_delivery_parts():
    """Rules 1–3 (support.zerodha.com, partial delivery; "How is the STT calculated?"): buy 100
    @ ₹1,000, sell 40 @ ₹1,010 on 2 Dec 2026. Brokerage: both orders intraday, ₹20 + ₹12.12
    (0.03 % of ₹40,400); STT: intraday 0.025 % × ₹40,400 = ₹10.10 → ₹10, delivery buy 0.1 % ×
    ₹60,000 = ₹60; stamp 0.003 % × ₹40,000 + 0.015 % × ₹60,000 = ₹1.20 + ₹9.00."""
    legs = [ScripDayLeg("b", TOKEN, Side.BUY, 100, D("100000")), ScripDayLeg("s", TOKEN, Side.SELL, 40, D("40400"))]
    c = scrip_day_charges(legs, S2026)
    assert (c.brokerage, c.stt, c.stamp) == (D("32.12"), D("70.00"), D("10.20"))


def test_holdings_sold_and_bought_back_charge_intraday_brokerage_on_both_orders():
    """Rule 2 (support.zerodha.com, partial delivery: 50 held shares sold, 25 bought back —
    "intraday charges will be applicable for both orders, regardless of the quantity bought
    back"): sell 50 @ ₹1,500 (₹75,000 → ₹20 cap), buy back 25 @ ₹1,490 (₹37,250 → ₹11.18)."""
    legs = [ScripDayLeg("s", TOKEN, Side.SELL, 50, D("75000")), ScripDayLeg("b", TOKEN, Side.BUY, 25, D("37250"))]
    assert scrip_day_charges(legs, S2026).brokerage == D("31.18")
    assert split_scrip_day(25, D("37250"), 50, D("75000")).intraday_quantity == 25


def test_delivery_only_day_is_not_netted():
    """No same-day sell: delivery rates, zero brokerage and no netting adjustment (Zerodha: ₹0
    delivery brokerage, support.zerodha.com "What is the brokerage at Zerodha for equity")."""
    leg = ScripDayLeg("b", TOKEN, Side.BUY, 10, D("1000"))
    assert scrip_day_charges([leg], S2026).brokerage == D("0")
    assert netting_adjustment([], leg, S2026) == D("0")


def test_scrip_day_leg_rejects_non_positive_quantity():
    """Bad input names the field and the allowed range."""
    with pytest.raises(ValidationError, match="quantity must be a positive whole number"):
        ScripDayLeg("b", TOKEN, Side.BUY, 0, D("100"))


# ---- BTST: T1 shares may be sold; DP charge; proceeds next day ---------------------------------


def _t1_book(qty: int = 10, price: str = "1000"):
    """Bought ``qty`` INFY CNC on 2 Dec 2026 (settles 3 Dec), now on 3 Dec: T1 shares."""
    p = new_portfolio(opened_at=at(9))
    p = apply_fill(p, cnc_fill("O-b", Side.BUY, qty, D(price), at(10)), settles_on=NEXT, schedule=S2026).portfolio
    return roll_day(p, NEXT)


def test_btst_sell_of_t1_shares_is_allowed_by_the_gatekeeper():
    """BTST is allowed (support.zerodha.com, "DP charges for BTST trades"): T1 shares count as
    sellable, so a CNC sell of them passes the holdings rule."""
    p = _t1_book()
    h = holdings(p, NEXT)[0]
    assert (h.quantity, h.t1_quantity, h.sellable) == (0, 10, 10)
    sell = intent(INFY, side=Side.SELL, qty=10, product=Product.CNC)
    assert check_holdings(sell, h.sellable) is None
    decision = check(OrderChange(ChangeKind.PLACE, sell),
                     GateContext(INFY, at(11, NEXT), SessionPhase.NORMAL, holding_quantity=h.sellable))
    assert ReasonCode.INSUFFICIENT_HOLDINGS not in decision.reasons


def test_btst_sell_books_the_dp_charge():
    """BTST: the DP charge applies, ₹13 + 18 % GST = ₹15.34 from Oct 2024 (support.zerodha.com,
    "DP charges for BTST trades")."""
    dp = dp_charge(schedule_for(NEXT)).total
    p = apply_fill(_t1_book(), cnc_fill("O-s", Side.SELL, 10, D("1010"), at(11, NEXT)),
                   dp_charge=dp, schedule=S2026).portfolio
    assert [e.amount for e in p.ledger if e.kind is LedgerKind.DP_CHARGE] == [D("-15.34")]
    assert [e for e in p.ledger if e.entry_id.endswith("/netting")] == []  # not a same-day round trip


def test_btst_proceeds_are_usable_from_the_next_trading_day():
    """BTST proceeds are usable the next day (support.zerodha.com, "DP charges for BTST
    trades"): the ₹10,100 credit is in cash at once but held out of available funds until
    the day rolls."""
    before = _t1_book()
    p = apply_fill(before, cnc_fill("O-s", Side.SELL, 10, D("1010"), at(11, NEXT)), schedule=S2026).portfolio
    f = funds(p, {})
    assert p.btst_proceeds_today == D("10100")
    assert f.cash - before.cash == D("10100") - p.charges_today
    assert f.available_margin == funds(before, {}).available_margin - p.charges_today
    nxt = funds(roll_day(p, date(2026, 12, 4)), {})
    assert nxt.available_margin == f.available_margin + D("10100")


def test_sell_of_settled_holdings_is_usable_the_same_day():
    """A sale of settled holdings is 100 % usable the same day (Zerodha, since 7 Oct 2024,
    support.zerodha.com "unsettled balances"): no BTST hold."""
    p = roll_day(_t1_book(), date(2026, 12, 4))
    assert holdings(p, date(2026, 12, 4))[0].quantity == 10
    p = apply_fill(p, cnc_fill("O-s", Side.SELL, 10, D("1010"), at(11, date(2026, 12, 4))),
                   schedule=S2026).portfolio
    assert p.btst_proceeds_today == D("0")


def test_same_day_round_trip_is_not_a_btst_sale():
    """Selling today's buy is a same-day round trip (intraday), not BTST: no DP charge and no
    held proceeds (support.zerodha.com, partial delivery article)."""
    p = new_portfolio(opened_at=at(9))
    p = apply_fill(p, cnc_fill("O-b", Side.BUY, 10, D("1000"), at(10)), settles_on=NEXT, schedule=S2026).portfolio
    assert holdings(p, DAY)[0].sellable == 10
    p = apply_fill(p, cnc_fill("O-s", Side.SELL, 10, D("1010"), at(14)), dp_charge=D("15.34"),
                   schedule=S2026).portfolio
    assert p.btst_proceeds_today == D("0")
    assert [e for e in p.ledger if e.kind is LedgerKind.DP_CHARGE] == []


# ---- refusals: no holdings at all --------------------------------------------------------------


def test_cnc_sell_without_holdings_is_refused_naming_the_rule_and_source():
    """A CNC sell with neither settled nor T1 shares nor a buy today is a short delivery:
    refused with INSUFFICIENT_HOLDINGS, the allowed range and the rule's source."""
    denial = check_holdings(intent(INFY, side=Side.SELL, qty=5, product=Product.CNC), 0)
    assert denial is not None and denial.code is ReasonCode.INSUFFICIENT_HOLDINGS
    assert "allowed up to 0" in denial.message and "no short delivery" in denial.message
    assert HOLDINGS_SOURCE in denial.message


def test_cnc_sell_without_holdings_leaves_book_funds_and_ledger_unchanged():
    """Refused at the paper exchange (rule: no short delivery, support.zerodha.com), and the
    ledger refuses to book such a fill at all, so funds and ledger are as they were."""
    state = BrokerState()
    sell = intent(INFY, side=Side.SELL, qty=5, product=Product.CNC)
    new_state, events = submit(state, sell, INFY, order_id="O-x", now=at(11), phase=SessionPhase.NORMAL,
                               holding_quantity=0)
    assert isinstance(events[0], OrderRejected)
    assert ReasonCode.INSUFFICIENT_HOLDINGS in events[0].reasons
    assert new_state == state  # the book is unchanged
    p = new_portfolio(opened_at=at(9))
    ledger_before, funds_before = p.ledger, funds(p, {})
    with pytest.raises(ValidationError, match="exceeds the 0 shares held"):
        apply_fill(p, Fill("O-x/1", "O-x", 1, TOKEN, "INFY", Side.SELL, Product.CNC, 5, D("1000"), NO_CHARGES, at(11)))
    assert len(ledger_before) == 1 and p.ledger == ledger_before and funds(p, {}) == funds_before
    assert funds_before.available_margin == D("1000000.00")


# ---- property: the day's booked charges are the netted contract note ---------------------------

_FILLS = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 400),
                            st.integers(9000, 11000)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(_FILLS)
def test_booked_charges_of_a_netted_scrip_day_equal_the_contract_note(fills):
    """For any day of CNC fills of one scrip (sells capped by the shares held), once the day
    is netted the ledger's charges for it are exactly ``scrip_day_charges`` of its legs, and the
    books reconcile (support.zerodha.com, partial-delivery article)."""
    p = _t1_book(qty=1000)
    legs = []
    for i, (side, qty, paise) in enumerate(fills):
        if side is Side.SELL:
            qty = min(qty, p.position_quantity(TOKEN, Product.CNC))
            if qty == 0:
                continue
        price = D(paise) / 10  # ₹900.0–1,100.0 on the 0.05 grid
        f = cnc_fill(f"O-{i}", side, qty, price, at(10, NEXT) + (at(11) - at(10)) * i / 10)
        p = apply_fill(p, f, settles_on=date(2026, 12, 4), schedule=S2026).portfolio
        legs.append(ScripDayLeg(f.order_id, TOKEN, side, qty, f.turnover))
    assert reconcile(p) == ()
    if not legs:
        return
    buys = sum(g.quantity for g in legs if g.side is Side.BUY)
    sells = sum(g.quantity for g in legs if g.side is Side.SELL)
    if buys and sells:
        assert p.charges_today == scrip_day_charges(legs, S2026).total
    else:
        assert not [e for e in p.ledger if e.entry_id.endswith("/netting")]
