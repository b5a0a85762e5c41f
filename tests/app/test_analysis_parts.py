"""The analysis package's parts on real data: the snapshot reads the market through
``MarketDataService`` (never the bundled bar files) as of the analysis time; headlines.

The market is the session's replay server of 2016-08-17 (its historical endpoint knows
2016-08-16 and the replayed part of 2016-08-17, nothing later) with a pinned market clock, on a
real SQLite store. The bundled files hold INFY's real bars of 2016-08-26; the market does not,
so a snapshot of that day can only be built from bars that are in the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from app.adapters import nse_data
from app.adapters.store import SqlStore
from app.market.instruments import InstrumentService
from app.research.analysis import MinuteBars, SnapshotBuilder, clean_headlines
from core.errors import ValidationError
from core.risk.limits import RiskLimits
from core.timeutil import IST
from tests.fixtures_trading import desk  # noqa: F401 - fixture
from tests.app.replay_market import Pinned, market_on, minute_bars
from tests.fixtures_store import seed_instruments

AT = datetime(2016, 8, 26, 11, 0, tzinfo=IST)
OPEN = AT.replace(hour=9, minute=15)
INFY = 408065


@pytest.fixture()
def sql(tmp_path) -> Iterator[SqlStore]:
    s = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    seed_instruments(s, {"INFY", "NIFTY 50", "NIFTY IT"})
    yield s
    s.dispose()


@pytest.fixture()
def clock() -> Pinned:
    return Pinned(AT)


@pytest.fixture()
def snaps(sql, replay_server, redis_url, clock) -> SnapshotBuilder:
    market = market_on(sql, replay_server, redis_url, clock)
    return SnapshotBuilder(InstrumentService(sql), MinuteBars(market), industries=nse_data.nifty500_industries)


def test_the_bundled_bars_are_not_read_a_symbol_without_market_bars_is_named(snaps):
    assert len(nse_data.minute_bars_for("INFY", AT.date())) == 375  # the bundle has the day …
    with pytest.raises(ValidationError, match=r"no bars for NSE:INFY up to 26 Aug 2016 11:00 IST in the "
                                              r"connected market; backfill it on the Chart page"):
        snaps.snapshot("INFY", AT)  # … the connected market does not


def test_bars_only_in_the_store_are_used_and_nothing_after_the_analysis_time(snaps, sql, clock):
    closes = [1234.5 + 0.05 * i for i in range(105)]  # 09:15 … 10:59
    sql.bars.upsert(minute_bars(INFY, OPEN, closes, volume=100))
    sql.bars.upsert(minute_bars(INFY, AT, [9999.0] * 30, volume=10**6))  # 11:00 … 11:29: after the pinned time
    snap = snaps.snapshot("INFY", AT)
    assert snap.ltp == round(closes[-1], 2) and snap.ltp_source == "close of the 10:59 1-minute bar"
    assert snap.day_high == round(closes[-1], 2) and snap.day_volume == 100 * len(closes)
    assert snap.day_open == closes[0] and snap.as_of == AT
    assert snap.industry == "Information Technology" and snap.positions == ()
    assert snap.limits["max_order_notional_inr"] == str(RiskLimits().max_order_notional)
    # the market clock moves on: an analysis at 11:00 still sees nothing after 11:00
    clock.when = AT + timedelta(hours=4)
    again = snaps.snapshot("INFY", AT)
    assert again.ltp == snap.ltp and again.day_high == snap.day_high and again.digest == snap.digest
    # and an analysis later that day sees the later bars once they have closed
    assert snaps.snapshot("INFY", AT + timedelta(minutes=30)).ltp == 9999.0


def test_analysis_time_after_market_time_reads_only_up_to_market_time(snaps, sql, clock):
    sql.bars.upsert(minute_bars(INFY, OPEN, [1500.0] * 105 + [1600.0] * 30))  # 09:15 … 11:29
    snap = snaps.snapshot("INFY", AT + timedelta(minutes=20))  # 11:20, but the market is at 11:00
    assert snap.ltp == 1500.0 and snap.day_high == 1500.0


def test_headlines_over_the_limits_name_the_limit():
    assert clean_headlines("  a   b \n\n c ") == ["a b", "c"]
    with pytest.raises(ValidationError, match="at most 10 headlines"):
        clean_headlines([f"h{i}" for i in range(11)])
    with pytest.raises(ValidationError, match="longer than 500 characters"):
        clean_headlines(["x" * 501])


def test_nifty500_industries_reads_nses_list():
    table = nse_data.nifty500_industries()
    assert table["INFY"] == "Information Technology" and len(table) == 500


def test_the_snapshot_band_is_the_desks_own_price_band(sql, replay_server, redis_url, clock, desk):
    """The analyst's levels are judged against the band the desk's gatekeeper checks orders
    against (``TradingService.price_band``: the quote's circuit limits, else NSE's dynamic range
    for the tick, NSE/FAOP/64995), not a synthetic previous close ± 10 %."""
    market = market_on(sql, replay_server, redis_url, clock)
    sql.bars.upsert(minute_bars(INFY, OPEN, [1045.0] * 105, volume=100))
    tick = desk.tick(INFY, 1045.0, at=AT - timedelta(seconds=5), close=950.0)  # at +10 %: the range flexes
    snaps = SnapshotBuilder(InstrumentService(sql), MinuteBars(market), industries=nse_data.nifty500_industries,
                            ticks=desk.ticks, desk=desk.svc)
    snap = snaps.snapshot("INFY", AT)
    band = desk.svc.price_band(InstrumentService(sql).resolve("NSE:INFY"), tick)
    assert band is not None and (snap.circuit_lower, snap.circuit_upper) == band
    assert band[1] > 1045.0  # flexed by 5 %, where a synthetic 950 ± 10 % would stop at 1,045
