"""The NSE trading calendar: which days trade, when each session opens and closes, and the
session phase at a given moment.

Pure: the calendar is built from a table of sessions and holidays handed in by an adapter
(``app.adapters.calendar_source.load_nse_calendar`` reads pandas-market-calendars' ``NSE``
calendar to 2026-12-31, then the ``holidays`` package's ``financial_holidays("XNSE")``
estimates and the bundled override file for NSE's circular, plus the bundled weekend special
sessions). Every "now" is an argument; naive
datetimes raise ``ValidationError``. Results are IST (``Asia/Kolkata``).

Phases (``core.sessions``, source: NSE market timings, ``indian-market.md`` §1) are placed
relative to each session's own open and close, so special sessions (Muhurat, DR drills,
Budget Saturday) get the same structure at their own hours:

============================  ========================  =====================
phase                         offset                    regular day (IST)
============================  ========================  =====================
``PRE_OPEN``                  open − 15 min … open − 7  09:00–09:08
``PRE_OPEN_MATCHING``         open − 7 min … open       09:08–09:15
``NORMAL``                    open … close              09:15–15:30
``CLOSING``                   close … close + 10 min    15:30–15:40
``POST_CLOSE``                close + 10 … close + 30   15:40–16:00
``CLOSED``                    otherwise, and in breaks  —
============================  ========================  =====================

Intervals are half-open: 09:15:00 is ``NORMAL``, 15:30:00 is ``CLOSING``.

Holidays (:class:`Holiday`) carry their ``source`` and a ``status``: ``published`` when the
date is in NSE's holiday circular for its year (pandas-market-calendars follows those
circulars; NSE publishes next year's list in December), ``estimated`` when it is not yet (a
date projected by the ``holidays`` package, or a bundled row awaiting the circular).

Coverage and horizon:

* ``published_until`` — the **horizon**: the last date covered by a published list. Past it
  the holidays are estimates; :meth:`NseCalendar.horizon` says how close it is (the System
  page warns 30 days before it ends).
* ``covered_until`` — the last date of the table (published plus estimated years). After it
  the calendar *extrapolates*: every weekday is a regular 09:15–15:30 session.
  ``is_covered(d)`` says whether a date is inside the table. Dates before ``covered_from``
  raise.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from core.errors import ValidationError
from core.sessions import NORMAL_CLOSE, NORMAL_OPEN, SessionPhase
from core.timeutil import IST, require_aware

PRE_OPEN_LEAD = timedelta(minutes=15)  # pre-open starts 15 min before the open (09:00)
MATCHING_LEAD = timedelta(minutes=7)  # order entry ends 7 min before the open (09:08)
CLOSING_LAG = timedelta(minutes=10)  # closing session ends 10 min after the close (15:40)
POST_CLOSE_LAG = timedelta(minutes=30)  # post-close ends 30 min after the close (16:00)


@dataclass(frozen=True, slots=True)
class TradingSession:
    """One NSE equity session.

    ``open``/``close`` are tz-aware IST datetimes of continuous trading (09:15/15:30 on a
    regular day). ``special`` marks non-standard hours or a weekend session; ``name`` says
    which (e.g. ``"Muhurat trading"``). ``break_start``/``break_end`` (IST, optional) mark a
    halt inside the session, e.g. the 2024 DR-drill Saturdays (09:15–10:00 and 11:30–12:30).
    """

    date: date
    open: datetime
    close: datetime
    special: bool = False
    name: str = ""
    break_start: datetime | None = None
    break_end: datetime | None = None

    def __post_init__(self) -> None:
        for label, value in (("open", self.open), ("close", self.close)):
            require_aware(value, f"session {self.date} {label}")
        if self.close <= self.open:
            raise ValidationError(f"session {self.date}: close {self.close} must be after open {self.open}")
        if self.open.astimezone(IST).date() != self.date:
            raise ValidationError(f"session {self.date}: open {self.open} is on another IST date")
        if (self.break_start is None) != (self.break_end is None):
            raise ValidationError(f"session {self.date}: give both break_start and break_end, or neither")
        if self.break_start is not None and self.break_end is not None:
            if not self.open < self.break_start < self.break_end < self.close:
                raise ValidationError(f"session {self.date}: the break must lie inside open..close")

    @property
    def pre_open_start(self) -> datetime:
        return self.open - PRE_OPEN_LEAD

    @property
    def post_close_end(self) -> datetime:
        return self.close + POST_CLOSE_LAG

    def phase(self, now: datetime) -> SessionPhase:
        """Phase of this session at ``now`` (tz-aware); ``CLOSED`` outside its window."""
        now = require_aware(now, "now")
        if now < self.pre_open_start or now >= self.post_close_end:
            return SessionPhase.CLOSED
        if now < self.open - MATCHING_LEAD:
            return SessionPhase.PRE_OPEN
        if now < self.open:
            return SessionPhase.PRE_OPEN_MATCHING
        if now < self.close:
            if self.break_start is not None and self.break_end is not None:
                if self.break_start <= now < self.break_end:
                    return SessionPhase.CLOSED
            return SessionPhase.NORMAL
        if now < self.close + CLOSING_LAG:
            return SessionPhase.CLOSING
        return SessionPhase.POST_CLOSE


class HolidayStatus(StrEnum):
    """Whether a holiday's date is in NSE's published circular for its year."""

    PUBLISHED = "published"  # in NSE's holiday circular (or pmc's table, which follows them)
    ESTIMATED = "estimated"  # not yet: projected (``holidays`` package) or awaiting the circular


@dataclass(frozen=True, slots=True)
class Holiday:
    """One NSE weekday closure: ``name``, the ``source`` it comes from (a circular, a package
    and its version, a bundled file) and its ``status``."""

    date: date
    name: str
    source: str = ""
    status: HolidayStatus = HolidayStatus.PUBLISHED

    def __post_init__(self) -> None:
        if not isinstance(self.status, HolidayStatus):
            raise ValidationError(
                f"holiday {self.date} status must be one of {', '.join(HolidayStatus)}, was {self.status!r}"
            )

    @property
    def estimated(self) -> bool:
        return self.status is HolidayStatus.ESTIMATED

    def describe(self) -> str:
        """``"Republic Day (source: …; estimated)"``: what a refusal or a page shows."""
        src = f"source: {self.source}; " if self.source else ""
        what = "estimated, not yet in NSE's circular" if self.estimated else "published by NSE"
        return f"{self.name or 'NSE trading holiday'} ({src}{what})"


@dataclass(frozen=True, slots=True)
class CalendarHorizon:
    """How far the published holiday list reaches, seen on ``today``.

    ``days_left`` days from ``today`` to ``published_until`` (negative once past it);
    ``warn`` when ``days_left`` <= the warning window; ``estimated`` the estimated holidays
    after the horizon (up to ``covered_until``), in date order.
    """

    today: date
    published_until: date
    covered_until: date
    days_left: int
    warn: bool
    estimated: tuple[Holiday, ...]


def regular_session(day: date) -> TradingSession:
    """A 09:15–15:30 IST session on ``day`` (the current NSE timings, since 2010-10-18)."""
    return TradingSession(
        date=day,
        open=datetime.combine(day, NORMAL_OPEN, IST),
        close=datetime.combine(day, NORMAL_CLOSE, IST),
    )


class NseCalendar:
    """NSE trading days and sessions, from a table; see the module docstring for phases.

    Parameters
    ----------
    sessions : Iterable[TradingSession]
        Every session from ``covered_from`` to ``covered_until`` (one per date).
    holidays : Mapping[date, Holiday | str]
        Weekday closures: a :class:`Holiday`, or just its name (then published, no source).
        Informational: a weekday with no session inside the covered range is closed whether
        or not it is listed here.
    covered_from, covered_until : date
        The range the table is authoritative for. After ``covered_until`` weekdays are
        extrapolated as regular sessions; before ``covered_from`` queries raise.
    published_until : date, optional
        The horizon: the last date covered by NSE's published lists (default
        ``covered_until``); inside ``covered_from..covered_until``.

    Raises
    ------
    ValidationError
        Duplicate session dates, sessions outside the covered range, an empty range, or a
        ``published_until`` outside it.
    """

    def __init__(
        self,
        sessions: Iterable[TradingSession],
        holidays: Mapping[date, Holiday | str],
        covered_from: date,
        covered_until: date,
        published_until: date | None = None,
    ) -> None:
        if covered_until < covered_from:
            raise ValidationError(f"covered_until {covered_until} is before covered_from {covered_from}")
        published = covered_until if published_until is None else published_until
        if not covered_from <= published <= covered_until:
            raise ValidationError(
                f"published_until {published} must lie inside {covered_from}..{covered_until}"
            )
        by_date: dict[date, TradingSession] = {}
        for s in sessions:
            if s.date in by_date:
                raise ValidationError(f"two sessions given for {s.date}; keep one per date")
            if not covered_from <= s.date <= covered_until:
                raise ValidationError(f"session {s.date} lies outside {covered_from}..{covered_until}")
            by_date[s.date] = s
        self._sessions = by_date
        self._dates = sorted(by_date)
        self._holidays = {d: h if isinstance(h, Holiday) else Holiday(d, h) for d, h in holidays.items()}
        self.covered_from = covered_from
        self.covered_until = covered_until
        self.published_until = published

    # ---- days -------------------------------------------------------------------------------

    def is_covered(self, day: date | datetime) -> bool:
        """True when ``day`` lies inside the table (not extrapolated)."""
        d = _day(day)
        return self.covered_from <= d <= self.covered_until

    def session(self, day: date | datetime) -> TradingSession | None:
        """The session on ``day`` (a date, or a tz-aware datetime taken in IST), or ``None``."""
        d = self._check(_day(day))
        if d > self.covered_until:
            return regular_session(d) if d.weekday() < 5 else None
        return self._sessions.get(d)

    def is_trading_day(self, day: date | datetime) -> bool:
        """True when NSE holds an equity session on ``day`` (special sessions count)."""
        return self.session(day) is not None

    def holiday_name(self, day: date | datetime) -> str | None:
        """The holiday's name (``""`` if unnamed) when ``day`` is a listed weekday closure."""
        h = self._holidays.get(_day(day))
        return None if h is None else h.name

    def holiday(self, day: date | datetime) -> Holiday | None:
        """The listed weekday closure on ``day`` (with its source and status), or ``None``."""
        return self._holidays.get(_day(day))

    @property
    def holidays(self) -> dict[date, str]:
        """Weekday closures in the covered range, date → name."""
        return {d: h.name for d, h in self._holidays.items()}

    def is_published(self, day: date | datetime) -> bool:
        """True when ``day`` lies inside NSE's published lists (on or before the horizon)."""
        d = _day(day)
        return self.covered_from <= d <= self.published_until

    def horizon(self, today: date | datetime, warn_days: int = 30) -> CalendarHorizon:
        """How close ``today`` is to the end of the published list (``published_until``).

        ``warn`` once ``today`` is ``warn_days`` days or fewer before it (the System page uses
        30: NSE publishes next year's circular in December). Raises ``ValidationError`` for a
        negative ``warn_days``.
        """
        if warn_days < 0:
            raise ValidationError(f"warn_days must be >= 0 days, was {warn_days}")
        d = _day(today)
        left = (self.published_until - d).days
        estimated = tuple(
            self._holidays[k] for k in sorted(self._holidays)
            if k > self.published_until and self._holidays[k].estimated
        )
        return CalendarHorizon(d, self.published_until, self.covered_until, left, left <= warn_days, estimated)

    def special_sessions(self) -> list[TradingSession]:
        """Every session flagged ``special`` in the table, in date order."""
        return [self._sessions[d] for d in self._dates if self._sessions[d].special]

    def trading_days(self, start: date | datetime, end: date | datetime) -> list[date]:
        """Trading days in ``[start, end]`` (both inclusive), ascending. Empty if end < start."""
        lo, hi = self._check(_day(start)), _day(end)
        out = self._dates[bisect.bisect_left(self._dates, lo) : bisect.bisect_right(self._dates, hi)]
        if hi > self.covered_until:
            d = max(lo, self.covered_until + timedelta(days=1))
            while d <= hi:
                if d.weekday() < 5:
                    out.append(d)
                d += timedelta(days=1)
        return out

    def previous_trading_day(self, day: date | datetime) -> date:
        """The last trading day strictly before ``day``.

        Raises ``ValidationError`` if there is none inside the covered range.
        """
        d = _day(day) - timedelta(days=1)
        while d > self.covered_until:
            if d.weekday() < 5:
                return d
            d -= timedelta(days=1)
        i = bisect.bisect_right(self._dates, d)
        if i == 0:
            raise ValidationError(f"no trading day before {day} in the calendar (starts {self.covered_from})")
        return self._dates[i - 1]

    def next_trading_day(self, day: date | datetime) -> date:
        """The first trading day strictly after ``day``."""
        d = self._check(_day(day)) + timedelta(days=1)
        if d <= self.covered_until:
            i = bisect.bisect_left(self._dates, d)
            if i < len(self._dates):
                return self._dates[i]
            d = self.covered_until + timedelta(days=1)
        while d.weekday() >= 5:
            d += timedelta(days=1)
        return d

    # ---- moments ----------------------------------------------------------------------------

    def phase(self, now: datetime) -> SessionPhase:
        """The session phase at ``now`` (tz-aware). Naive → ``ValidationError``."""
        now = _aware_ist(now)
        s = self.session(now.date())
        return SessionPhase.CLOSED if s is None else s.phase(now)

    def current_or_next_session(self, now: datetime) -> TradingSession:
        """Today's session while its window (pre-open … post-close) has not ended, else the next."""
        now = _aware_ist(now)
        s = self.session(now.date())
        if s is not None and now < s.post_close_end:
            return s
        nxt = self.session(self.next_trading_day(now.date()))
        assert nxt is not None
        return nxt

    def next_open(self, now: datetime) -> datetime:
        """The next continuous-trading open strictly after ``now``, IST.

        Before today's open it is today's; during or after the session it is the next
        trading day's (skipping weekends and holidays). A mid-session break's end is not an
        open.
        """
        now = _aware_ist(now)
        s = self.session(now.date())
        if s is not None and now < s.open:
            return s.open
        nxt = self.session(self.next_trading_day(now.date()))
        assert nxt is not None
        return nxt.open

    def next_close(self, now: datetime) -> datetime:
        """The close of the session in progress or ahead, IST: today's close until it passes,
        then the next trading day's."""
        now = _aware_ist(now)
        s = self.session(now.date())
        if s is not None and now < s.close:
            return s.close
        nxt = self.session(self.next_trading_day(now.date()))
        assert nxt is not None
        return nxt.close

    # ---- helpers ----------------------------------------------------------------------------

    def _check(self, d: date) -> date:
        if d < self.covered_from:
            raise ValidationError(
                f"{d} is before the calendar's first date {self.covered_from}; ask for a later date"
            )
        return d


def _aware_ist(when: datetime) -> datetime:
    if not isinstance(when, datetime):
        raise ValidationError(f"expected a tz-aware datetime, got {type(when).__name__} {when!r}")
    return require_aware(when, "now").astimezone(IST)


def _day(value: date | datetime) -> date:
    """A date; a datetime must be tz-aware and is taken as its IST date."""
    if isinstance(value, datetime):
        return _aware_ist(value).date()
    if isinstance(value, date):
        return value
    raise ValidationError(f"expected a date, got {type(value).__name__} {value!r}")


def regular_sessions(start: date, end: date, closed: Iterable[date]) -> list[TradingSession]:
    """Regular 09:15–15:30 sessions on every weekday of ``[start, end]`` not in ``closed``
    (the table for years known only by their holiday list)."""
    shut = set(closed)
    out, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in shut:
            out.append(regular_session(d))
        d += timedelta(days=1)
    return out


__all__ = [
    "CalendarHorizon",
    "Holiday",
    "HolidayStatus",
    "NseCalendar",
    "TradingSession",
    "regular_session",
    "regular_sessions",
]
