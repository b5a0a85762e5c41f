"""core.scan_lang: grammar, every operator, errors with positions, kernels == core.indicators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.settings import DATA_DIR
from core import indicators as ind
from core.errors import ValidationError
from core.scan_lang import ScanSyntaxError, build_panel, evaluate, parse, required_bars
from core.scan_lang.ast import BinOp, BoolOp, Compare, Cross, Num, Operand
from core.scan_lang.functions import compute
from core.timeutil import IST

NIFTY500 = DATA_DIR / "daily_nifty500_yahoo_splitadj_2025-03_2026-06.csv.gz"


def tiny_panel(closes: dict[str, list[float]], volume: float = 1000.0):
    """Daily bars for a few symbols; open = high = low = close unless noted."""
    rows = []
    for sym, cs in closes.items():
        idx = pd.date_range("2026-01-01", periods=len(cs), freq="D", tz=IST)
        for t, c in zip(idx, cs, strict=True):
            rows.append({"symbol": sym, "ts": t, "open": c, "high": c + 1, "low": c - 1, "close": c, "volume": volume})
    return build_panel(pd.DataFrame(rows), list(closes), "day")


# ---- grammar ------------------------------------------------------------------------------------


def test_the_issue_example_parses_with_timeframes_and_offsets():
    node = parse("[0] 5 minute close > [0] 5 minute ema(close, 20) and [0] daily rsi(14) < 40")
    assert isinstance(node, BoolOp) and node.op == "and"
    left, right = node.left, node.right
    assert isinstance(left, Compare) and left.op == ">"
    assert left.left == Operand(0, "5minute", "close", (), 1, "[0] 5 minute close")
    assert left.right.name == "ema" and left.right.args == ("close", 20) and left.right.timeframe == "5minute"
    assert right.left.timeframe == "day" and right.left.args == ("close", 14)
    assert required_bars(node) == {"5minute": 20, "day": 15}


def test_and_binds_tighter_than_or_and_parentheses_override():
    node = parse("close > 1 or close > 2 and close > 3")
    assert node.op == "or" and node.right.op == "and"
    node = parse("(close > 1 or close > 2) and close > 3")
    assert node.op == "and" and node.left.op == "or"


def test_arithmetic_precedence_and_unary_minus():
    node = parse("close - 2 * open / 4 > -1")
    assert isinstance(node.left, BinOp) and node.left.op == "-"
    assert node.left.right.op == "/" and node.left.right.left.op == "*"
    assert node.right.__class__.__name__ == "Neg"


def test_offsets_default_timeframe_and_case_insensitive_keywords():
    node = parse("[-1] CLOSE >= [2] Weekly High AND Close CROSSED BELOW sma(close, 5)")
    a = node.left.left
    assert (a.offset, a.timeframe, a.name) == (1, "day", "close")
    assert (node.left.right.offset, node.left.right.timeframe) == (2, "week")
    assert isinstance(node.right, Cross) and node.right.direction == "below"


def test_function_defaults_and_bare_number_first_arg():
    assert parse("rsi() > 1").left.args == ("close", 14)
    assert parse("supertrend(7, 2.5) > 1").left.args == (7, 2.5)
    assert parse("sma(volume, 10) > 1").left.args == ("volume", 10)
    assert parse("macd() > 0").left.args == (12, 26, 9)
    assert isinstance(parse("1 < close").left, Num)


@pytest.mark.parametrize("tf,key", [("1 minute", "minute"), ("5 minute", "5minute"), ("15 minute", "15minute"),
                                    ("30 minute", "30minute"), ("60 minute", "60minute"), ("1 hour", "60minute"),
                                    ("daily", "day"), ("weekly", "week")])
def test_every_timeframe(tf, key):
    assert parse(f"[0] {tf} close > 1").left.timeframe == key


# ---- errors name the column and what was expected ----------------------------------------------


@pytest.mark.parametrize("source,column,expected", [
    ("close >", 8, "a number, a field"),
    ("[0] daily rsi(14 < 40", 18, "',' or ')'"),
    ("[0] daily close > [0] daily foo(14)", 29, "a known indicator"),
    ("[0] 7 minute close > 1", 5, "a timeframe"),
    ("[0] monthly close > 1", 5, "a timeframe"),
    ("close + 1", 10, "a comparison"),
    ("close > 1 and 5", 11, "a condition on the right of 'and'"),
    ("close > 1 )", 11, "'and', 'or', a comparison"),
    ("(close > 1", 11, "')' to close the '(' at column 1"),
    ("close crossed over open", 15, "'above' or 'below'"),
    ("close @ 3", 7, "a number, a name"),
    ("close != 3", 7, "one of > >= < <= ="),
    ("[x] close > 1", 2, "a whole number of bars ago"),
    ("[0] daily closes > 1", 11, "a field"),
    ("ema(close) > 1", 1, "ema(field, n)"),
    ("rsi(close, 0) > 1", 1, "rsi(field, n)"),
    ("(close > 1) + 2 > 1", 8, "a number on each side"),
    ("", 1, "a condition"),
])
def test_syntax_errors_name_position_and_expectation(source, column, expected):
    with pytest.raises(ScanSyntaxError) as err:
        parse(source)
    assert err.value.column == column, str(err.value)
    assert expected in err.value.expected, str(err.value)
    assert str(err.value).startswith(f"column {column}: expected")
    assert isinstance(err.value, ValidationError)


def test_unknown_indicator_message_lists_known_ones():
    with pytest.raises(ScanSyntaxError, match="Unknown indicator; known: .*rsi"):
        parse("vortex(14) > 1")


def test_python_code_is_rejected_not_executed():
    with pytest.raises(ScanSyntaxError):
        parse("__import__('os').system('true') > 1")


# ---- every operator, evaluated ------------------------------------------------------------------


def test_comparisons_and_arithmetic_evaluate_per_symbol():
    p = tiny_panel({"A": [10, 11, 12], "B": [12, 11, 10], "C": [5, 5, 5]})
    cases = {
        "close > 11": [True, False, False], "close >= 12": [True, False, False],
        "close < 6": [False, False, True], "close <= 10": [False, True, True], "close = 5": [False, False, True],
        "close + 2 > 13": [True, False, False], "close - 1 = 4": [False, False, True],
        "close * 2 = 20": [False, True, False], "close / 2 = 6": [True, False, False],
        "close > [1] close": [True, False, False], "[2] close = 12": [False, True, False],
        "close > 11 or close = 5": [True, False, True], "close > 9 and close < 11": [False, True, False],
        "high - low = 2 and -close < -11": [True, False, False],
    }
    for src, want in cases.items():
        assert evaluate(parse(src), {"day": p}).matched.tolist() == want, src


def test_crossed_above_and_below_need_the_previous_bar_on_the_other_side():
    p = tiny_panel({"UP": [9, 10, 12], "WAS": [12, 13, 14], "DN": [12, 11, 9], "TOUCH": [10, 10, 11]})
    assert evaluate(parse("close crossed above 10.5"), {"day": p}).matched.tolist() == [True, False, False, True]
    assert evaluate(parse("close crossed below 10.5"), {"day": p}).matched.tolist() == [False, False, True, False]
    assert evaluate(parse("close crossed above 10"), {"day": p}).matched.tolist() == [True, False, False, True]


def test_division_by_zero_never_matches():
    p = tiny_panel({"A": [1, 2]})
    assert not evaluate(parse("close / (close - close) > 0"), {"day": p}).matched.any()


def test_values_are_reported_per_operand_text():
    p = tiny_panel({"A": [10, 11, 12], "B": [12, 11, 10]})
    out = evaluate(parse("[0] daily close > [1] daily close"), {"day": p})
    assert out.values["[0] daily close"].tolist() == [12, 10]
    assert out.values["[1] daily close"].tolist() == [11, 11]


def test_too_little_history_is_a_clear_error():
    p = tiny_panel({"A": [10, 11, 12]})
    with pytest.raises(ValidationError, match="too little history: 'rsi\\(14\\)' needs at least 15 daily bars .* only 3"):
        evaluate(parse("rsi(14) < 30"), {"day": p})


def test_missing_timeframe_is_a_clear_error():
    p = tiny_panel({"A": [10, 11, 12]})
    with pytest.raises(ValidationError, match="no 5 minute bars"):
        evaluate(parse("[0] 5 minute close > 1"), {"day": p})


def test_short_symbol_cannot_match_and_is_flagged():
    p = tiny_panel({"LONG": list(range(1, 30)), "NEW": [30, 31, 32]})
    out = evaluate(parse("close > sma(close, 5)"), {"day": p})
    assert out.matched.tolist() == [True, False] and out.insufficient.tolist() == [False, True]


def test_history_mode_equals_latest_mode_on_truncated_data():
    p = tiny_panel({"A": [10, 12, 11, 13, 9, 14, 15, 13], "B": [5, 4, 6, 7, 3, 2, 8, 9]})
    node = parse("close crossed above sma(close, 3) or close < [1] low")
    hist = evaluate(node, {"day": p}, "history").matched
    for t in range(4, 9):
        cut = tiny_panel({"A": [10, 12, 11, 13, 9, 14, 15, 13][:t], "B": [5, 4, 6, 7, 3, 2, 8, 9][:t]})
        assert evaluate(node, {"day": cut}).matched.tolist() == hist[t - 1].tolist()


# ---- kernels agree with core.indicators symbol by symbol ----------------------------------------


@pytest.fixture(scope="module")
def real_panel():
    d = pd.read_csv(NIFTY500)
    d = d[d["symbol"].isin(["RELIANCE", "INFY", "TCS", "SBIN", "ABLBL", "TATASTEEL"])]
    d["ts"] = pd.DatetimeIndex(pd.to_datetime(d["date"])).tz_localize(IST)
    return d, build_panel(d, sorted(d["symbol"].unique()), "day")


CHECKS = [
    ("sma", ("close", 20), lambda b: ind.sma(b, 20)),
    ("ema", ("close", 50), lambda b: ind.ema(b, 50)),
    ("rsi", ("close", 14), lambda b: ind.rsi(b, 14)),
    ("macd", (12, 26, 9), lambda b: ind.macd(b)["macd"]),
    ("macd_signal", (12, 26, 9), lambda b: ind.macd(b)["macd_signal"]),
    ("macd_hist", (12, 26, 9), lambda b: ind.macd(b)["macd_hist"]),
    ("bb_upper", (20, 2.0), lambda b: ind.bollinger(b)["bb_upper"]),
    ("bb_lower", (20, 2.0), lambda b: ind.bollinger(b)["bb_lower"]),
    ("atr", (14,), lambda b: ind.atr(b, 14)),
    ("adx", (14,), lambda b: ind.adx(b)["adx"]),
    ("plus_di", (14,), lambda b: ind.adx(b)["plus_di"]),
    ("minus_di", (14,), lambda b: ind.adx(b)["minus_di"]),
    ("supertrend", (10, 3.0), lambda b: ind.supertrend(b)["supertrend"]),
    ("supertrend_dir", (10, 3.0), lambda b: ind.supertrend(b)["supertrend_dir"]),
    ("stochrsi_k", (14, 14, 3, 3), lambda b: ind.stoch_rsi(b)["stochrsi_k"]),
    ("stochrsi_d", (14, 14, 3, 3), lambda b: ind.stoch_rsi(b)["stochrsi_d"]),
    ("obv", (), ind.obv),
    ("volume_sma", (20,), lambda b: ind.volume_sma(b, 20)),
]


@pytest.mark.parametrize("name,args,ref", CHECKS, ids=[c[0] for c in CHECKS])
def test_panel_kernel_equals_core_indicator_per_symbol(real_panel, name, args, ref):
    long, panel = real_panel
    values = compute(panel, name, args)
    for j, sym in enumerate(panel.symbols):
        b = long[long["symbol"] == sym].set_index("ts")[["open", "high", "low", "close", "volume"]].astype(float)
        want = np.asarray(ref(b), dtype=float)
        got = values[-len(b):, j]
        assert np.isnan(values[:-len(b), j]).all()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-8, equal_nan=True, err_msg=f"{name} {sym}")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


def test_panel_has_a_short_history_symbol(real_panel):
    _, panel = real_panel
    assert np.isnan(panel.fields["close"][0]).any()  # ABLBL listed later: right-aligned, leading NaN
