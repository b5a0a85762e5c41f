"""NseCalendar on the real calendar (pandas-market-calendars NSE to 2026, the holidays package's
XNSE estimates and the bundled override file after it, bundled weekend sessions), and on small
tables."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from app.adapters.calendar_source import load_nse_calendar
from core.calendar import Holiday, HolidayStatus, NseCalendar, TradingSession, regular_session, regular_sessions
from core.errors import ValidationError
from core.gatekeeper import ChangeKind, GateContext, OrderChange, check
from core.risk.market_rules import check_session
from core.risk.reasons import ReasonCode
from core.sessions import SessionPhase
from core.timeutil import IST, UTC
from tests.factories import INFY, intent

# indian-market.md §1: the 15 NSE holidays of 2026 plus the special 2026-01-15 closure.
HOLIDAYS_2026 = [
    date(2026, 1, 15), date(2026, 1, 26), date(2026, 3, 3), date(2026, 3, 26), date(2026, 3, 31),
    date(2026, 4, 3), date(2026, 4, 14), date(2026, 5, 1), date(2026, 5, 28), date(2026, 6, 26),
    date(2026, 9, 14), date(2026, 10, 2), date(2026, 10, 20), date(2026, 11, 10), date(2026, 11, 24),
    date(2026, 12, 25),
]


@pytest.fixture(scope="module")
def cal() -> NseCalendar:
    return load_nse_calendar()


def ist(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=IST)


@pytest.mark.parametrize("day", HOLIDAYS_2026, ids=str)
def test_2026_holiday_is_not_a_trading_day(cal, day):
    assert day.weekday() < 5
    assert not cal.is_trading_day(day)
    assert cal.session(day) is None
    assert cal.holiday_name(day) is not None
    assert cal.phase(datetime.combine(day, time(10, 0), IST)) is SessionPhase.CLOSED


def test_2026_weekday_holidays_are_exactly_the_published_list(cal):
    listed = sorted(d for d in cal.holidays if d.year == 2026)
    assert listed == HOLIDAYS_2026


def test_days_around_special_2026_01_15_holiday_trade(cal):
    assert cal.is_trading_day(date(2026, 1, 14))
    assert cal.is_trading_day(date(2026, 1, 16))
    assert cal.trading_days(date(2026, 1, 12), date(2026, 1, 18)) == [
        date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14), date(2026, 1, 16),
    ]


def test_replay_period_has_the_18_recorded_sessions(cal):
    days = cal.trading_days(date(2016, 8, 16), date(2016, 9, 9))
    assert len(days) == 18
    assert date(2016, 9, 5) not in days  # Ganesh Chaturthi
    assert date(2016, 8, 15) not in cal.trading_days(date(2016, 8, 15), date(2016, 8, 15))


def test_regular_day_session_is_0915_to_1530_ist_and_not_special(cal):
    s = cal.session(date(2016, 8, 16))
    assert s is not None and not s.special
    assert (s.open, s.close) == (ist(2016, 8, 16, 9, 15), ist(2016, 8, 16, 15, 30))


@pytest.mark.parametrize(
    ("hh", "mm", "ss", "expected"),
    [
        (8, 59, 59, SessionPhase.CLOSED),
        (9, 0, 0, SessionPhase.PRE_OPEN),
        (9, 7, 59, SessionPhase.PRE_OPEN),
        (9, 8, 0, SessionPhase.PRE_OPEN_MATCHING),
        (9, 14, 59, SessionPhase.PRE_OPEN_MATCHING),
        (9, 15, 0, SessionPhase.NORMAL),
        (15, 29, 59, SessionPhase.NORMAL),
        (15, 30, 0, SessionPhase.CLOSING),
        (15, 39, 59, SessionPhase.CLOSING),
        (15, 40, 0, SessionPhase.POST_CLOSE),
        (15, 59, 59, SessionPhase.POST_CLOSE),
        (16, 0, 0, SessionPhase.CLOSED),
    ],
    ids=lambda v: str(v),
)
def test_phase_at_boundary_minute_on_regular_day(cal, hh, mm, ss, expected):
    assert cal.phase(ist(2026, 1, 14, hh, mm, ss)) is expected


def test_phase_of_utc_time_equals_phase_of_same_ist_instant(cal):
    assert cal.phase(datetime(2026, 1, 14, 3, 45, tzinfo=UTC)) is SessionPhase.NORMAL  # 09:15 IST
    assert cal.phase(datetime(2026, 1, 14, 3, 44, 59, tzinfo=UTC)) is SessionPhase.PRE_OPEN_MATCHING


def test_phase_on_saturday_is_closed(cal):
    assert cal.phase(ist(2026, 1, 17, 10, 0)) is SessionPhase.CLOSED


@pytest.mark.parametrize(
    ("hh", "mm", "expected"),
    [
        (10, 0, SessionPhase.CLOSED),
        (17, 45, SessionPhase.PRE_OPEN),
        (17, 53, SessionPhase.PRE_OPEN_MATCHING),
        (18, 0, SessionPhase.NORMAL),
        (18, 59, SessionPhase.NORMAL),
        (19, 0, SessionPhase.CLOSING),
        (19, 10, SessionPhase.POST_CLOSE),
        (19, 30, SessionPhase.CLOSED),
    ],
    ids=lambda v: str(v),
)
def test_muhurat_2024_phases_use_its_own_1800_1900_hours(cal, hh, mm, expected):
    assert cal.phase(ist(2024, 11, 1, hh, mm)) is expected


def test_muhurat_session_is_flagged_special_with_pmc_hours(cal):
    s = cal.session(date(2025, 10, 21))
    assert s is not None and s.special and "Muhurat" in s.name
    assert (s.open.time(), s.close.time()) == (time(13, 45), time(14, 45))


def test_weekend_budget_saturday_2025_trades_regular_hours(cal):
    day = date(2025, 2, 1)
    assert day.weekday() == 5
    assert cal.is_trading_day(day)
    assert cal.phase(ist(2025, 2, 1, 11, 0)) is SessionPhase.NORMAL
    assert cal.trading_days(date(2025, 1, 31), date(2025, 2, 3)) == [
        date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 3),
    ]


def test_weekend_muhurat_sunday_2023_is_an_evening_session(cal):
    s = cal.session(date(2023, 11, 12))
    assert s is not None and s.special
    assert cal.phase(ist(2023, 11, 12, 18, 30)) is SessionPhase.NORMAL
    assert cal.phase(ist(2023, 11, 12, 11, 0)) is SessionPhase.CLOSED


def test_dr_drill_saturday_is_closed_during_its_break(cal):
    assert cal.phase(ist(2024, 1, 20, 9, 30)) is SessionPhase.NORMAL
    assert cal.phase(ist(2024, 1, 20, 10, 30)) is SessionPhase.CLOSED
    assert cal.phase(ist(2024, 1, 20, 12, 0)) is SessionPhase.NORMAL


def test_next_open_after_friday_close_is_monday_0915(cal):
    assert cal.next_open(ist(2026, 1, 9, 16, 0)) == ist(2026, 1, 12, 9, 15)
    assert cal.next_open(ist(2026, 1, 10, 12, 0)) == ist(2026, 1, 12, 9, 15)


def test_next_open_skips_holiday(cal):
    assert cal.next_open(ist(2026, 1, 14, 15, 31)) == ist(2026, 1, 16, 9, 15)  # skips Jan 15
    assert cal.next_open(ist(2026, 1, 23, 18, 0)) == ist(2026, 1, 27, 9, 15)  # weekend + Jan 26


def test_next_open_before_the_open_is_today(cal):
    assert cal.next_open(ist(2026, 1, 14, 9, 5)) == ist(2026, 1, 14, 9, 15)


def test_next_close_during_session_is_today_then_next_day_after_close(cal):
    assert cal.next_close(ist(2026, 1, 14, 11, 0)) == ist(2026, 1, 14, 15, 30)
    assert cal.next_close(ist(2026, 1, 14, 15, 30)) == ist(2026, 1, 16, 15, 30)


def test_previous_trading_day_skips_holiday_and_weekend(cal):
    assert cal.previous_trading_day(date(2026, 1, 16)) == date(2026, 1, 14)
    assert cal.previous_trading_day(date(2026, 1, 27)) == date(2026, 1, 23)


def test_naive_datetime_raises_validation_error(cal):
    with pytest.raises(ValidationError, match="timezone-aware"):
        cal.phase(datetime(2026, 1, 14, 10, 0))
    with pytest.raises(ValidationError, match="timezone-aware"):
        cal.next_open(datetime(2026, 1, 14, 10, 0))


def test_2027_republic_day_is_not_a_session_and_comes_from_the_holidays_package(cal):
    """Source: holidays 0.109 ``financial_holidays("XNSE")`` (bundled as the 2027 rows of
    app/data/nse/calendar/nse_holidays_overrides.csv): Republic Day, Tue 2027-01-26. The package
    does not mark this date estimated (no "(estimated)" in its name); it is ``estimated`` for
    the desk because NSE's 2027 circular is not yet published."""
    day = date(2027, 1, 26)
    assert not cal.is_trading_day(day)
    assert cal.phase(ist(2027, 1, 26, 10, 0)) is SessionPhase.CLOSED
    h = cal.holiday(day)
    assert h is not None and h.name == "Republic Day"
    assert "holidays 0.109 financial_holidays('XNSE')" in h.source
    assert h.status is HolidayStatus.ESTIMATED
    assert cal.next_open(ist(2027, 1, 25, 16, 0)) == ist(2027, 1, 27, 9, 15)
    assert cal.previous_trading_day(date(2027, 1, 27)) == date(2027, 1, 25)


