"""Daily bars for scanner tests, built with ``tests.factories.bar`` and upserted into a store.

60 weekday bars to 08 Sep 2016 (the session before the default replay world's 2016-09-09) for
five NIFTY 500 stocks: INFY, TCS, SBIN falling ₹5 a day (RSI(14) < 30), RELIANCE, HDFCBANK
rising ₹5 a day; every other bar wiggles ₹3 so RSI is defined.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from core.models import Bar
from core.timeutil import IST
from tests.factories import HDFCBANK, INFY, RELIANCE, SBIN, TCS, bar

LAST_DAY = datetime(2016, 9, 8, tzinfo=IST)
FALLING, RISING = (INFY, TCS, SBIN), (RELIANCE, HDFCBANK)


def daily_bars(sessions: int = 60) -> list[Bar]:
    days = pd.bdate_range(end=LAST_DAY.date(), periods=sessions)
    out = []
    for i, d in enumerate(days):
        ts = datetime.combine(d.date(), datetime.min.time(), IST)
        wiggle = 3.0 if i % 2 else 0.0
        out += [bar(inst.instrument_token, ts, 1000 - 5 * i + wiggle, interval="day", volume=1000 + i)
                for inst in FALLING]
        out += [bar(inst.instrument_token, ts, 500 + 5 * i - wiggle, interval="day", volume=1000 + i)
                for inst in RISING]
    return out


def seed_scanner_store(store) -> None:
    """The bundled instruments dump and :func:`daily_bars` into ``store``."""
    from tests.fixtures_store import seed_instruments

    seed_instruments(store)
    store.bars.upsert(daily_bars())
