"""The proposal path's reads (issue 18 benchmark): the gatekeeper's facts come from one store
connection and one tick-cache read, in a bounded number of statements, on both stores; the
limits in force are parsed once per saved version, and a save by any process (here a second
service on the same store, as the Settings page in another process) takes effect on the very
next decision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from app.trading.service import TradingService
from tests.fixtures_trading import INFY, SBIN, T0, D, desk, intent, pg_desk  # noqa: F401

#: A proposal: 10 reads on one connection (ledger sums, positions, fill sums, T1 buys, order
#: counts, closing fills, last fills, desk state, limits, open orders), then the approval,
#: its preview decision and audit row in one transaction.
PROPOSE_STATEMENTS = 13
#: ... of which SQLAlchemy sees these on PostgreSQL: the write transaction is pipelined below it
#: (``app.adapters.trading_store.pg_pipeline``; ``tests/app/test_fill_statements.py`` counts such
#: writes on the wire).
PG_PROPOSE_STATEMENTS = PROPOSE_STATEMENTS - 3


@pytest.fixture(params=["sqlite", "postgresql"])
def any_desk(request):
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")


def _propose(d, qty: int = 1, at=T0):
    return d.svc.propose(intent(qty=qty), signal_price=D("1000"), reason="test", now=at)


def test_a_proposal_reads_on_one_connection_with_one_tick_read(any_desk):
    d = any_desk
    d.tick(INFY, 1000.0)
    d.tick(SBIN, 250.0)
    assert d.svc.place_manual(intent(SBIN, "SBIN", qty=2), user="t", now=T0).ok  # an open position to mark
    _propose(d)  # warm (the opening capital row is checked once per process)
    statements: list[str] = []
    checkouts: list[int] = []
    event.listen(d.store.engine, "before_cursor_execute", lambda c, cur, s, *a: statements.append(s))
    event.listen(d.store.engine.pool, "checkout", lambda *a: checkouts.append(1))
    tick_reads: list[list[int]] = []
    latest = d.ticks.latest

    def counted(tokens):
        tick_reads.append(sorted(tokens))
        return latest(tokens)

    d.ticks.latest = counted
    view = _propose(d)
    assert view.risk_preview.approved, view.risk_preview.messages
    assert tick_reads == [sorted([INFY, SBIN])]
    pg = d.store.dialect == "postgresql"
    assert len(statements) == (PG_PROPOSE_STATEMENTS if pg else PROPOSE_STATEMENTS), statements
    assert len(checkouts) == 2  # the reads' connection and the write transaction's


def test_saved_limits_take_effect_on_the_next_proposal_even_from_another_service(any_desk):
    d = any_desk
    d.tick(INFY, 1000.0)
    assert _propose(d, qty=5).risk_preview.approved
    other = TradingService(None, d.store, d.svc.instruments, d.ticks, config=d.svc.config)  # another process
    other.save_risk_limits({"max_order_quantity": 3}, user="risk", now=T0)
    refused = _propose(d, qty=5, at=T0 + timedelta(seconds=1))
    assert refused.risk_preview.reasons == ("ORDER_QUANTITY",), refused.risk_preview
    d.svc.save_risk_limits({"max_order_quantity": 10}, user="risk", now=T0 + timedelta(seconds=2))
    assert _propose(d, qty=5, at=T0 + timedelta(seconds=3)).risk_preview.approved
    assert d.svc.risk_limits().max_order_quantity == 10 and other.risk_limits().max_order_quantity == 10
