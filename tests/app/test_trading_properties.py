"""Property tests through the real store: no fill without an approved risk decision; funds,
positions and the ledger reconcile; positions equal a replay of the stored fills."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.adapters.trading_store import schema as t
from core.broker.events import Fill
from core.charges import Charges
from core.orders import Product, Side
from core.portfolio import LedgerEntry, LedgerKind, Portfolio, apply_fill, new_portfolio, reconcile
from core.timeutil import to_ist
from tests.fixtures_trading import INFY, SBIN, T0, intent, make_desk

STEP = st.tuples(
    st.sampled_from([INFY, SBIN]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=400),  # some break the ₹2 lakh notional cap → refused
    st.sampled_from([Product.MIS, Product.CNC]),
    st.integers(min_value=-30, max_value=30),  # price move in ticks
)
SYMBOL = {INFY: "INFY", SBIN: "SBIN"}
BASE = {INFY: 1000.0, SBIN: 200.0}


@pytest.fixture(scope="module")
def shared(redis_server):
    d = make_desk(f"sqlite:///{tempfile.mkdtemp()}/props.db", redis_server)
    yield d
    d.sql.dispose()


def _reset(d) -> None:
    with d.store.engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(table.delete())
    d.svc._engine._capital_ready = False
    d.svc.save_risk_limits({"wash_trade_minutes": 0, "max_open_positions": 10}, user="risk", now=T0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_fills_have_approved_decisions_and_books_reconcile(shared, steps):
    d = shared
    _reset(d)
    for i, (token, side, qty, product, move) in enumerate(steps):
        at = T0 + timedelta(seconds=30 * (i + 1))
        tick = 0.1 if token == INFY else 0.05
        d.tick(token, round(BASE[token] + move * tick, 2), at=at)
        d.svc.place_manual(intent(token=token, symbol=SYMBOL[token], side=side, qty=qty, product=product),
                           user="prop", now=at)
    with d.store.engine.connect() as conn:
        rows = conn.execute(
            select(t.fills.c.fill_id, t.risk_decisions.c.approved, t.risk_decisions.c.stage)
            .select_from(t.fills.join(t.orders, t.fills.c.order_id == t.orders.c.order_id)
                         .join(t.risk_decisions, t.orders.c.decision_id == t.risk_decisions.c.decision_id))
        ).all()
    assert len(rows) == d.store.count_fills()
    assert all(r.approved and r.stage != "preview" for r in rows)

    # Ledger, positions and fills through the store reconcile (core.portfolio.reconcile).
    fills = d.store.list_fills()
    ledger = tuple(LedgerEntry(e["entry_id"], e["at"], LedgerKind(e["kind"]), Decimal(e["amount"]), e["reference"],
                               int(e["instrument_token"])) for e in d.store.ledger_entries())
    day = to_ist(T0).date()
    book = d.svc._engine.portfolio(day)
    stored = Portfolio(capital=book.capital, mis_leverage=book.mis_leverage, trading_day=day, ledger=ledger,
                       positions=book.positions, applied_fills=frozenset(f["fill_id"] for f in fills),
                       charges_today=book.charges_today, realized_today=book.realized_today)
    assert reconcile(stored) == ()
    funds = d.svc.funds(T0 + timedelta(hours=1))
    assert funds.reconciled and funds.cash == stored.cash
    assert all(Decimal(f["charges_total"]) >= 0 for f in fills)

    # Positions equal a replay of the stored fills through the pure ledger.
    replay = new_portfolio(opened_at=T0, capital=book.capital)
    for f in fills:
        fill = Fill(f["fill_id"], f["order_id"], f["seq"], int(f["instrument_token"]), f["tradingsymbol"],
                    Side(f["side"]), Product(f["product"]), f["quantity"], Decimal(f["price"]),
                    Charges(**{k: Decimal(f[k]) for k in ("brokerage", "stt", "exchange_txn", "sebi", "ipft",
                                                          "stamp", "square_off_fee", "gst")}), f["filled_at"])
        replay = apply_fill(replay, fill, settles_on=f["settles_on"]).portfolio
    got = {k: (p.quantity, p.cost, p.realized_pnl) for k, p in book.positions.items()}
    want = {k: (p.quantity, p.cost, p.realized_pnl) for k, p in replay.positions.items()}
    assert got == want

    # Square-off leaves no MIS position.
    cut = T0.replace(hour=15, minute=20)
    for token in (INFY, SBIN):
        d.tick(token, BASE[token], at=cut)
    d.svc.square_off_mis(cut)
    assert all(p.quantity == 0 for p in d.svc.positions(cut) if p.product == "MIS")
