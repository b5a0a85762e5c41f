"""The replay's ticks and instruments CSV on the date's NSE tick regime (core.orders.ticks)."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd

from app.adapters.replay.market import ReplayMarket, equity_tick_size


def test_replay_tick_helper_follows_the_dated_table():
    """₹0.05 before 10 Jun 2024 (NSE circular of 24 May 2024); from 15 Apr 2025 the band of the
    previous month's close (NSE CM circular of March 2025), else the dump's monthly figure."""
    assert equity_tick_size(date(2016, 9, 9), 0.10) == 0.05
    assert equity_tick_size(date(2025, 5, 2), 0.05, 2300.0) == 0.10
    assert equity_tick_size(date(2024, 8, 1), 0.10, 2300.0) == 0.05
    assert equity_tick_size(date(2026, 12, 1), 0.10) == 0.10


def test_replay_2016_tcs_ticks_and_csv_on_the_005_grid():
    """On 2016-09-09 TCS (dump tick ₹0.10) is replayed and listed on NSE's ₹0.05 grid of the day."""
    m = ReplayMarket(date(2016, 9, 9), ticks_per_bar=4)
    row = m.row_of_token[m.instrument_key_token("NSE:TCS")]
    assert int(m.tick_paise[row]) == 5 and (m.price[row] % 5 == 0).all()
    assert (m.price[row] % 10 != 0).any()  # some prices sit between ₹0.10 steps, e.g. ₹2,300.05
    csv = pd.read_csv(io.StringIO(m.instruments_csv()))
    assert csv.loc[csv["tradingsymbol"] == "TCS", "tick_size"].tolist() == [0.05]
