"""Build the ``core.calendar.NseCalendar`` from pandas-market-calendars plus bundled data.

Sources:

* **pandas-market-calendars 5.5.0**, calendar ``"NSE"`` (MIT): every weekday session and
  holiday from 1996-01-01 to 2026-12-31, including the 2026-01-15 Maharashtra civic-election
  holiday and the Muhurat evening sessions as special opens/closes. It has **no holidays after
  2026-12-31**, so ``covered_until`` is that date and ``NseCalendar`` extrapolates plain
  weekdays beyond it (a warning is logged once).
* ``app/data/nse/nse_weekend_special_sessions_2019_2025.csv``: weekend sessions pmc lacks
  (derived from the price data: each date has real Kite bars). Their hours come from the NSE
  circulars summarised in ``_WEEKEND_HOURS`` below; a date without an entry there is taken as
  a regular 09:15–15:30 session and logged.

Not covered: the 2026 Muhurat session (Sun 2026-11-08) — NSE had not published its hours in
the sources we bundle, so it is not in the calendar.
"""

from __future__ import annotations

import csv
import logging
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path

from app.settings import DATA_DIR
from core.calendar import NseCalendar, TradingSession
from core.timeutil import IST

log = logging.getLogger(__name__)

WEEKEND_SESSIONS_FILE = DATA_DIR / "nse_weekend_special_sessions_2019_2025.csv"
COVERED_FROM = date(1996, 1, 1)
#: Last date pandas-market-calendars 5.5.0 has NSE holidays for.
COVERED_UNTIL = date(2026, 12, 31)

# (open, close, break_start, break_end) in IST, from NSE's announcements as reported at the
# time: Muhurat trading 2019, 2020 and 2023 ran 18:15–19:15; the 2024 live DR-site drills
# traded 09:15–10:00 at the primary site and 11:30–12:30 from the DR site; the 2025-02-01
# Budget Saturday kept regular hours. Verify against the NSE circular before relying on them.
_WEEKEND_HOURS: dict[date, tuple[time, time, time | None, time | None]] = {
    date(2019, 10, 27): (time(18, 15), time(19, 15), None, None),
    date(2020, 11, 14): (time(18, 15), time(19, 15), None, None),
    date(2023, 11, 12): (time(18, 15), time(19, 15), None, None),
    date(2024, 1, 20): (time(9, 15), time(12, 30), time(10, 0), time(11, 30)),
    date(2024, 3, 2): (time(9, 15), time(12, 30), time(10, 0), time(11, 30)),
    date(2024, 5, 18): (time(9, 15), time(12, 30), time(10, 0), time(11, 30)),
    date(2025, 2, 1): (time(9, 15), time(15, 30), None, None),
}

_warned_beyond = False


@lru_cache(maxsize=1)
def load_nse_calendar() -> NseCalendar:
    """The NSE calendar 1996-01-01 … 2026-12-31 (cached per process; ~1.5 s to build).

    Returns
    -------
    NseCalendar
        ``covered_until == date(2026, 12, 31)``; later weekdays are extrapolated as regular
        sessions (no holidays known). Weekday sessions whose hours differ from pmc's regular
        hours for that era are flagged ``special`` (Muhurat, the 2021-02-24 extended close,
        the 1990s late closes); weekend sessions from the bundled CSV are ``special`` too.
    """
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("NSE")
    start, end = COVERED_FROM.isoformat(), COVERED_UNTIL.isoformat()
    actual = cal.schedule(start, end, tz=IST.key)
    # force_special_times=None ignores special opens/closes: the era's regular hours.
    regular = cal.schedule(start, end, tz=IST.key, force_special_times=None)
    is_special = (actual["market_open"] != regular["market_open"]) | (
        actual["market_close"] != regular["market_close"]
    )

    sessions: list[TradingSession] = []
    for opened, closed, special in zip(
        actual["market_open"].dt.to_pydatetime(), actual["market_close"].dt.to_pydatetime(),
        is_special.to_numpy(), strict=True,
    ):
        name = ""
        if special:
            name = "Muhurat trading" if opened.time() >= time(13, 0) else "Special hours"
        sessions.append(
            TradingSession(date=opened.date(), open=opened, close=closed, special=bool(special), name=name)
        )

    weekday_dates = {s.date for s in sessions}
    for day, description in _read_weekend_sessions(WEEKEND_SESSIONS_FILE):
        if day in weekday_dates:
            continue
        sessions.append(_weekend_session(day, description))

    holidays = {
        d: "NSE trading holiday"
        for d in (h.astype("datetime64[D]").astype(date) for h in cal.holidays().holidays)
        if COVERED_FROM <= d <= COVERED_UNTIL and d.weekday() < 5
    }
    return NseCalendar(sessions, holidays, covered_from=COVERED_FROM, covered_until=COVERED_UNTIL)


def warn_if_beyond_coverage(calendar: NseCalendar, day: date) -> bool:
    """Log once per process when ``day`` is past the holiday table; return True if it is."""
    global _warned_beyond
    beyond = day > calendar.covered_until
    if beyond and not _warned_beyond:
        log.warning(
            "NSE holidays are known only up to %s (pandas-market-calendars); weekdays after it "
            "are treated as regular sessions", calendar.covered_until,
        )
        _warned_beyond = True
    return beyond


def _read_weekend_sessions(path: Path) -> list[tuple[date, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(date.fromisoformat(r["date"]), r.get("description", "")) for r in csv.DictReader(fh)]


def _weekend_session(day: date, description: str) -> TradingSession:
    hours = _WEEKEND_HOURS.get(day)
    if hours is None:
        log.warning("weekend session %s (%s) has no known hours; assuming 09:15–15:30", day, description)
        hours = (time(9, 15), time(15, 30), None, None)
    o, c, bs, be = hours
    return TradingSession(
        date=day,
        open=datetime.combine(day, o, IST),
        close=datetime.combine(day, c, IST),
        special=True,
        name=description,
        break_start=datetime.combine(day, bs, IST) if bs else None,
        break_end=datetime.combine(day, be, IST) if be else None,
    )