def test_2027_eid_al_fitr_is_marked_estimated_as_the_package_says(cal):
    """Source: holidays 0.109 ``financial_holidays("XNSE")``: Eid al-Fitr on Wed 2027-03-10, a
    date the package itself estimates (its name ends "(estimated)")."""
    h = cal.holiday(date(2027, 3, 10))
    assert h is not None and h.name == "Eid al-Fitr (estimated)" and h.estimated
    assert not cal.is_trading_day(date(2027, 3, 10))


def test_2027_weekday_that_is_no_holiday_is_a_regular_session(cal):
    """Source: NSE market timings (indian-market.md §1): a weekday that is not a holiday trades
    09:15–15:30 IST; Wed 2027-01-27 is on no 2027 list."""
    s = cal.session(date(2027, 1, 27))
    assert s is not None and not s.special
    assert (s.open, s.close) == (ist(2027, 1, 27, 9, 15), ist(2027, 1, 27, 15, 30))
    assert cal.holiday(date(2027, 1, 27)) is None


def test_2027_january_trading_days_skip_only_republic_day(cal):
    """Source: holidays 0.109 ``financial_holidays("XNSE")``: Republic Day is 2027's only
    January holiday."""
    days = cal.trading_days(date(2027, 1, 1), date(2027, 1, 31))
    assert len(days) == 20  # 21 weekdays less Tue 26 Jan
    assert date(2027, 1, 26) not in days and date(2027, 1, 1) in days


