"""Sectors read the connected market through ``MarketDataService`` (issue 12).

Against a real replay server of 2016-09-09 (its historical endpoint serves daily bars dated
before that day: NIFTY 500 members, NIFTY 50, NIFTY BANK, and sector indices aggregated from
their 1-minute bars) through the real kiteconnect client, on a real store (SQLite and
PostgreSQL), with the market clock pinned. The members are backfilled into the store by the
test (as the backfill worker would); the service itself reads them from the store only.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from app.adapters import nse_data
from app.adapters.kite_historical import historical_client
from app.adapters.redis_client import redis_client
from app.market.history import MarketDataService
from app.market.instruments import InstrumentService
from app.research.sectors import INDEX_KEYS, SectorService
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import IST
from tests.app.test_market_data import replay_settings
from tests.app.replay_market import Pinned
from tests.fixtures_store import seed_instruments

DAY = date(2016, 9, 9)
SEP8, SEP7 = date(2016, 9, 8), date(2016, 9, 7)
#: A small NIFTY 500 list: 3 industries; HCLTECH is left out of the backfill, NOSUCH is not in
#: the instruments master.
MEMBERS = [
    ("Infosys Ltd.", "Information Technology", "INFY"),
    ("Tata Consultancy Services Ltd.", "Information Technology", "TCS"),
    ("Wipro Ltd.", "Information Technology", "WIPRO"),
    ("HCL Technologies Ltd.", "Information Technology", "HCLTECH"),
    ("Maruti Suzuki India Ltd.", "Automobile and Auto Components", "MARUTI"),
    ("Eicher Motors Ltd.", "Automobile and Auto Components", "EICHERMOT"),
    ("Bajaj Auto Ltd.", "Automobile and Auto Components", "BAJAJ-AUTO"),
    ("Hindalco Industries Ltd.", "Metals & Mining", "HINDALCO"),
    ("Tata Steel Ltd.", "Metals & Mining", "TATASTEEL"),
    ("Vedanta Ltd.", "Metals & Mining", "VEDL"),
    ("No Such Ltd.", "Metals & Mining", "NOSUCH"),
]
BACKFILLED = [s for _, _, s in MEMBERS if s not in ("HCLTECH", "NOSUCH")]


def at(h: int, m: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, tzinfo=IST)


def constituents() -> pd.DataFrame:
    return pd.DataFrame(MEMBERS, columns=["Company Name", "Industry", "Symbol"])


@pytest.fixture(scope="module")
def sep9_server(looping_replay):
    return looping_replay(DAY.isoformat())


@pytest.fixture()
def clock() -> Pinned:
    return Pinned(at(10, 0))


def market_on(store, server, redis_url, clock) -> MarketDataService:
    seed_instruments(store)
    return MarketDataService(store, InstrumentService(store),
                             historical_client(replay_settings(server, redis_url), redis_client(redis_url)),
                             clock=clock)


def backfill_members(market: MarketDataService, symbols=BACKFILLED) -> None:
    for sym in symbols:
        market.backfill(f"NSE:{sym}", "day", date(2016, 1, 1), market.now())


@pytest.fixture()
def market(store, sep9_server, redis_url, clock) -> MarketDataService:
    m = market_on(store, sep9_server, redis_url, clock)
    backfill_members(m)
    return m


@pytest.fixture()
def sectors(market) -> SectorService:
    return SectorService(market=market, load_constituents=constituents, max_age_s=0)


def day_bar(market: MarketDataService, key: str, close: float, day: date) -> Bar:
    token = market.token_of(key)
    return Bar(token, "day", datetime(day.year, day.month, day.day, tzinfo=IST), close, close, close, close, 1000)


def stored_close(market: MarketDataService, key: str, day: date) -> float:
    frame = market.bars(key, "day", day, day)
    assert len(frame) == 1, (key, day, frame)
    return float(frame["close"].iloc[0])


# ---- reads through the service ----------------------------------------------------------------


def test_sectors_read_member_and_index_bars_from_the_market(sectors, market, store):
    view = sectors.view()
    assert view.market_time == at(10, 0)
    assert view.as_of() == SEP8  # 09 Sep's bar is forming at 10:00
    assert view.as_of_label() == "As of the close of Thu 08 Sep 2016"
    assert view.coverage() == "9 of 11 members have bars (1 not in the instruments master)"
    assert view.unknown == ("NSE:NOSUCH",) and view.empty == ("HCLTECH",)
    assert view.symbols("Information Technology") == ["INFY", "TCS", "WIPRO"]
    # member closes are the store's bars, which came from the replay's daily history
    assert view.closes.at[pd.Timestamp(SEP8, tz=IST), "INFY"] == stored_close(market, "NSE:INFY", SEP8)
    assert view.first_date() == date(2016, 1, 1)

    table = view.sector_table("1D")
    it = table.loc["Information Technology"]
    rets = [stored_close(market, f"NSE:{s}", SEP8) / stored_close(market, f"NSE:{s}", SEP7) * 100 - 100
            for s in ("INFY", "TCS", "WIPRO")]
    assert it["return_pct"] == pytest.approx(sum(rets) / 3) and it["members"] == 3 and it["constituents"] == 4
    assert (table.attrs["base"], table.attrs["as_of"]) == (SEP7, SEP8)

    # sector indices and NIFTY 50 come from the same market, and were stored by the fill
    assert it["index"] == "NIFTY IT"
    it_pct = stored_close(market, "NSE:NIFTY IT", SEP8) / stored_close(market, "NSE:NIFTY IT", SEP7) * 100 - 100
    assert it["index_pct"] == pytest.approx(it_pct)
    auto = table.loc["Automobile and Auto Components"]
    assert auto["index"] == "NIFTY AUTO" and pd.isna(auto["index_pct"])  # 1-minute bars from 08 Sep only
    minutes = nse_data.load_minute_bars(nse_data.EXTRA_MINUTE_FILE)
    last_auto = minutes[(minutes.symbol == "NIFTY AUTO") & (minutes.datetime.dt.date == SEP8)].close.iloc[-1]
    assert view.index_closes.at[pd.Timestamp(SEP8, tz=IST), "NIFTY AUTO"] == pytest.approx(last_auto)
    for key in INDEX_KEYS:
        if key in ("NSE:NIFTY 50", "NSE:NIFTY BANK", "NSE:NIFTY IT", "NSE:NIFTY AUTO", "NSE:NIFTY METAL"):
            assert store.bars.count(market.token_of(key), "day") > 0, key
    nifty = stored_close(market, "NSE:NIFTY 50", SEP8) / stored_close(market, "NSE:NIFTY 50", SEP7) * 100 - 100
    assert view.benchmark_return_pct("1D") == pytest.approx(nifty)
    assert view.benchmark_last_date() == SEP8


def test_a_bar_only_in_the_store_is_what_the_sectors_use(sectors, market, store):
    before = sectors.view().sector_table("1D").loc["Information Technology"]
    # HCLTECH was never backfilled: the replay is not asked for it; bars another process stored are used
    store.bars.upsert([day_bar(market, "NSE:HCLTECH", 100.0, SEP7), day_bar(market, "NSE:HCLTECH", 110.0, SEP8)])
    view = sectors.view()
    assert view.coverage().startswith("10 of 11 members have bars") and view.empty == ()
    after = view.sector_table("1D").loc["Information Technology"]
    assert after["members"] == before["members"] + 1 and after["best"] == "HCLTECH"
    assert after["best_pct"] == pytest.approx(10.0)
    assert after["return_pct"] == pytest.approx((before["return_pct"] * 3 + 10.0) / 4)
    assert store.bars.count(market.token_of("NSE:HCLTECH"), "day") == 2  # nothing fetched for it


def test_no_bar_after_market_time_is_used(sectors, market, store, clock):
    rs_before = sectors.view().relative_strength("INFY", "1M")
    table_before = sectors.view().sector_table("1D")
    # a 09 Sep daily bar in the store (written by another process) is still forming at 10:00
    store.bars.upsert([day_bar(market, "NSE:INFY", 99999.0, DAY), day_bar(market, "NSE:NIFTY 50", 1.0, DAY),
                       day_bar(market, "NSE:NIFTY IT", 1.0, DAY)])
    for forming in (False, True):  # no ticks: "today so far" has no forming bar to add either
        view = sectors.view(forming=forming)
        assert view.as_of() == SEP8
        pd.testing.assert_frame_equal(view.sector_table("1D"), table_before)
        pd.testing.assert_frame_equal(view.relative_strength("INFY", "1M"), rs_before)
    clock.when = at(15, 29)
    assert sectors.view().as_of() == SEP8
    clock.when = at(15, 31)  # the session has closed: 09 Sep's bar now counts
    view = sectors.view()
    assert view.as_of() == DAY and view.as_of_label() == "As of the close of Fri 09 Sep 2016"
    it = view.sector_table("1D").loc["Information Technology"]
    assert it["members"] == 1 and it["best"] == "INFY"  # only INFY has a 09 Sep bar
    # the stored 09 Sep index bars count too (the looping replay never serves its own day's bar)
    assert it["index_pct"] == pytest.approx(1.0 / stored_close(market, "NSE:NIFTY IT", SEP8) * 100 - 100)
    assert view.benchmark_last_date() == DAY


def test_empty_store_is_an_empty_universe_with_a_fix(store, sep9_server, redis_url, clock):
    market = market_on(store, sep9_server, redis_url, clock)
    svc = SectorService(market=market, load_constituents=constituents)
    with pytest.raises(ValidationError, match="empty universe: none of the 11 NIFTY 500 members has a daily bar"):
        svc.view()
    with pytest.raises(ValidationError, match="no market"):
        SectorService(load_constituents=constituents).view()


def test_fetch_missing_queues_one_backfill_per_member_without_bars(sqlite_store, sep9_server, redis_url, clock):
    from app.adapters.queue import DramatiqTaskQueue, install_broker
    from app.settings import Settings

    market = market_on(sqlite_store, sep9_server, redis_url, clock)
    backfill_members(market, ["INFY"])
    svc = SectorService(market=market, load_constituents=constituents)
    tasks = DramatiqTaskQueue(install_broker(Settings(env="test", redis_url=redis_url)), jobs=sqlite_store.jobs)
    ids = svc.fetch_missing(tasks)
    missing = [s for _, _, s in MEMBERS if s not in ("INFY", "NOSUCH")]
    assert ids == [f"sectors:2016-09-09:day:{s}" for s in sorted(missing)]
    job = sqlite_store.jobs.get(ids[0])
    assert job is not None and job.args["key"] == "NSE:BAJAJ-AUTO" and job.args["interval"] == "day"
    assert datetime.fromisoformat(job.args["end_iso"]) == at(10, 0)
    assert svc.fetch_missing(tasks) == ids  # queued once per market day


def test_today_so_far_uses_the_forming_day_bar_from_ticks_and_says_so(store, sep9_server, redis_url, clock):
    from app.adapters.tick_cache import TickCache
    from core.kite_wire import encode_frame, encode_packet
    from core.models import Tick
    from core.tick_batch import decode_frame

    seed_instruments(store)
    cache = TickCache(redis_client(redis_url))
    market = MarketDataService(store, InstrumentService(store),
                               historical_client(replay_settings(sep9_server, redis_url), redis_client(redis_url)),
                               ticks=cache, clock=clock)
    backfill_members(market, ["INFY", "TCS"])
    svc = SectorService(market=market, load_constituents=constituents, max_age_s=0)
    prev = stored_close(market, "NSE:INFY", SEP8)
    exchange_ts = at(9, 59)
    tick = Tick(market.token_of("NSE:INFY"), round(prev * 1.02, 2), mode="full", volume_traded=50_000,
                open=prev, high=round(prev * 1.03, 2), low=prev, close=prev, last_trade_time=exchange_ts,
                exchange_timestamp=exchange_ts)
    cache.write_frame(decode_frame(encode_frame([encode_packet(tick)])), exchange_ts)

    closed = svc.view()
    assert closed.as_of() == SEP8 and not closed.forming
    today = svc.view(forming=True)
    assert today.forming and today.as_of() == DAY and today.members_on(DAY) == 1
    assert today.as_of_label() == "As of 10:00 IST on Fri 09 Sep 2016 (today so far)"
    leaves = today.symbol_table("1D")
    assert leaves.at["INFY", "return_pct"] == pytest.approx(tick.last_price / prev * 100 - 100)
    assert pd.isna(leaves.at["TCS", "return_pct"])  # no tick today: no forming bar
    clock.when = at(9, 58)  # a tick after market time is not used
    assert svc.view(forming=True).as_of() == SEP8


def test_a_page_rerun_reuses_the_view_until_the_cut_changes(market, store, clock):
    svc = SectorService(market=market, load_constituents=constituents)  # default max age
    first = svc.view()
    store.bars.upsert([day_bar(market, "NSE:HCLTECH", 100.0, SEP8)])
    assert svc.view() is first  # within VIEW_MAX_AGE_S at the same cut: no store read
    clock.when = at(15, 31)  # the cut moves to 09 Sep's close: read again
    again = svc.view()
    assert again is not first and "HCLTECH" in again.closes.columns
