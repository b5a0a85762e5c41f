"""app.adapters.nse_data: the bundled files load typed; corrupt rows are dropped and logged."""

from __future__ import annotations

import gzip
import logging
from datetime import date

import pandas as pd

from app.adapters import nse_data


def test_recorded_sessions_are_the_18_bundled_days():
    days = nse_data.recorded_sessions()
    assert len(days) == 18 and days[0] == date(2016, 8, 16) and days[-1] == date(2016, 9, 9)


def test_minute_bars_are_typed_and_complete():
    m = nse_data.load_minute_bars()
    assert str(m["datetime"].dt.tz) == "Asia/Kolkata"
    assert m["volume"].dtype == "int64"
    assert m.groupby("symbol").size().eq(18 * 375).all()
    assert {"RELIANCE", "NIFTY IT", "INDIA VIX"} <= set(m["symbol"])


def test_daily_includes_nifty50_and_stock_eod():
    d = nse_data.load_daily()
    nifty = d[(d.symbol == "NIFTY 50") & (d.date == date(2016, 8, 16))]
    assert nifty.close.iloc[0] == 8642.55 and nifty.volume.iloc[0] == 0
    assert d[(d.symbol == "ASIANPAINT")].date.min() == date(2016, 8, 16)  # RELIANCE EOD starts 08-22


def test_instruments_have_real_tokens():
    inst = nse_data.load_instruments()
    tokens = dict(zip(inst.tradingsymbol, inst.instrument_token))
    assert tokens["NIFTY 50"] == 256265 and tokens["RELIANCE"] == 738561
    assert inst.instrument_token.dtype == "int64"


def test_corrupt_rows_are_dropped_with_a_warning_naming_file_and_line(tmp_path, caplog):
    path = tmp_path / "minute_corrupt.csv.gz"
    lines = [
        "symbol,datetime,open,high,low,close,volume",
        "RELIANCE,2016-08-16T09:15:00+05:30,100,101,99,100.5,10",
        "RELIANCE,2016-08-16T09:16:00+05:30,100,98,99,100,10",        # high < low
        "RELIANCE,2016-08-16T09:17:00+05:30,103,102,99,100,10",       # open above high
        "RELIANCE,2016-08-16T09:18:00+05:30,0,101,0,100,10",          # non-positive
        "RELIANCE,not-a-time,100,101,99,100,10",                      # unparseable
        "RELIANCE,2016-08-16T09:20:00+05:30,100,101,99,100,ten",      # unparseable volume
        "RELIANCE,2016-08-16T09:21:00+05:30,100,101,99,100.5,7",
    ]
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="app.adapters.nse_data"):
        bars = nse_data.load_minute_bars(path)
    assert len(bars) == 2 and bars.volume.tolist() == [10, 7]
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 5
    assert all("minute_corrupt.csv.gz" in m for m in msgs)
    assert any("line 3" in m and "high < low" in m for m in msgs)
    assert any("line 4" in m and "outside" in m for m in msgs)
    assert any("line 5" in m and "non-positive" in m for m in msgs)
    assert any("line 6" in m and "unparseable" in m for m in msgs)
    assert nse_data.recorded_sessions(path) == [date(2016, 8, 16)]
    assert isinstance(bars.datetime.iloc[0], pd.Timestamp)


# ---- the replay's whole-universe daily history (tools/build_replay_history.py) ----------------

def test_replay_daily_one_row_per_symbol_date_with_labelled_sources():
    d = nse_data.load_replay_daily()
    assert not d.duplicated(["symbol", "date"]).any()
    assert set(d["source"]) == set(nse_data.DAILY_SOURCES)
    eod = d[d.source == "nse_eod"]
    assert eod[eod.date <= date(2016, 9, 9)].symbol.nunique() >= 275
    first_eod = eod.groupby("symbol").date.min()
    derived = d[d.source == "yahoo_rescaled_derived"]
    assert derived.date.min() == date(2016, 1, 1) and derived.date.max() < date(2016, 8, 23)
    assert (derived.date < derived.symbol.map(first_eod)).all()  # derived only before the real EOD
    bank = d[(d.symbol == "NIFTY BANK") & (d.date < date(2016, 9, 9))]
    assert len(bank) >= 200 and (bank.volume == 0).all()


def test_derived_history_is_at_the_unadjusted_nse_level():
    """Yahoo's split-adjusted 2016 prices are rescaled to NSE EOD: no jump at the join."""
    d = nse_data.load_replay_daily()
    derived = d[d.source == "yahoo_rescaled_derived"].groupby("symbol").last()
    eod = d[d.source == "nse_eod"].groupby("symbol").first()
    both = derived.join(eod, lsuffix="_d", rsuffix="_e", how="inner")
    jump = (both.close_e / both.close_d - 1).abs()
    assert len(both) >= 265 and jump.median() < 0.02 and (jump < 0.2).all(), jump.sort_values().tail()
    # RELIANCE had 1:1 bonuses in 2017 and 2024: Yahoo's 2016 close is ~1/4 of NSE's; rescaled it is ~1,000
    rel = d[(d.symbol == "RELIANCE") & (d.date == date(2016, 8, 12))].close.iloc[0]
    assert 950 < rel < 1100
    prices = d[d.source == "yahoo_rescaled_derived"][["open", "high", "low", "close"]]
    assert ((prices * 20).round(6) % 1 == 0).all().all()  # on the 2016 tick of ₹0.05


def test_extra_minute_file_two_sessions_of_more_fno_stocks_and_sector_indices():
    assert nse_data.extra_minute_sessions() == [date(2016, 9, 8), date(2016, 9, 9)]
    m = nse_data.load_minute_bars(nse_data.EXTRA_MINUTE_FILE)
    assert m.groupby("symbol").size().eq(2 * 375).all()
    base = set(nse_data.load_minute_bars()["symbol"])
    assert not set(m.symbol) & base
    assert {"ACC", "BHEL", "NIFTY AUTO", "NIFTY PSU BANK"} <= set(m.symbol) and m.symbol.nunique() == 155