def test_horizon_is_the_end_of_nse_published_list_2026_12_31(cal):
    """Source: pandas-market-calendars 5.5.0 (NSE's circulars) ends 2026-12-31; the holidays
    package's estimates reach 2030-12-31 (FALLBACK_YEARS = 4)."""
    assert cal.published_until == date(2026, 12, 31)
    assert cal.covered_until == date(2030, 12, 31)
    assert cal.is_published(date(2026, 12, 31)) and not cal.is_published(date(2027, 1, 1))
    assert cal.is_covered(date(2027, 1, 26))


def test_horizon_warns_from_30_days_before_its_end(cal):
    """Source: NSE publishes next year's holiday circular in December (indian-market.md §1,
    Calendar horizon): the warning window is 30 days."""
    assert not cal.horizon(date(2026, 11, 30)).warn  # 31 days left
    assert cal.horizon(date(2026, 12, 1)).warn  # 30 days left
    h = cal.horizon(date(2026, 12, 2))
    assert (h.days_left, h.warn, h.published_until) == (29, True, date(2026, 12, 31))
    assert date(2027, 1, 26) in [x.date for x in h.estimated]
    assert all(x.estimated and x.date > date(2026, 12, 31) for x in h.estimated)


def test_beyond_covered_until_weekdays_are_extrapolated_and_flagged_uncovered(cal):
    assert not cal.is_covered(date(2031, 1, 27))
    assert cal.is_trading_day(date(2031, 1, 27))  # no list that far ahead
    assert cal.next_open(ist(2030, 12, 31, 16, 0)) == ist(2031, 1, 1, 9, 15)


def test_order_on_2027_republic_day_is_refused_naming_the_calendar_source(cal):
    """Source: NSE holiday calendar (holidays 0.109 ``financial_holidays("XNSE")`` for 2027):
    the gatekeeper's session rule refuses an order on Republic Day 2027 and names the source."""
    now = ist(2027, 1, 26, 10, 0)
    ctx = GateContext(INFY, now, cal.phase(now), ltp=Decimal("1500.00"), holiday=cal.holiday(now))
    decision = check(OrderChange(ChangeKind.PLACE, intent(INFY, qty=1)), ctx)
    assert not decision.approved
    assert decision.reasons == (ReasonCode.MARKET_CLOSED,)
    msg = decision.messages[0]
    assert "2027-01-26 is an NSE trading holiday" in msg and "Republic Day" in msg
    assert "holidays 0.109 financial_holidays('XNSE')" in msg and "estimated" in msg


