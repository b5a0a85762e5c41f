"""The replay market builds a row's ticks when they are first read: a quote reads the row's path
only (``ReplayMarket.at``), a stream builds its arrays (``ReplayMarket.series``), and both give
the same values as the arrays at every tick."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from app.adapters.replay.market import ReplayMarket
from app.adapters.replay.frames import Group, encode_ticks

FIELDS = ("price", "ltq", "cumvol", "high", "low", "atp", "depth_base")


@pytest.fixture(scope="module")
def market() -> ReplayMarket:
    return ReplayMarket(date(2016, 9, 9), ticks_per_bar=4)


def test_a_new_market_builds_no_row_arrays(market):
    fresh = ReplayMarket(date(2016, 8, 17), ticks_per_bar=4)
    assert len(fresh.rows) > 50 and not fresh._series and not fresh._paths


def test_a_quote_reads_the_path_and_equals_the_arrays_at_every_checked_tick(market):
    """Recorded, derived (EOD-only) and NIFTY 50 rows; the first tick, bar edges, the last tick."""
    kinds = {market._sources[r][0]: r for r in range(len(market.rows))}
    assert set(kinds) == {"bars", "eod", "nifty"}
    ticks = [0, 1, 3, 4, market.n // 2 + 1, market.n - 1]
    for row in kinds.values():
        quoted = {i: market.at(row, i) for i in ticks}
        limits = {i: market.circuit_limits(row, i) for i in ticks}
        assert row not in market._series, "a quote must not build the streamed arrays"
        series = market.series(row)
        for i in ticks:
            assert [getattr(quoted[i], f) for f in FIELDS] == [getattr(series, f)[i] for f in FIELDS]
            assert [type(getattr(quoted[i], f)) for f in FIELDS] == [type(getattr(series, f)[i]) for f in FIELDS]
            assert market.circuit_limits(row, i) == limits[i]


def test_frames_of_borrowed_rows_repeat_the_row_columns(market):
    """Tokens sharing a row (``--fill-unrecorded``) get that row's packets, in the tokens' order."""
    rows = np.array([2, 0, 2, 1], dtype=np.int64)
    tokens = np.array([11, 12, 13, 14], dtype=np.int64)
    ticks = np.arange(5, 9)
    block = market.series_columns(rows, ticks, "price")
    assert block.shape == (4, 4) and block.dtype == np.int32
    assert (block[:, 0] == market.price[2, 5:9]).all() and (block[:, 0] == block[:, 2]).all()
    assert (block[:, 1] == market.price[0, 5:9]).all()
    one = encode_ticks(market, [Group("full", False, tokens[:1], rows[:1])], 5, 8)
    assert one and all(isinstance(f, bytes) for f in one)
