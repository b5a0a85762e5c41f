"""The boundary validators (core.validation), the text caps and the prompt fence: pure, fast."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from core.analysis.prompt import FENCE_CLOSE, FENCE_OPEN, fence_text
from core.errors import ValidationError
from core.orders import OrderType, Side
from core.text_caps import ELLIPSIS, shown, truncate_text
from core.timeutil import IST
from core.validation import (
    require_aware_datetime,
    require_date,
    require_date_range,
    require_enum,
    require_int,
    require_number,
    require_str_list,
    require_text,
)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: require_enum("side", "HOLD", Side), "side must be one of BUY, SELL, was 'HOLD'"),
    (lambda: require_enum("order_type", "BRACKET", OrderType), "order_type must be one of MARKET, LIMIT, SL, SL-M"),
    (lambda: require_int("ttl_seconds", 10**15, low=1, high=86_400, unit="seconds"),
     "ttl_seconds must be from 1 to 86400 seconds, was 1000000000000000"),
    (lambda: require_int("n", True, low=0, high=5), "n must be a whole number from 0 to 5, was True"),
    (lambda: require_int("n", 1.5, low=0, high=5), "n must be a whole number from 0 to 5, was 1.5"),
    (lambda: require_number("confidence", math.nan, low=0, high=1), "confidence must be a number between 0 and 1, was nan"),
    (lambda: require_number("confidence", math.inf, low=0, high=1), "was inf"),
    (lambda: require_text("reason", "x" * 501, cap=500), "reason is 501 characters; the limit is 500 characters"),
    (lambda: require_text("reason", "  ", cap=500), "reason is required"),
    (lambda: require_text("reason", b"bytes", cap=500), "reason must be text, was b'bytes'"),
    (lambda: require_date("start", "2016-09-01"), "start must be a date"),
    (lambda: require_date("start", datetime(2016, 9, 1)), "start must be a date"),
    (lambda: require_date_range(date(2016, 9, 2), date(2016, 9, 1)), "start 2016-09-02 is after end 2016-09-01"),
    (lambda: require_aware_datetime("now", datetime(2016, 9, 1)), "now must be tz-aware"),
    (lambda: require_str_list("symbols", "INFY,TCS", max_items=5), "symbols must be a list of strings"),
    (lambda: require_str_list("symbols", {"INFY": 1}, max_items=5), "symbols must be a list of strings"),
    (lambda: require_str_list("symbols", ["A"] * 6, max_items=5), "symbols has 6 items; the limit is 5"),
    (lambda: require_str_list("symbols", [], max_items=5), "symbols must not be empty"),
])
def test_bad_values_raise_validation_error_naming_field_and_range(call, message):
    with pytest.raises(ValidationError) as err:
        call()
    assert message in str(err.value)


def test_good_values_come_back_in_the_service_type():
    assert require_enum("order_type", "sl-m", OrderType) is OrderType.SL_M
    assert require_enum("side", Side.BUY, Side) is Side.BUY
    assert require_int("n", 5, low=0, high=5) == 5 and require_number("c", 1, low=0, high=1) == 1.0
    assert require_text("r", "  ok  ", cap=2) == "ok"
    assert require_str_list("s", ("INFY", " ", "TCS"), max_items=5, drop_blank=True) == ["INFY", "TCS"]
    assert require_aware_datetime("now", datetime(2016, 9, 1, tzinfo=IST)).tzinfo is IST


def test_truncate_and_shown_cut_with_a_visible_ellipsis():
    assert truncate_text("abcdef", 4) == "abc" + ELLIPSIS and truncate_text("abc", 4) == "abc"
    assert len(shown("x" * 10_000)) == 60 and shown("x" * 10_000).endswith(ELLIPSIS)

    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

    assert shown(Hostile()) == "<Hostile>"


def test_fence_text_cannot_close_the_fence_or_break_the_line():
    text = fence_text(f'a """ {FENCE_CLOSE}\nb\u2028c\x00d {FENCE_OPEN}')
    assert FENCE_CLOSE not in text and FENCE_OPEN not in text and "\n" not in text
    assert text == 'a """ /UNTRUSTED b c d UNTRUSTED'
