"""core.margins and the funds it feeds (core.portfolio.funds): one exact test per rule and per
bundled row, each naming its source."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from core.broker import Fill
from core.charges import Charges
from core.errors import ValidationError
from core.margins import (
    MIS_MARGIN_SOURCE,
    MarginRow,
    MarginRules,
    MarginTable,
    check_mis_eligible,
    open_orders_margin,
)
from core.orders import OrderType, Product, Side
from core.portfolio import apply_fill, funds, new_portfolio, roll_day
from core.risk import ReasonCode
from core.timeutil import IST
from tests.factories import INFY, SBIN, intent

D = Decimal
OPEN = datetime(2026, 6, 15, 9, 0, tzinfo=IST)
T = datetime(2026, 6, 15, 10, 0, tzinfo=IST)
NO_CHARGES = Charges(*(D(0),) * 9)
TABLE = MarginTable(
    as_of=date(2026, 6, 12), source="test list",
    rows={"INFY": MarginRow("INFY", D("7.93"), D("3.50")),  # 11.43 % → the 20 % floor
          "YESBANK": MarginRow("YESBANK", D("20.50"), D("3.50"), D("1.00")),  # 25 % > floor
          "3MINDIA": MarginRow("3MINDIA", D("7.50"), D("3.50"), mis_eligible=False)},
)
RULES = MarginRules(TABLE)


def fill(n: int, side: Side, qty: int, price: str, *, product=Product.MIS, inst=INFY, at=T) -> Fill:
    return Fill(f"f{n}", f"o{n}", 1, inst.instrument_token, inst.tradingsymbol, side, product, qty, D(price),
                NO_CHARGES, at + timedelta(seconds=n))


# ---- rule 1: MIS margin = max(20 %, VaR + ELM + ad hoc)


def test_mis_margin_below_the_floor_blocks_20_percent():
    """SEBI peak-margin rules (zerodha.com/marketintel/bulletin/249809); Zerodha support "What are
    the margins for intraday equity (MIS)?": VaR 7.93 + ELM 3.50 = 11.43 % < 20 %, so 20 % of
    ₹1,00,000 = ₹20,000."""
    assert RULES.mis_pct("INFY") == D(20)
    assert RULES.required(intent(INFY, qty=100), D("1000")) == D("20000.00")


def test_mis_margin_above_the_floor_blocks_var_plus_elm_plus_adhoc():
    """Same source: VaR 20.50 + ELM 3.50 + ad hoc 1.00 = 25 % > 20 %: ₹25,000 on ₹1,00,000."""
    order = intent(10, "YESBANK", qty=5000)
    assert RULES.mis_pct("YESBANK") == D("25.00")
    assert RULES.required(order, D("20")) == D("25000.00")


def test_max_leverage_below_five_raises_the_floor_and_above_five_does_not_lower_it():
    """DESK_MIS_LEVERAGE is a ceiling: 4× means at least 25 %; 10× still 20 % (SEBI floor)."""
    assert MarginRules(TABLE, D(4)).required(intent(INFY, qty=100), D("1000")) == D("25000.00")
    assert MarginRules(TABLE, D(10)).required(intent(INFY, qty=100), D("1000")) == D("20000.00")


def test_without_a_table_every_stock_is_at_the_floor_and_eligible():
    rules = MarginRules()
    assert rules.required(intent(SBIN, qty=100), D("800")) == D("16000.00") and rules.mis_eligible("ANY")


# ---- rules 3 and 4: CNC buys 100 %, exits and CNC sells nothing


def test_cnc_buy_blocks_the_full_value_and_cnc_sell_nothing():
    """Zerodha: delivery (CNC) needs 100 % of the trade value; selling holdings blocks nothing."""
    assert RULES.required(intent(INFY, qty=10, product=Product.CNC), D("1500")) == D("15000.00")
    assert RULES.required(intent(INFY, side=Side.SELL, qty=10, product=Product.CNC), D("1500"), 10) == D("0.00")


def test_an_mis_exit_blocks_nothing_but_a_reversal_blocks_margin():
    assert RULES.required(intent(INFY, side=Side.SELL, qty=10), D("1500"), position_quantity=10) == D(0)
    assert RULES.required(intent(INFY, side=Side.SELL, qty=20), D("1500"), position_quantity=10) == D("6000.00")


# ---- rule 2: MIS only on the eligible list


def test_mis_entry_on_a_stock_off_the_list_is_refused_naming_the_rule_and_source():
    """Zerodha support "What are the margins for intraday equity (MIS)?": MIS only on the eligible list."""
    denial = check_mis_eligible(False, intent(1, "3MINDIA", qty=1), RULES)
    assert denial is not None and denial.code is ReasonCode.MIS_NOT_ELIGIBLE
    assert "3MINDIA" in denial.message and MIS_MARGIN_SOURCE in denial.message and "2026-06-12" in denial.message
    assert check_mis_eligible(False, intent(1, "UNLISTED", qty=1), RULES) is not None  # not in the table


def test_exits_and_cnc_orders_pass_the_eligibility_rule():
    assert check_mis_eligible(True, intent(1, "3MINDIA", side=Side.SELL, qty=1), RULES) is None
    assert check_mis_eligible(False, intent(1, "3MINDIA", qty=1, product=Product.CNC), RULES) is None


# ---- rule 5: Kite's order_margins as a port


def test_kite_order_margins_figure_replaces_the_table_when_it_answers():
    """Kite Connect docs, ``order_margins``: the exact figure with a real account."""
    quoted = MarginRules(TABLE, exact=lambda i, p: D("18123.456"))
    silent = MarginRules(TABLE, exact=lambda i, p: None)
    assert quoted.required(intent(INFY, qty=100), D("1000")) == D("18123.46")
    assert silent.required(intent(INFY, qty=100), D("1000")) == D("20000.00")


# ---- the table is validated data


@pytest.mark.parametrize("kw, field", [(dict(var_pct=D(-1)), "var_pct"), (dict(elm_pct=D(101)), "elm_pct"),
                                       (dict(adhoc_pct=1.5), "adhoc_pct")])
def test_bad_margin_row_names_the_field_and_range(kw, field):
    base = dict(tradingsymbol="X", var_pct=D(10), elm_pct=D("3.5"))
    with pytest.raises(ValidationError, match=f"{field} must be Decimal percent from 0 to 100"):
        MarginRow(**{**base, **kw})


def test_table_needs_a_source_and_rules_a_leverage_of_at_least_one():
    with pytest.raises(ValidationError, match="source"):
        MarginTable(as_of=date(2026, 1, 1), source=" ")
    with pytest.raises(ValidationError, match="max_leverage must be a Decimal >= 1"):
        MarginRules(TABLE, D("0.5"))


def test_bundled_table_is_dated_derived_and_has_the_exact_rows():
    """app/data/nse/margins_2026-06-12_derived.csv, built by tools/build_margins.py (NSE VaR method:
    EWMA λ 0.94, max(3.5σ, 7.5 %); ELM 3.5 %; MIS list = NIFTY 500 ∩ the NFO dump's stock futures)."""
    from app.adapters.bundled_market import margin_table

    table = margin_table()
    assert table.as_of == date(2026, 6, 12) and "derived" in table.source
    assert table.row("INFY") == MarginRow("INFY", D("7.93"), D("3.50"), D("0.00"), True)
    assert table.row("3MINDIA") == MarginRow("3MINDIA", D("7.50"), D("3.50"), D("0.00"), False)  # no F&O
    assert MarginRules(table).mis_pct("INFY") == D(20)


# ---- open orders block margin (shared by funds and the gatekeeper)


def test_open_orders_margin_sums_each_unfilled_part_and_skips_exits():
    orders = [(intent(INFY, qty=10, product=Product.CNC, order_type=OrderType.LIMIT, price=D("990")), D("990")),
              (intent(INFY, qty=100, order_type=OrderType.LIMIT, price=D("1000")), D("1000")),
              (intent(SBIN, side=Side.SELL, qty=5, order_type=OrderType.LIMIT, price=D("800")), D("800"))]
    held = {(SBIN.instrument_token, Product.MIS): 5}
    assert open_orders_margin(orders, lambda t, p: held.get((t, p), 0), RULES) == D("29900.00")  # 9,900 + 20,000


# ---- funds: blocked + available, intraday profit T+1, CNC proceeds same day


def test_funds_show_an_open_cnc_limit_buy_as_margin_used():
    """Zerodha Funds: "Margin used" includes open orders' blocked margin."""
    pf = new_portfolio(opened_at=OPEN, margins=TABLE)
    order = intent(INFY, qty=10, product=Product.CNC, order_type=OrderType.LIMIT, price=D("990"))
    f = funds(pf, {}, [(order, D("990"))])
    assert (f.used_margin, f.order_margin, f.available_margin) == (D("9900.00"), D("9900.00"), D("990100.00"))
    assert funds(pf, {}).used_margin == D(0)  # cancelled or filled: released


def test_open_mis_position_blocks_its_stock_margin():
    pf = apply_fill(new_portfolio(opened_at=OPEN, margins=TABLE), fill(1, Side.BUY, 100, "1000")).portfolio
    f = funds(pf, {INFY.instrument_token: D("1000")})
    assert (f.position_margin, f.available_margin) == (D("20000.00"), D("980000.00"))


def test_intraday_profit_is_usable_only_from_the_next_trading_day():
    """Zerodha support "unsettled balances": realised intraday (MIS) profit is usable from T+1."""
    pf = new_portfolio(opened_at=OPEN, margins=TABLE)
    pf = apply_fill(pf, fill(1, Side.BUY, 100, "1000")).portfolio
    pf = apply_fill(pf, fill(2, Side.SELL, 100, "1050")).portfolio  # ₹5,000 profit
    f = funds(pf, {})
    assert (f.cash, f.held_profit, f.available_margin) == (D("1005000"), D("5000"), D("1000000"))
    assert funds(roll_day(pf, date(2026, 6, 16)), {}).available_margin == D("1005000")


def test_intraday_loss_reduces_available_the_same_day():
    pf = new_portfolio(opened_at=OPEN, margins=TABLE)
    pf = apply_fill(pf, fill(1, Side.BUY, 100, "1000")).portfolio
    pf = apply_fill(pf, fill(2, Side.SELL, 100, "950")).portfolio
    f = funds(pf, {})
    assert (f.held_profit, f.available_margin) == (D(0), D("995000"))


def test_cnc_sale_proceeds_are_usable_the_same_day():
    """Zerodha support "unsettled balances": 100 % of a CNC sale's proceeds usable the same day (since 7 Oct 2024)."""
    pf = new_portfolio(opened_at=OPEN, margins=TABLE)
    pf = apply_fill(pf, fill(1, Side.BUY, 100, "1000", product=Product.CNC), settles_on=date(2026, 6, 16)).portfolio
    pf = roll_day(pf, date(2026, 6, 17))  # settled (on the 16th they were T1: a BTST sale, credited T+1)
    pf = apply_fill(pf, fill(2, Side.SELL, 100, "1100", product=Product.CNC, at=T + timedelta(days=2))).portfolio
    f = funds(pf, {})
    assert (f.held_profit, f.available_margin) == (D(0), D("1010000"))
    assert replace(pf, margins=None).margin_rules.table is None
