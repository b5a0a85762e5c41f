"""Market protection on the desk (issue 13): the protection price and ``market_protection``
stored on the order row and shown in the order book, margin judged at the protection price,
and bad input refused with the rule and its source — through the real ``TradingService`` on a
real SQLite/PostgreSQL store and the real Redis tick cache (``tests/fixtures_trading.py``).

Source of the rule: Kite Connect market protection from 1 Apr 2026 (kite.trade forum
discussion 15912, comments 52940 and 52970; Zerodha support: market protection;
``../shared/docs/indian-market.md`` §3b): Kite converts API MARKET and SL-M orders into LIMIT
orders at LTP ± the band (0.5 % above ₹500) and blocks margin for that LIMIT.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, inspect

from app.adapters.trading_store import TradingStore
from app.adapters.trading_store import schema as trading_schema
from app.adapters.trading_store.store import add_missing_columns
from app.trading.config import TradingConfig
from app.trading.rows import order_from_row
from app.ui.book_widgets import orders_frame
from app.ui.order_ticket import protection_preview, protection_text, ticket_intent
from core.errors import ValidationError
from core.orders import OrderType, Product, Side
from core.timeutil import IST
from tests.fixtures_trading import INFY, T0, desk, intent, make_desk, pg_desk  # noqa: F401
from tests.servers import postgres_database

D = Decimal
#: A regular NSE session after the rule started (Wednesday 3 Jun 2026, 10:00 IST).
T26 = datetime(2026, 6, 3, 10, 0, tzinfo=IST)
NEW_COLUMNS = {"trading_orders": ("market_protection", "protection_price"), "trading_approvals": ("market_protection",)}


def _desk(tmp_path, redis_url, **config):
    return make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url,
                     config=TradingConfig(slippage_bps=D(0), **config))


def _unchanged(d, now):
    """What a refusal must leave as it was: ledger, positions, fills, orders and funds."""
    f = d.svc.funds(now)
    return d.ledger_snapshot(), len(d.svc.order_book()), (f.cash, f.available, f.margin_used)


# ------------------------------------------------------------------ margin at the protection price


def test_market_buy_margin_is_judged_at_the_protection_price_not_the_ltp(tmp_path, redis_url):
    """Kite blocks margin for the LIMIT a protected MARKET order becomes (Kite Connect market
    protection from 1 Apr 2026, kite.trade forum 15912 / comment 52940; ``core.margins`` rule 6).
    CNC BUY 10 INFY at LTP ₹1,000.00, band 0.5 % (above ₹500), tick ₹0.10: protection
    ₹1,005.00, so the order needs ₹10,050.00 — with ₹10,040 of capital it is refused (at the
    LTP it would have needed ₹10,000.00 and passed)."""
    d = _desk(tmp_path, redis_url, capital=D("10040"))
    d.tick(INFY, 1000.0, at=T26, spread=0.1)
    before = _unchanged(d, T26)
    out = d.svc.place_manual(intent(product=Product.CNC), user="trader", now=T26)
    assert not out.ok and out.reasons == ("INSUFFICIENT_MARGIN",)
    assert "needs ₹10,050.00 margin; ₹10,040.00 available" in out.messages[0]
    assert _unchanged(d, T26) == before


def test_market_buy_with_just_enough_for_the_protection_price_is_placed(tmp_path, redis_url):
    """Same order with ₹10,050 of capital: exactly the margin at the protection price
    ₹1,005.00 (kite.trade forum 15912 / comment 52940): placed, filled at the ask ₹1,000.10."""
    d = _desk(tmp_path, redis_url, capital=D("10050"))
    d.tick(INFY, 1000.0, at=T26, spread=0.1)
    out = d.svc.place_manual(intent(product=Product.CNC), user="trader", now=T26)
    assert out.ok, out.messages
    [order] = d.svc.order_book()
    assert order.status == "COMPLETE" and order.average_price == D("1000.10")
    assert order.protection_price == D("1005.00") and order.market_protection is None


def test_before_the_rule_a_market_buy_is_still_judged_at_the_ltp(tmp_path, redis_url):
    """Before 2026-04-01 there is no market protection (``core.market_protection``): the same
    order on 17 Aug 2016 needs ₹10,000.00 at the LTP and passes with ₹10,040."""
    d = _desk(tmp_path, redis_url, capital=D("10040"))
    d.tick(INFY, 1000.0, at=T0, spread=0.1)
    out = d.svc.place_manual(intent(product=Product.CNC), user="trader", now=T0)
    assert out.ok, out.messages
    [order] = d.svc.order_book()
    assert order.protection_price is None


def test_resting_protected_market_order_blocks_margin_at_its_protection_price(desk):  # noqa: F811
    """A MARKET BUY whose best ask (₹1,010.00) is beyond its protection price ₹1,005.00 rests
    as a LIMIT at ₹1,005.00 (Kite; ``core.broker.matching`` rule 11). The order row keeps that
    price and its ``market_protection``; funds block 10 × ₹1,005.00 = ₹10,050.00 (CNC, 100 %);
    a later tick does not move it (Kite's LIMIT stays where it was placed): at LTP ₹1,004.50
    and ask ₹1,006.00 it stays open (re-deriving from the new LTP would give ₹1,009.50)."""
    desk.tick(INFY, 1000.0, at=T26, spread=10.0)
    out = desk.svc.place_manual(intent(product=Product.CNC, market_protection=D(-1)), user="trader", now=T26)
    assert out.ok, out.messages
    [order] = desk.svc.order_book()
    assert (order.status, order.filled_quantity) == ("OPEN", 0)
    assert order.protection_price == D("1005.00") and order.market_protection == D(-1)
    assert desk.svc.funds(T26).margin_used == D("10050.00")
    row = desk.store.get_order(order.order_id)
    assert order_from_row(row).protection_price == D("1005.00")

    later = T26 + timedelta(seconds=30)
    desk.tick(INFY, 1004.5, at=later, spread=1.5)
    desk.svc.match_open_orders(later)
    [order] = desk.svc.order_book()
    assert (order.status, order.protection_price) == ("OPEN", D("1005.00"))

    table = orders_frame(desk.svc.order_book())
    assert table.iloc[0]["protection"] == "₹1,005.00 (auto)"

    fill_at = T26 + timedelta(seconds=60)
    desk.tick(INFY, 1004.0, at=fill_at, spread=0.5)  # ask ₹1,004.50, inside the protection
    desk.svc.match_open_orders(fill_at)
    [order] = desk.svc.order_book()
    assert (order.status, order.average_price) == ("COMPLETE", D("1004.50"))
    assert desk.svc.funds(fill_at).margin_used == D("0")


def test_slm_waiting_for_its_trigger_blocks_margin_at_the_trigger_protection(desk):  # noqa: F811
    """An SL-M is converted when it triggers, at about its trigger (Kite market protection,
    kite.trade comment 52940): CNC BUY SL-M 10 INFY, trigger ₹1,010.00, band 0.5 %: margin
    at ₹1,015.05 rounded down to the ₹0.10 tick = ₹1,015.00, i.e. ₹10,150.00 blocked."""
    desk.tick(INFY, 1000.0, at=T26)
    out = desk.svc.place_manual(intent(product=Product.CNC, order_type=OrderType.SL_M, trigger_price=D("1010.0")),
                                user="trader", now=T26)
    assert out.ok, out.messages
    [order] = desk.svc.order_book()
    assert order.status == "TRIGGER PENDING" and order.protection_price is None
    assert desk.svc.funds(T26).margin_used == D("10150.00")


def test_explicit_market_protection_is_stored_and_shown(desk):  # noqa: F811
    """Kite: a positive ``market_protection`` is the protection percent (kite.trade comment
    52940): 2.5 % at LTP ₹1,000.00 → ₹1,025.00, stored on the approval and the order."""
    desk.tick(INFY, 1000.0, at=T26, spread=30.0)  # ask ₹1,030.00 > ₹1,025.00: rests
    out = desk.svc.place_manual(intent(market_protection=D("2.5")), user="trader", now=T26)
    assert out.ok, out.messages
    [order] = desk.svc.order_book()
    assert (order.market_protection, order.protection_price) == (D("2.5"), D("1025.00"))
    assert desk.store.get_approval(order.approval_id)["market_protection"] == D("2.5")
    assert protection_text(order.market_protection, order.protection_price) == "₹1,025.00 (2.5 %)"


def test_order_rows_carry_market_protection_on_postgresql(pg_desk):  # noqa: F811
    """The same columns on PostgreSQL (the generated Supabase migration adds them too)."""
    pg_desk.tick(INFY, 1000.0, at=T26, spread=10.0)
    out = pg_desk.svc.place_manual(intent(market_protection=D(3)), user="trader", now=T26)
    assert out.ok, out.messages
    [order] = pg_desk.svc.order_book()
    assert (order.market_protection, order.protection_price) == (D(3), D("1030.00")) and order.status == "COMPLETE"


# ------------------------------------------------------------------ bad input


def test_market_order_protected_beyond_the_price_band_is_refused_with_rule_and_source(desk):  # noqa: F811
    """A protected MARKET order is a LIMIT at the protection price, and NSE rejects limits
    outside the price band (Kite market protection, kite.trade comment 52940: "execution remains
    subject to the exchange-defined limit price protection"; NSE dynamic price range 10 %):
    market_protection 20 % at LTP ₹1,000.00 → ₹1,200.00, beyond the upper circuit ₹1,100.00.
    Refused with OUTSIDE_CIRCUIT; funds, margin and ledger unchanged; no order."""
    desk.tick(INFY, 1000.0, at=T26)
    before = _unchanged(desk, T26)
    out = desk.svc.place_manual(intent(market_protection=D(20)), user="trader", now=T26)
    assert not out.ok and out.reasons == ("OUTSIDE_CIRCUIT",)
    message = out.messages[0]
    assert "protected at ₹1,200.00 (market_protection 20 %)" in message and "upper circuit ₹1,100.00" in message
    assert "kite.trade forum 15912" in message and "Lower market_protection" in message
    assert _unchanged(desk, T26) == before


@pytest.mark.parametrize("bad", [0.0, 150.0, -5.0])
def test_market_protection_out_of_range_is_refused_with_rule_and_source(desk, bad):  # noqa: F811
    """Kite accepts ``market_protection`` -1 (automatic) or 0 < p <= 100 and refuses 0 (Kite
    Connect from 1 Apr 2026, kite.trade forum comments 52940 and 52970). The ticket's value is
    refused before anything reaches the desk: funds, margin and ledger unchanged."""
    desk.tick(INFY, 1000.0, at=T26)
    before = _unchanged(desk, T26)
    inst = desk.svc.instruments.resolve("NSE:INFY")
    with pytest.raises(ValidationError) as err:
        ticket_intent(inst, side="BUY", quantity=10, product="MIS", order_type="MARKET", price=None,
                      trigger_price=None, validity="DAY", stop_loss=None, target=None,
                      protection_mode="Percent", protection_percent=bad)
    text = str(err.value)
    assert "market_protection must be -1 (automatic) or a percent 0 < p <= 100" in text
    assert "kite.trade forum comments 52940 and 52970" in text
    assert _unchanged(desk, T26) == before


def test_ticket_protection_choices_and_preview(desk):  # noqa: F811
    """The ticket sends -1 for Automatic and the percent for Percent, only on MARKET/SL-M, and
    previews the protection price by the same rule the exchange fills by."""
    inst = desk.svc.instruments.resolve("NSE:INFY")
    base = dict(side="BUY", quantity=10, product="MIS", price=None, trigger_price=None, validity="DAY",
                stop_loss=None, target=None)
    auto = ticket_intent(inst, order_type="MARKET", **base)
    assert auto.market_protection == D(-1)
    pct = ticket_intent(inst, order_type="MARKET", protection_mode="Percent", protection_percent=1.5, **base)
    assert pct.market_protection == D("1.5")
    limit = ticket_intent(inst, order_type="LIMIT", **{**base, "price": 990.0}, protection_mode="Percent",
                          protection_percent=0.0)
    assert limit.market_protection is None  # Kite ignores it on LIMIT; a stale 0 does not refuse
    assert protection_preview(auto, inst, D("1000.00"), T26) == (
        "MARKET, protected at ₹1,005.00 (LTP ₹1,000.00 + 0.5 %, automatic)")
    sell = ticket_intent(inst, order_type="MARKET", **{**base, "side": "SELL"}, protection_mode="Percent",
                         protection_percent=1.5)
    assert protection_preview(sell, inst, D("1000.00"), T26) == (
        "MARKET, protected at ₹985.00 (LTP ₹1,000.00 − 1.5 %, market_protection)")
    assert "no market protection on 2016-08-17" in protection_preview(auto, inst, D("1000.00"), T0)
    assert protection_preview(limit, inst, D("1000.00"), T26) is None
    assert protection_text(None, None) == ""


# ------------------------------------------------------------------ the columns on an existing database


def _old_metadata() -> MetaData:
    """The trading tables as the release before these columns shipped."""
    md = MetaData()
    for table in trading_schema.metadata.sorted_tables:
        skip = NEW_COLUMNS.get(table.name, ())
        Table(table.name, md, *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                                for c in table.columns if c.name not in skip])
    return md


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_an_existing_sqlite_database_gets_the_new_nullable_columns(tmp_path):
    """``TradingStore`` adds the nullable columns an older database lacks (``create_all``
    never alters a table); a second start adds nothing."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _old_metadata().create_all(engine)
    assert "protection_price" not in _columns(engine, "trading_orders")
    TradingStore(engine)
    for table, cols in NEW_COLUMNS.items():
        assert set(cols) <= _columns(engine, table)
    assert add_missing_columns(engine) == []
    engine.dispose()


def test_an_existing_postgresql_database_gets_the_new_nullable_columns():
    """The same on PostgreSQL (``ALTER TABLE … ADD COLUMN IF NOT EXISTS``), on a fresh database."""
    with postgres_database() as url:
        engine = create_engine(url)
        _old_metadata().create_all(engine)
        assert sorted(add_missing_columns(engine)) == sorted(
            f"{t}.{c}" for t, cols in NEW_COLUMNS.items() for c in cols)
        for table, cols in NEW_COLUMNS.items():
            assert set(cols) <= _columns(engine, table)
        TradingStore(engine)  # starts on the upgraded schema
        engine.dispose()


def test_a_missing_not_null_column_says_which_migration_to_apply(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    md = MetaData()
    for table in trading_schema.metadata.sorted_tables:
        skip = ("status_message",) if table.name == "trading_orders" else ()
        Table(table.name, md, *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                                for c in table.columns if c.name not in skip])
    md.create_all(engine)
    with pytest.raises(ValidationError, match=r"trading_orders.status_message is missing and NOT NULL.*migrations"):
        add_missing_columns(engine)
    engine.dispose()


def test_a_strategy_sets_market_protection_and_the_approved_order_carries_it(desk):  # noqa: F811
    """A strategy (API caller) sets ``market_protection`` as Kite allows (kite.trade comment
    52940): 1.5 % rides the approval to the order: LTP ₹1,000.00 → ₹1,015.00."""
    desk.tick(INFY, 1000.0, at=T26, spread=20.0)  # ask ₹1,020.00 > ₹1,015.00: rests
    view = desk.svc.propose(intent(market_protection=D("1.5"), strategy="orb"), signal_price=D("1000"),
                            reason="ORB", now=T26)
    out = desk.svc.approve(view.approval_id, user="trader", now=T26)
    assert out.ok, out.messages
    desk.svc.execute_approval(view.approval_id, now=T26)
    [order] = desk.svc.order_book()
    assert (order.market_protection, order.protection_price, order.status) == (D("1.5"), D("1015.00"), "OPEN")


def test_modifying_a_resting_protected_order_keeps_its_protection_price(desk):  # noqa: F811
    """Kite keeps a modified MARKET order's protection (kite.trade forum comment 52331): after
    the LTP moves to ₹1,002.00, halving the quantity keeps ₹1,005.00, and the margin blocked
    is 5 × ₹1,005.00 = ₹5,025.00 (CNC); changing it to a LIMIT drops the protection."""
    desk.tick(INFY, 1000.0, at=T26, spread=10.0)
    assert desk.svc.place_manual(intent(product=Product.CNC), user="trader", now=T26).ok
    [order] = desk.svc.order_book()
    later = T26 + timedelta(seconds=20)
    desk.tick(INFY, 1002.0, at=later, spread=10.0)
    out = desk.svc.modify_order(order.order_id, quantity=5, user="trader", now=later)
    assert out.ok, out.messages
    [order] = desk.svc.order_book()
    assert (order.quantity, order.protection_price) == (5, D("1005.00"))
    assert desk.svc.funds(later).margin_used == D("5025.00")
    out = desk.svc.modify_order(order.order_id, order_type="LIMIT", price=D("995.0"), user="trader", now=later)
    assert out.ok, out.messages
    [order] = desk.svc.order_book()
    assert (order.order_type, order.protection_price) == ("LIMIT", None)
    assert desk.svc.funds(later).margin_used == D("4975.00")
