"""The shared instruments in tests/factories.py are the rows of the bundled Kite dump."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import factories
from tests.fixtures_store import instrument_rows

SHARED = [factories.INFY, factories.SBIN, factories.RELIANCE, factories.TCS, factories.HDFCBANK,
          factories.NIFTY]


@pytest.mark.parametrize("inst", SHARED, ids=lambda i: i.tradingsymbol)
def test_shared_instrument_is_the_bundled_dump_row(inst):
    [row] = [r for r in instrument_rows() if (r["tradingsymbol"], r["exchange"]) == (inst.tradingsymbol, "NSE")]
    assert inst.instrument_token == int(row["instrument_token"])
    assert inst.exchange_token == int(row["exchange_token"])
    assert (inst.name, inst.segment, inst.instrument_type) == (row["name"], row["segment"],
                                                               row["instrument_type"])
    assert inst.tick_size == Decimal(row["tick_size"]) and inst.lot_size == int(row["lot_size"])


def test_intent_takes_an_instrument_or_a_token():
    by_inst = factories.intent(factories.SBIN, qty=3)
    assert (by_inst.instrument_token, by_inst.tradingsymbol, by_inst.quantity) == (779521, "SBIN", 3)
    assert factories.intent().instrument_token == factories.INFY.instrument_token


def test_depth_tick_spreads_five_levels_around_the_ltp():
    t = factories.depth_tick(1, 100.0, spread=0.5)
    assert [d.price for d in t.bids] == [100.0, 99.5, 99.0, 98.5, 98.0]
    assert [d.price for d in t.asks] == [100.5, 101.0, 101.5, 102.0, 102.5]
