"""app.adapters.calendar_source: the holidays package's XNSE fallback after
pandas-market-calendars' horizon, the bundled override file, and the override file winning."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.adapters.calendar_source import (
    OVERRIDES_FILE,
    load_nse_calendar,
    merge_holidays,
    package_holidays,
    read_overrides,
)
from core.calendar import Holiday, HolidayStatus
from core.errors import ValidationError

PACKAGE = "holidays 0.109 financial_holidays('XNSE')"
#: holidays 0.109 financial_holidays("XNSE", years=2027), weekdays only.
XNSE_2027 = {
    date(2027, 1, 26): "Republic Day",
    date(2027, 3, 10): "Eid al-Fitr (estimated)",
    date(2027, 3, 22): "Holi",
    date(2027, 3, 26): "Good Friday",
    date(2027, 4, 14): "Dr. B. R. Ambedkar Jayanti",
    date(2027, 4, 15): "Ram Navami",
    date(2027, 5, 17): "Eid al-Adha (estimated)",
    date(2027, 6, 16): "Ashura (estimated)",
    date(2027, 10, 29): "Diwali Lakshmi Puja",
}
HEADER = "date,name,source,status\n"


def write(tmp_path: Path, body: str, name: str = "overrides.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_package_gives_the_2027_xnse_weekday_holidays_all_estimated():
    """Source: holidays 0.109 ``financial_holidays("XNSE", years=2027)``."""
    got = package_holidays([2027])
    assert {d: h.name for d, h in got.items()} == XNSE_2027
    assert all(h.source == PACKAGE and h.status is HolidayStatus.ESTIMATED for h in got.values())


def test_package_only_calendar_has_republic_day_2027_from_the_package(tmp_path):
    """Source: holidays 0.109 ``financial_holidays("XNSE")``: with no override file, 26 Jan
    2027 is closed, named as the package names it (not "(estimated)"), source the package."""
    cal = load_nse_calendar(tmp_path / "absent.csv")
    h = cal.holiday(date(2027, 1, 26))
    assert h == Holiday(date(2027, 1, 26), "Republic Day", PACKAGE, HolidayStatus.ESTIMATED)
    assert not cal.is_trading_day(date(2027, 1, 26))
    assert cal.is_trading_day(date(2027, 1, 27))
    assert cal.holiday(date(2027, 3, 10)).name == "Eid al-Fitr (estimated)"


def test_bundled_override_file_holds_2027_exactly_as_the_package_gives_it():
    """Source: app/data/nse/calendar/nse_holidays_overrides.csv, filled from holidays 0.109
    (no date invented); NSE's 2027 circular is not yet published, so every row is estimated."""
    rows = read_overrides(OVERRIDES_FILE)
    assert {h.date: h.name for h in rows} == XNSE_2027
    assert all(h.status is HolidayStatus.ESTIMATED and h.source.startswith(PACKAGE) for h in rows)


def test_override_row_wins_over_the_package_date_by_date(tmp_path):
    """An estimated override row replaces the package's entry on its date and adds new dates."""
    path = write(tmp_path, "2027-01-26,Republic Day,NSE draft list,estimated\n"
                           "2027-02-15,Special closure,NSE draft list,estimated\n")
    cal = load_nse_calendar(path)
    assert cal.holiday(date(2027, 1, 26)).source == "NSE draft list"
    assert not cal.is_trading_day(date(2027, 2, 15))
    assert cal.holiday(date(2027, 3, 10)).source == PACKAGE  # the package still fills the rest
    assert cal.published_until == date(2026, 12, 31)


def test_published_year_replaces_the_package_and_moves_the_horizon(tmp_path):
    """NSE's circular dropped in (all rows published): the package's 2027 dates no longer
    apply, the horizon moves to 2027-12-31 and the 30-day warning is off on 2026-12-02."""
    path = write(tmp_path, "2027-01-26,Republic Day,NSE circular NSE/CMTR/00001,published\n"
                           "2027-03-11,Id-Ul-Fitr,NSE circular NSE/CMTR/00001,published\n")
    cal = load_nse_calendar(path)
    assert cal.published_until == date(2027, 12, 31)
    assert cal.is_trading_day(date(2027, 3, 10))  # the package's estimate is overridden
    assert not cal.is_trading_day(date(2027, 3, 11))
    assert cal.holiday(date(2027, 1, 26)).status is HolidayStatus.PUBLISHED
    assert not cal.horizon(date(2026, 12, 2)).warn
    assert cal.holiday(date(2028, 1, 26)).source == PACKAGE  # 2028 still from the package


def test_override_inside_pmc_years_adds_a_closure(tmp_path):
    """A special closure NSE announces inside pmc's years (like 2026-01-15) closes the day."""
    path = write(tmp_path, "2026-12-28,Special closure,NSE circular NSE/CMTR/00002,published\n")
    cal = load_nse_calendar(path)
    assert not cal.is_trading_day(date(2026, 12, 28))
    assert cal.holiday(date(2026, 12, 28)).source == "NSE circular NSE/CMTR/00002"
    assert cal.published_until == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("2027-01-30,Sat,x,estimated\n", "line 2: date 2027-01-30 is a Saturday; list weekday closures"),
        ("2027-01-26,Republic Day,x,guessed\n", "line 2: status 'guessed' must be one of published, estimated"),
        ("26/01/2027,Republic Day,x,estimated\n", "line 2: date '26/01/2027' must be YYYY-MM-DD"),
        ("2027-01-26,,x,estimated\n", "line 2: name and source must not be empty"),
        ("2027-01-26,A,x,estimated\n2027-01-26,B,x,estimated\n", "line 3: date 2027-01-26 is listed twice"),
    ],
    ids=["weekend", "status", "date-format", "empty-name", "duplicate"],
)
def test_bad_override_row_raises_naming_line_and_field(tmp_path, body, match):
    with pytest.raises(ValidationError, match=match):
        read_overrides(write(tmp_path, body))


def test_override_file_missing_a_column_raises(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,name\n2027-01-26,Republic Day\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="missing column"):
        read_overrides(path)


def test_year_mixing_published_and_estimated_rows_raises():
    rows = [Holiday(date(2027, 1, 26), "A", "c", HolidayStatus.PUBLISHED),
            Holiday(date(2027, 3, 10), "B", "p", HolidayStatus.ESTIMATED)]
    with pytest.raises(ValidationError, match="override rows for 2027 mix published and estimated"):
        merge_holidays({}, date(2026, 12, 31), {}, rows)


def test_horizon_moves_only_over_consecutive_published_years():
    """A published 2028 without a published 2027 leaves the horizon at 2026-12-31."""
    rows = [Holiday(date(2028, 1, 26), "Republic Day", "c", HolidayStatus.PUBLISHED)]
    _, published_until, covered_until = merge_holidays({}, date(2026, 12, 31), {}, rows)
    assert (published_until, covered_until) == (date(2026, 12, 31), date(2028, 12, 31))