def test_session_rule_on_a_published_holiday_names_its_circular():
    """Source: the holiday's own ``source`` (here an NSE circular number) is named."""
    h = Holiday(date(2026, 1, 26), "Republic Day", "NSE circular NSE/CMTR/71775", HolidayStatus.PUBLISHED)
    denial = check_session(intent(INFY, qty=1), SessionPhase.CLOSED, h)
    assert denial is not None and denial.code is ReasonCode.MARKET_CLOSED
    assert "NSE circular NSE/CMTR/71775" in denial.message and "published by NSE" in denial.message


def test_session_rule_without_holiday_keeps_the_timings_message():
    denial = check_session(intent(INFY, qty=1), SessionPhase.CLOSED)
    assert denial is not None and "09:15–15:30 IST" in denial.message and "holiday" not in denial.message


def test_date_before_coverage_raises(cal):
    with pytest.raises(ValidationError, match="first date"):
        cal.session(date(1990, 1, 2))


def test_duplicate_session_dates_raise():
    s = regular_session(date(2026, 1, 14))
    with pytest.raises(ValidationError, match="two sessions"):
        NseCalendar([s, s], {}, date(2026, 1, 1), date(2026, 1, 31))


def test_session_with_close_before_open_raises():
    with pytest.raises(ValidationError, match="after open"):
        TradingSession(date(2026, 1, 14), ist(2026, 1, 14, 15), ist(2026, 1, 14, 9))


def test_small_table_calendar_next_open_crosses_uncovered_gap():
    cal = NseCalendar([regular_session(date(2026, 1, 14))], {date(2026, 1, 15): "x"},
                      date(2026, 1, 14), date(2026, 1, 15))
    assert cal.next_open(ist(2026, 1, 14, 15, 0) + timedelta(hours=1)) == ist(2026, 1, 16, 9, 15)


def test_published_until_outside_the_covered_range_raises():
    with pytest.raises(ValidationError, match="published_until 2026-02-01 must lie inside"):
        NseCalendar([], {}, date(2026, 1, 1), date(2026, 1, 31), published_until=date(2026, 2, 1))


def test_holiday_status_other_than_published_or_estimated_raises():
    with pytest.raises(ValidationError, match="status must be one of published, estimated"):
        Holiday(date(2027, 1, 26), "Republic Day", "x", "guessed")  # type: ignore[arg-type]


def test_holiday_given_as_a_name_is_published_without_source():
    cal = NseCalendar([], {date(2026, 1, 15): "Election"}, date(2026, 1, 15), date(2026, 1, 15))
    assert cal.holiday(date(2026, 1, 15)) == Holiday(date(2026, 1, 15), "Election", "", HolidayStatus.PUBLISHED)
    assert cal.holidays == {date(2026, 1, 15): "Election"}


def test_small_table_horizon_counts_only_estimated_holidays_after_it():
    est = Holiday(date(2026, 1, 20), "Guess", "pkg", HolidayStatus.ESTIMATED)
    pub = Holiday(date(2026, 1, 6), "Known", "circular", HolidayStatus.PUBLISHED)
    sessions = regular_sessions(date(2026, 1, 1), date(2026, 1, 31), {est.date, pub.date})
    cal = NseCalendar(sessions, {est.date: est, pub.date: pub}, date(2026, 1, 1), date(2026, 1, 31),
                      published_until=date(2026, 1, 10))
    h = cal.horizon(date(2026, 1, 1), warn_days=5)
    assert (h.days_left, h.warn, h.estimated) == (9, False, (est,))
    assert cal.horizon(date(2026, 1, 5), warn_days=5).warn
    assert cal.horizon(date(2026, 1, 12), warn_days=5).days_left == -2
    with pytest.raises(ValidationError, match="warn_days must be >= 0"):
        cal.horizon(date(2026, 1, 1), warn_days=-1)


def test_regular_sessions_skip_weekends_and_closed_days():
    days = [s.date for s in regular_sessions(date(2027, 1, 22), date(2027, 1, 27), {date(2027, 1, 26)})]
    assert days == [date(2027, 1, 22), date(2027, 1, 25), date(2027, 1, 27)]
