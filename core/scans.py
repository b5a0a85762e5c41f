"""Built-in scans and vectorised scan evaluation over a universe.

Every built-in scan is a scan-language expression (``core.scan_lang``), so a result row shows
the value of each operand that matched (e.g. ``[0] daily rsi(14)`` = 27.4) and a trader can
copy the expression and edit it. A run evaluates all symbols at once on ``(T, N)`` panels.

Result frame (``scan_frame``): one row per matched symbol, columns ``symbol`` (str),
``bar_time`` (tz-aware IST open time of the symbol's latest bar of the scan's first
timeframe) and one ``float64`` column per operand, named by its source text; sorted by
symbol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ValidationError
from core.scan_lang import Panel, ScanOutput, evaluate, parse, timeframes
from core.scan_lang.ast import Node, operands
from core.timeutil import IST


@dataclass(frozen=True, slots=True)
class BuiltinScan:
    key: str
    title: str
    description: str
    expression: str


BUILTIN_SCANS: dict[str, BuiltinScan] = {s.key: s for s in (
    BuiltinScan("momentum", "Momentum (emerging)",
                "Close above a rising 20/50 EMA stack, RSI 55–70 (strong, not yet overbought), volume above its 20-day average.",
                "[0] daily close > [0] daily ema(close, 20) and [0] daily ema(close, 20) > [0] daily ema(close, 50) "
                "and [0] daily rsi(14) > 55 and [0] daily rsi(14) < 70 and [0] daily volume > [0] daily volume_sma(20)"),
    BuiltinScan("breakout", "Breakout (20-day high on volume)",
                "Close above the highest high of the previous 20 sessions on 1.5× average volume.",
                "[0] daily close > [1] daily max(high, 20) and [0] daily volume > 1.5 * [1] daily volume_sma(20)"),
    BuiltinScan("rsi_oversold", "RSI oversold", "RSI(14) below 30.", "[0] daily rsi(14) < 30"),
    BuiltinScan("rsi_overbought", "RSI overbought", "RSI(14) above 70.", "[0] daily rsi(14) > 70"),
    BuiltinScan("volume_spike", "Volume spike", "Volume more than twice the previous 20-day average.",
                "[0] daily volume > 2 * [1] daily volume_sma(20)"),
    BuiltinScan("gap_up", "Gap up", "Opened above the previous session's high.", "[0] daily open > [1] daily high"),
    BuiltinScan("gap_down", "Gap down", "Opened below the previous session's low.", "[0] daily open < [1] daily low"),
    BuiltinScan("orb", "Opening-range breakout (15 min, 5-minute bars)",
                "5-minute close crossed above the high of the first 15 minutes (09:15–09:30 IST).",
                "[0] 5 minute close crossed above [0] 5 minute or_high(15)"),
    BuiltinScan("supertrend_flip", "Supertrend flip to up",
                "Supertrend(10, 3) turned from down to up on the latest session.",
                "[0] daily supertrend_dir(10, 3) crossed above 0 and [0] daily close > [0] daily supertrend(10, 3)"),
    BuiltinScan("high_52w", "52-week high", "High at the highest of the last 252 sessions (≈ 52 weeks).",
                "[0] daily high >= [0] daily max(high, 252)"),
    BuiltinScan("macd_bullish", "MACD bullish crossover", "MACD(12, 26, 9) crossed above its signal line.",
                "[0] daily macd(12, 26, 9) crossed above [0] daily macd_signal(12, 26, 9)"),
)}


def resolve(scan: str) -> tuple[str, str]:
    """``(title, expression)`` for a built-in key (``"breakout"``) or a scan expression.

    Raises ``ScanSyntaxError`` (a ``ValidationError``) if an expression does not parse.
    """
    if scan in BUILTIN_SCANS:
        b = BUILTIN_SCANS[scan]
        return b.title, b.expression
    parse(scan)
    return "Custom scan", scan


def scan_frame(node: Node, panels: Mapping[str, Panel]) -> tuple[pd.DataFrame, ScanOutput]:
    """Evaluate ``node`` at each symbol's latest bar; return the matched rows (see module
    docstring) and the raw ``ScanOutput``. Raises ``ValidationError`` as ``evaluate`` does."""
    out = evaluate(node, panels, "latest")
    first_tf = operands(node)[0].timeframe
    panel = panels[first_tf]
    idx = np.flatnonzero(out.matched)
    frame = pd.DataFrame({"symbol": [panel.symbols[i] for i in idx]})
    frame["bar_time"] = panel.latest_times().iloc[idx].to_numpy() if len(idx) else pd.Series([], dtype="datetime64[ns, Asia/Kolkata]")
    for label, values in out.values.items():
        frame[label] = values[idx].astype("float64")
    return frame.sort_values("symbol", kind="stable").reset_index(drop=True), out


def match_counts(node: Node, panel: Panel) -> pd.Series:
    """Scan backtest: how many symbols matched on each past bar of ``panel``.

    ``node`` must use only ``panel.timeframe``. Returns an ``int64`` Series indexed by the bar
    open time (IST), named ``"matches"``, one entry per bar time seen in the panel (0 where no
    symbol matched). Each bar's count uses bars up to that bar only.
    """
    tfs = timeframes(node)
    if tfs != {panel.timeframe}:
        raise ValidationError(f"a scan backtest runs on one timeframe; this scan uses {sorted(tfs)}")
    out = evaluate(node, {panel.timeframe: panel}, "history")
    ts = panel.ts
    valid = ts != np.iinfo("int64").min
    times = ts[valid]
    hits = out.matched[valid]
    uniq, inv = np.unique(times, return_inverse=True)
    counts = np.bincount(inv, weights=hits.astype(float), minlength=len(uniq)).astype("int64")
    index = pd.DatetimeIndex(uniq.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(IST)
    return pd.Series(counts, index=index, name="matches")
