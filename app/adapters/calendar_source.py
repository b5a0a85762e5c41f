"""Build the ``core.calendar.NseCalendar`` from pandas-market-calendars, the ``holidays``
package and bundled files.

Sources, in order of precedence (a later one wins):

* **pandas-market-calendars 5.5.0**, calendar ``"NSE"`` (MIT): every weekday session and
  holiday from 1996-01-01 to 2026-12-31 (NSE's yearly holiday circulars), including the
  2026-01-15 Maharashtra civic-election holiday and the Muhurat evening sessions as special
  opens/closes. It has **no holidays after 2026-12-31**; its holidays are ``published``.
* **holidays 0.109**, ``holidays.financial_holidays("XNSE")`` (MIT, vacanza/holidays; its
  class ``NationalStockExchangeOfIndia`` cites NSE's circulars up to 2026): the fallback for
  the :data:`FALLBACK_YEARS` years after pmc's horizon (2027–2030). Its dates are projections,
  so they are ``estimated``; the package appends ``"(estimated)"`` to the names of the
  Islamic holidays whose dates it estimates itself, and that name is kept as it gives it.
* ``app/data/nse/calendar/nse_holidays_overrides.csv`` (columns ``date,name,source,status``,
  status ``published`` | ``estimated``): NSE's circular for a year is dropped in here. A year
  whose rows are all ``published`` replaces the package's list for that year and moves the
  horizon (``published_until``) to its 31 December; ``estimated`` rows win over the package
  date by date. Rows inside pmc's years can only add closures. Bundled today: the 2027 dates
  exactly as the holidays package gives them, ``estimated`` (NSE's 2027 circular is not out).
* ``app/data/nse/nse_weekend_special_sessions_2019_2025.csv``: weekend sessions pmc lacks
  (derived from the price data: each date has real Kite bars). Their hours come from the NSE
  circulars summarised in ``_WEEKEND_HOURS`` below; a date without an entry there is taken as
  a regular 09:15–15:30 session and logged.

Not covered: the 2026 Muhurat session (Sun 2026-11-08) and any special session after 2026 —
NSE had not published their hours in the sources we bundle. Years after ``covered_until``
(2030-12-31 today) are extrapolated by ``NseCalendar`` (every weekday a session; logged once).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from app.settings import DATA_DIR
from core.calendar import Holiday, HolidayStatus, NseCalendar, TradingSession, regular_sessions
from core.errors import ValidationError
from core.timeutil import IST

log = logging.getLogger(__name__)

WEEKEND_SESSIONS_FILE = DATA_DIR / "nse_weekend_special_sessions_2019_2025.csv"
OVERRIDES_FILE = DATA_DIR / "calendar" / "nse_holidays_overrides.csv"
COVERED_FROM = date(1996, 1, 1)
#: Last date pandas-market-calendars 5.5.0 has NSE holidays for.
PMC_UNTIL = date(2026, 12, 31)
COVERED_UNTIL = PMC_UNTIL  # kept for callers that name pmc's horizon
#: Years after pmc's horizon taken from the holidays package (2027–2030).
FALLBACK_YEARS = 4
PMC_SOURCE = "pandas-market-calendars 5.5.0 NSE calendar (NSE holiday circulars)"
_OVERRIDE_COLUMNS = ("date", "name", "source", "status")

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


@lru_cache(maxsize=4)
def load_nse_calendar(overrides: Path = OVERRIDES_FILE) -> NseCalendar:
    """The NSE calendar 1996-01-01 … 2030-12-31 (cached per process; ~1.5 s to build).

    Parameters
    ----------
    overrides : Path
        The override CSV (default the bundled ``app/data/nse/calendar/nse_holidays_overrides.csv``).

    Returns
    -------
    NseCalendar
        ``published_until`` 2026-12-31 (later if the override file holds a published year),
        ``covered_until`` 2030-12-31; sessions after pmc's horizon are regular 09:15–15:30 on
        every weekday that is not a holiday. Weekday sessions whose hours differ from pmc's
        regular hours for that era are flagged ``special``; bundled weekend sessions too.

    Raises
    ------
    ValidationError
        A malformed override file (the message names the file, line, field and what is allowed).
    """
    pmc_sessions, pmc_holidays, fallback_holidays = _pmc_table()
    holidays, published_until, covered_until = merge_holidays(
        pmc_holidays, PMC_UNTIL, fallback_holidays, read_overrides(overrides)
    )
    closed_in_pmc = {d for d in holidays if d <= PMC_UNTIL}
    sessions = [s for s in pmc_sessions if s.date not in closed_in_pmc]
    beyond = {d for d in holidays if d > PMC_UNTIL}
    sessions += regular_sessions(PMC_UNTIL + timedelta(days=1), covered_until, beyond)
    return NseCalendar(sessions, holidays, covered_from=COVERED_FROM, covered_until=covered_until,
                       published_until=published_until)


def package_holidays(years: Iterable[int]) -> dict[date, Holiday]:
    """NSE weekday holidays of ``years`` from ``holidays.financial_holidays("XNSE")``, each
    ``estimated`` with the package and its version as ``source`` (names as the package gives
    them, ``"… (estimated)"`` where it estimates the date itself)."""
    import holidays as hol

    years = list(years)
    if not years:
        return {}
    table = hol.financial_holidays("XNSE", years=years)
    source = f"holidays {hol.__version__} financial_holidays('XNSE')"
    return {
        d: Holiday(d, name, source, HolidayStatus.ESTIMATED)
        for d, name in sorted(table.items())
        if d.weekday() < 5
    }


def read_overrides(path: Path) -> list[Holiday]:
    """The rows of an override CSV (``date,name,source,status``); a missing file is empty.

    Raises ``ValidationError`` naming the file, the line and the field: a missing column, a
    date that is not ``YYYY-MM-DD`` or falls on a weekend, an empty name or source, a status
    other than ``published``/``estimated``, or a date listed twice.
    """
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _OVERRIDE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(f"{path.name}: missing column(s) {', '.join(missing)}; "
                                  f"expected {','.join(_OVERRIDE_COLUMNS)}")
        rows, seen = [], set()
        for line, row in enumerate(reader, start=2):
            h = _override_row(path.name, line, row)
            if h.date in seen:
                raise ValidationError(f"{path.name} line {line}: date {h.date} is listed twice; keep one row")
            seen.add(h.date)
            rows.append(h)
    return rows


def _override_row(name: str, line: int, row: Mapping[str, str | None]) -> Holiday:
    where = f"{name} line {line}"
    raw = (row.get("date") or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{where}: date {raw!r} must be YYYY-MM-DD") from None
    if day.weekday() >= 5:
        raise ValidationError(f"{where}: date {day} is a {day:%A}; list weekday closures only (Mon–Fri)")
    status = (row.get("status") or "").strip()
    if status not in set(HolidayStatus):
        raise ValidationError(f"{where}: status {status!r} must be one of {', '.join(HolidayStatus)}")
    title, source = (row.get("name") or "").strip(), (row.get("source") or "").strip()
    if not title or not source:
        raise ValidationError(f"{where}: name and source must not be empty (source: the NSE circular)")
    return Holiday(day, title, source, HolidayStatus(status))


def merge_holidays(
    base: Mapping[date, Holiday], base_until: date, package: Mapping[date, Holiday],
    overrides: Iterable[Holiday],
) -> tuple[dict[date, Holiday], date, date]:
    """Merge the published ``base`` (to ``base_until``), the ``package`` fallback and the
    ``overrides`` (see the module docstring for precedence).

    Returns ``(holidays, published_until, covered_until)``: ``published_until`` is
    ``base_until`` moved to the 31 December of each following year whose override rows are
    all published; ``covered_until`` the 31 December of the last year of the package or the
    overrides. Raises ``ValidationError`` when a year mixes published and estimated rows.
    """
    by_year: dict[int, list[Holiday]] = {}
    for h in overrides:
        by_year.setdefault(h.date.year, []).append(h)
    published_years = set()
    for year, rows in by_year.items():
        kinds = {h.status for h in rows}
        if len(kinds) > 1:
            raise ValidationError(f"override rows for {year} mix published and estimated; NSE's circular "
                                  "covers the whole year: mark every row of it published")
        if kinds == {HolidayStatus.PUBLISHED} and year > base_until.year:
            published_years.add(year)
    merged = dict(base)
    merged.update({d: h for d, h in package.items() if d > base_until and d.year not in published_years})
    for rows in by_year.values():
        merged.update({h.date: h for h in rows})
    published_until = base_until
    while published_until.year + 1 in published_years:
        published_until = date(published_until.year + 1, 12, 31)
    last_year = max([base_until.year, *(d.year for d in package), *by_year])
    return merged, published_until, date(last_year, 12, 31)


@lru_cache(maxsize=1)
def _pmc_table() -> tuple[tuple[TradingSession, ...], dict[date, Holiday], dict[date, Holiday]]:
    """pmc's sessions and holidays (and the bundled weekend sessions), and the holidays package's
    for the :data:`FALLBACK_YEARS` after pmc's horizon, without loading pandas, pmc or the holidays
    package (~12 MB) into this process (``app.adapters.pmc_table``)."""
    from app.adapters import pmc_table

    return pmc_table.load(tables_here)


def tables_here() -> tuple[tuple[TradingSession, ...], dict[date, Holiday], dict[date, Holiday]]:
    """:func:`_pmc_table` computed in this process (imports pandas, pmc and holidays)."""
    sessions, holidays = pmc_table_here()
    return sessions, holidays, package_holidays(range(PMC_UNTIL.year + 1, PMC_UNTIL.year + FALLBACK_YEARS + 1))


def pmc_table_here() -> tuple[tuple[TradingSession, ...], dict[date, Holiday]]:
    """pmc's sessions and holidays computed in this process (imports pandas)."""
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("NSE")
    start, end = COVERED_FROM.isoformat(), PMC_UNTIL.isoformat()
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
        if day not in weekday_dates:
            sessions.append(_weekend_session(day, description))
    holidays = {
        d: Holiday(d, "NSE trading holiday", PMC_SOURCE, HolidayStatus.PUBLISHED)
        for d in (h.astype("datetime64[D]").astype(date) for h in cal.holidays().holidays)
        if COVERED_FROM <= d <= PMC_UNTIL and d.weekday() < 5
    }
    return tuple(sessions), holidays


def warn_if_beyond_coverage(calendar: NseCalendar, day: date) -> bool:
    """Log once per process when ``day`` is past the holiday table; return True if it is."""
    global _warned_beyond
    beyond = day > calendar.covered_until
    if beyond and not _warned_beyond:
        log.warning(
            "NSE holidays are known only up to %s (published to %s); weekdays after it are treated "
            "as regular sessions", calendar.covered_until, calendar.published_until,
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
