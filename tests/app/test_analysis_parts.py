"""The analysis package's parts on real data: minute-bar fallback, snapshot context, headlines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from app.adapters import nse_data
from app.adapters.store import SqlStore
from app.market.instruments import InstrumentService
from app.research.analysis import MinuteBars, SnapshotBuilder, clean_headlines
from core.errors import ValidationError
from core.risk.limits import RiskLimits
from core.timeutil import IST
from tests.fixtures_store import seed_instruments

AT = datetime(2016, 8, 24, 11, 0, tzinfo=IST)


class _DownStore:
    """A bar store whose every read fails, as a dropped database connection does."""

    def frame(self, instrument_token, interval, start, end):
        raise ConnectionError("store is down")


@pytest.fixture(scope="module")
def sql(tmp_path_factory) -> Iterator[SqlStore]:
    s = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('parts') / 'store.db'}")
    seed_instruments(s, {"INFY", "NIFTY IT"})
    yield s
    s.dispose()


def test_minute_bars_fall_back_to_the_bundle_when_the_store_is_down(sql):
    inst = InstrumentService(sql).resolve("NSE:INFY")
    frame = MinuteBars(_DownStore(), nse_data.minute_bars_for).frame(inst, AT)
    assert len(frame) == len(nse_data.minute_bars_for("INFY")) > 0


def test_minute_bars_outside_replay_are_empty_when_the_store_has_none(sql):
    inst = InstrumentService(sql).resolve("NSE:INFY")
    bars = MinuteBars(sql.bars, None)
    assert bars.frame(inst, AT).empty and bars.bundled_frame("NIFTY IT") is None


def test_snapshot_carries_industry_sector_context_and_default_limits(sql):
    snaps = SnapshotBuilder(InstrumentService(sql), MinuteBars(sql.bars, nse_data.minute_bars_for),
                            daily=nse_data.load_daily, industries=nse_data.nifty500_industries)
    snap = snaps.snapshot("INFY", AT)
    assert snap.industry == "Information Technology"
    assert "nifty_it_change_pct" in snap.market and "nifty50_prev_session_change_pct" in snap.market
    # no desk wired: no positions, and the default risk limits
    assert snap.positions == ()
    assert snap.limits["max_order_notional_inr"] == str(RiskLimits().max_order_notional)
    assert snap.as_of == AT and snap.ltp > 0


def test_snapshot_with_no_bars_and_no_tick_is_bad_input(sql):
    snaps = SnapshotBuilder(InstrumentService(sql), MinuteBars(None, None),
                            daily=nse_data.load_daily, industries=nse_data.nifty500_industries)
    with pytest.raises(ValidationError, match="no market data for NSE:INFY"):
        snaps.snapshot("INFY", AT)


def test_headlines_over_the_limits_name_the_limit():
    assert clean_headlines("  a   b \n\n c ") == ["a b", "c"]
    with pytest.raises(ValidationError, match="at most 10 headlines"):
        clean_headlines([f"h{i}" for i in range(11)])
    with pytest.raises(ValidationError, match="longer than 500 characters"):
        clean_headlines(["x" * 501])


def test_nifty500_industries_reads_nses_list():
    table = nse_data.nifty500_industries()
    assert table["INFY"] == "Information Technology" and len(table) == 500
