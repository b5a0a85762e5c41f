"""IST ranges: whole days for dates, errors for naive times and reversed ranges."""

from datetime import date, datetime

import pytest

from core.errors import ValidationError
from core.timeutil import IST, ist_range


def test_dates_cover_whole_ist_days():
    start, end = ist_range(date(2016, 8, 16), date(2016, 8, 17))
    assert start == datetime(2016, 8, 16, 0, 0, tzinfo=IST)
    assert end == datetime(2016, 8, 17, 23, 59, 59, tzinfo=IST)


def test_reversed_range_raises_with_a_fix():
    with pytest.raises(ValidationError, match="swap them"):
        ist_range(date(2016, 8, 17), date(2016, 8, 16))


def test_naive_datetime_is_refused():
    with pytest.raises(ValidationError, match="timezone-aware"):
        ist_range(datetime(2016, 8, 16, 9, 15), date(2016, 8, 16))
