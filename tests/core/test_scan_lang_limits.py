"""core.scan_lang limits (issue 16): a depth limit instead of RecursionError, constant scans,
division by zero, number formats; a property test that any string up to the cap raises only
the parse error."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ValidationError
from core.scan_lang import ScanSyntaxError, build_panel, evaluate, parse
from core.scan_lang.parser import MAX_DEPTH, MAX_LENGTH
from core.timeutil import IST


def _panel(closes: dict[str, list[float]], spreads: dict[str, float] | None = None):
    """Daily bars; high/low are close ± the symbol's spread (default 1)."""
    rows = []
    for sym, cs in closes.items():
        spread = (spreads or {}).get(sym, 1.0)
        idx = pd.date_range("2026-01-01", periods=len(cs), freq="D", tz=IST)
        for t, c in zip(idx, cs, strict=True):
            rows.append({"symbol": sym, "ts": t, "open": c, "high": c + spread, "low": c - spread, "close": c,
                         "volume": 1000.0})
    return build_panel(pd.DataFrame(rows), list(closes), "day")


# ---- one test per message ----------------------------------------------------------------------

DEEP = "level 65"


@pytest.mark.parametrize("source,column,message", [
    # 300 nested parentheses: 609 characters, under the 2,000-character cap
    ("(" * 300 + "close > 1" + ")" * 300, MAX_DEPTH + 1, DEEP),
    # 1,500 unary minus signs
    ("-" * 1500 + "close > 1", MAX_DEPTH + 1, DEEP),
    ("close > " + "-" * 1500 + "1", 9 + MAX_DEPTH, DEEP),
    # a flat chain deeper than the limit (the evaluator would recurse on it)
    ("+".join(["close"] * 300) + " > 1", None, DEEP),
    (" and ".join(["close > 1"] * 100), None, DEEP),
    ("1 > 0", 1, "the scan compares only constants; use a field like close"),
    ("1 < 2 and -3 <= 4 / 2", 1, "the scan compares only constants; use a field like close"),
    ("close / 0 > 1", 7, "division by zero never matches"),
    ("close / (2 - 2) > 1", 7, "division by zero never matches"),
    ("close > 1e9", 9, "scientific notation is not supported; write 1000000000"),
    ("close > 2.5E-3", 9, "scientific notation is not supported; write 0.0025"),
    ("close > 1e999", 9, "scientific notation is not supported; write the number in full"),
    ("close > " + "9" * 400, 9, "a number of at most 308 digits"),
    ("close > 1" + " " * MAX_LENGTH, MAX_LENGTH + 1, f"a scan of at most {MAX_LENGTH} characters"),
])
def test_limit_is_a_parse_error_with_a_column_and_its_own_message(source, column, message):
    with pytest.raises(ScanSyntaxError) as err:
        parse(source)
    assert message.lower() in str(err.value).lower(), str(err.value)
    assert isinstance(err.value, ValidationError)
    if column is not None:
        assert err.value.column == column, str(err.value)
    assert str(err.value).startswith(f"column {err.value.column}: expected")
    assert len(str(err.value)) < 400  # the message does not echo the scan


def test_depth_limit_allows_exactly_max_depth_levels():
    node = parse("(" * MAX_DEPTH + "close" + ")" * MAX_DEPTH + " > 1")
    assert node.op == ">"
    parse("-" * (MAX_DEPTH - 2) + "close > 1")  # 62 Neg + the operand + the comparison
    with pytest.raises(ScanSyntaxError, match=DEEP):
        parse("(" * (MAX_DEPTH + 1) + "close" + ")" * (MAX_DEPTH + 1) + " > 1")


def test_deepest_allowed_scan_evaluates_without_recursion_error():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # a deep caller stack (Streamlit, Dramatiq) leaves less room
    try:
        node = parse(" + ".join(["close"] * 60) + " > 1")
        out = evaluate(node, {"day": _panel({"A": [1.0, 2.0]})})
    finally:
        sys.setrecursionlimit(old)
    assert out.matched.tolist() == [True]


def test_constant_parts_next_to_a_field_are_fine():
    assert parse("close > 1 and 1 > 0").op == "and"


def test_division_by_zero_on_some_bars_is_stated_in_the_result():
    # high - low is 0 for FLAT (spread 0) and 2 for the others
    both = _panel({"A": [10.0, 11.0], "B": [5.0, 6.0], "FLAT": [10.0, 10.0]}, {"FLAT": 0.0})
    out = evaluate(parse("close / (high - low) > 1"), {"day": both})
    assert out.matched.tolist() == [True, True, False]
    assert out.zero_division is not None and out.zero_division.tolist() == [False, False, True]
    assert evaluate(parse("close > 1"), {"day": both}).zero_division is None


# ---- property: any text up to the cap raises only the parse error ------------------------------

_PIECES = ["(", ")", "-", "+", "*", "/", " ", "close", "high", "volume", "rsi(14)", "ema(close, 20)", "sma(",
           ",", "1", "0", "2.5", ".5", "1e9", "9" * 30, "[0]", "[-1]", "[", "]", "5 minute", "daily", "weekly",
           "7 minute", " and ", " or ", ">", ">=", "<", "<=", "=", "==", "!=", " crossed above ", " crossed below ",
           "crossed", "foo(", "__import__", "'", "\"", "@", "\n", "é", "₹"]
_DEEP = st.builds(lambda n, piece, tail: piece * n + tail, st.integers(0, 1000), st.sampled_from(["(", "-", "- ", "(-"]),
                  st.sampled_from(["close > 1", "1", "close", ""]))
_EXPR = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=300).map("".join),
    st.lists(st.one_of(st.sampled_from(_PIECES), _DEEP), max_size=6).map("".join),
    st.text(max_size=200),
).map(lambda s: s[:MAX_LENGTH])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_EXPR)
def test_any_text_up_to_the_cap_parses_or_raises_only_the_parse_error(source):
    try:
        node = parse(source)
    except ScanSyntaxError as exc:
        assert 1 <= exc.column <= len(source) + 1
        return
    assert np.isfinite(node.pos)
