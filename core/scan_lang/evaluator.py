"""Evaluate a parsed scan over panels (one per timeframe, same symbols in the same order).

Two modes:

* ``"latest"``: each operand is read at its own timeframe's latest bar minus its offset, so a
  scan may mix timeframes (``[0] 5 minute close > [0] daily sma(close, 20)``). Result arrays
  have shape ``(N,)``.
* ``"history"``: the condition at *every* bar of a single-timeframe scan (the scan backtest),
  shape ``(T, N)``, aligned with that panel's ``ts``. Bar ``t`` uses bars ``<= t`` only.

``NaN`` (warm-up, missing bar) never matches. ``crossed above`` means ``a > b`` on this bar and
``a <= b`` on the bar before (``crossed below`` mirrors it).

**Division by zero** gives ``NaN``, so a condition that divides by zero on a symbol's bar never
matches there; the result says so: ``ScanOutput.zero_division`` flags those symbols (the
scanner's summary counts them). A constant divisor of 0 is refused by the parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.errors import ValidationError
from core.scan_lang import functions as fn
from core.scan_lang.ast import BinOp, BoolOp, Compare, Cross, Neg, Node, Num, Operand, operands
from core.scan_lang.panel import Panel

_TF_LABEL = {"minute": "1 minute", "5minute": "5 minute", "15minute": "15 minute", "30minute": "30 minute",
             "60minute": "60 minute", "day": "daily", "week": "weekly"}


@dataclass(frozen=True, slots=True)
class ScanOutput:
    """``matched``: bool per symbol (or per bar and symbol in history mode). ``values``: for
    each operand of the scan, by its source text (e.g. ``"[0] daily rsi(14)"``), its value at
    the evaluated bar(s). ``insufficient``: symbols whose operands were ``NaN`` (too little
    history or no bar) and so could not match. ``zero_division``: symbols (bars and symbols in
    history mode) where a division's divisor was 0, so that condition was ``NaN`` and did not
    match; same shape as ``matched``, or ``None`` when the scan divides nothing."""

    matched: np.ndarray
    values: dict[str, np.ndarray]
    insufficient: np.ndarray
    zero_division: np.ndarray | None = None


def timeframes(node: Node) -> set[str]:
    return {op.timeframe for op in operands(node)}


def required_bars(node: Node) -> dict[str, int]:
    """Bars each timeframe needs for every operand to have a value at ``[0]``."""
    need: dict[str, int] = {}

    def walk(n: Node, extra: int) -> None:
        if isinstance(n, Operand):
            req = fn.warmup(n.name, n.args) + n.offset + extra + 1
            need[n.timeframe] = max(need.get(n.timeframe, 0), req)
        elif isinstance(n, Neg):
            walk(n.operand, extra)
        elif isinstance(n, Cross):
            walk(n.left, extra + 1)
            walk(n.right, extra + 1)
        elif isinstance(n, (BinOp, Compare, BoolOp)):
            walk(n.left, extra)
            walk(n.right, extra)

    walk(node, 0)
    return need


def check_history(node: Node, panels: Mapping[str, Panel], as_of_label: str = "") -> None:
    """Raise ``ValidationError`` if a timeframe is missing or has fewer bars than an operand needs."""
    for op in operands(node):
        panel = panels.get(op.timeframe)
        label = _TF_LABEL.get(op.timeframe, op.timeframe)
        if panel is None:
            raise ValidationError(f"no {label} bars are available for '{op.text}'; pick another timeframe or load {label} data")
    for tf, need in required_bars(node).items():
        have = panels[tf].bars
        if have < need:
            worst = max((o for o in operands(node) if o.timeframe == tf),
                        key=lambda o: fn.warmup(o.name, o.args) + o.offset)
            raise ValidationError(
                f"too little history: '{worst.text}' needs at least {need} {_TF_LABEL.get(tf, tf)} bars but the data "
                f"has only {have}{(' up to ' + as_of_label) if as_of_label else ''}; use a shorter period or a later date")


def evaluate(node: Node, panels: Mapping[str, Panel], mode: str = "latest") -> ScanOutput:
    """Evaluate ``node`` (from ``parse``) over ``panels`` (timeframe → ``Panel``).

    Raises ``ValidationError`` if a timeframe's panel is missing or too short (see
    ``check_history``), if panels disagree on symbols, or for ``mode="history"`` with more
    than one timeframe.
    """
    if mode not in ("latest", "history"):
        raise ValidationError(f"mode must be 'latest' or 'history', got {mode!r}")
    check_history(node, panels)
    used = {op.timeframe for op in operands(node)}
    syms = {tuple(panels[tf].symbols) for tf in used}
    if len(syms) > 1:
        raise ValidationError("panels of one scan must have the same symbols in the same order")
    if mode == "history" and len(used) > 1:
        raise ValidationError("a scan backtest needs a single timeframe; split the scan or drop the other timeframes")
    ev = _Evaluator(panels, mode)
    matched = ev.cond(node, 0)
    values: dict[str, np.ndarray] = {}
    insufficient = np.zeros_like(matched, dtype=bool)
    for op in operands(node):
        v = ev.operand(op, 0)
        if op.text not in values:
            values[op.text] = v
        insufficient |= np.isnan(v)
    zero = None
    if ev.zero_division is not None:
        zero = np.broadcast_to(ev.zero_division, matched.shape) & ~insufficient
    return ScanOutput(matched & ~insufficient, values, insufficient, zero)


class _Evaluator:
    def __init__(self, panels: Mapping[str, Panel], mode: str) -> None:
        self.panels = panels
        self.latest = mode == "latest"
        self.zero_division: np.ndarray | None = None  # where a divisor was 0 (broadcast per symbol)

    def operand(self, op: Operand, extra: int) -> np.ndarray:
        panel = self.panels[op.timeframe]
        full = fn.compute(panel, op.name, op.args)
        k = op.offset + extra
        if self.latest:
            idx = panel.bars - 1 - k
            return full[idx].astype("float64") if idx >= 0 else np.full(full.shape[1], np.nan)
        out = np.full_like(full, np.nan)
        if k < full.shape[0]:
            out[k:] = full[:full.shape[0] - k]
        return out

    def num(self, n: Node, extra: int) -> np.ndarray | float:
        if isinstance(n, Num):
            return n.value
        if isinstance(n, Operand):
            return self.operand(n, extra)
        if isinstance(n, Neg):
            return -self.num(n.operand, extra)
        if isinstance(n, BinOp):
            a, b = self.num(n.left, extra), self.num(n.right, extra)
            with np.errstate(divide="ignore", invalid="ignore"):
                if n.op == "+":
                    return a + b
                if n.op == "-":
                    return a - b
                if n.op == "*":
                    return a * b
                zero = np.asarray(b) == 0
                self.zero_division = zero if self.zero_division is None else (self.zero_division | zero)
                return np.where(zero, np.nan, a / np.where(zero, 1.0, b))
        raise ValidationError(f"column {n.pos}: expected a number, found a condition")

    def cond(self, n: Node, extra: int) -> np.ndarray:
        if isinstance(n, BoolOp):
            a, b = self.cond(n.left, extra), self.cond(n.right, extra)
            return (a & b) if n.op == "and" else (a | b)
        with np.errstate(invalid="ignore"):
            if isinstance(n, Compare):
                a, b = self._pair(n, extra)
                return {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
                        "=": np.equal}[n.op](a, b)
            if isinstance(n, Cross):
                a, b = self._pair(n, extra)
                a1, b1 = self._pair(n, extra + 1)
                if n.direction == "above":
                    return np.greater(a, b) & np.less_equal(a1, b1)
                return np.less(a, b) & np.greater_equal(a1, b1)
        raise ValidationError(f"column {n.pos}: expected a condition, found a number")

    def _pair(self, n: Compare | Cross, extra: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.num(n.left, extra), self.num(n.right, extra)
        shape = self._shape(n)
        return np.broadcast_to(np.asarray(a, dtype="float64"), shape), np.broadcast_to(np.asarray(b, dtype="float64"), shape)

    def _shape(self, n: Node) -> tuple[int, ...]:
        ops = operands(n)
        if not ops:
            any_panel = next(iter(self.panels.values()))
            return (len(any_panel.symbols),) if self.latest else any_panel.shape
        p = self.panels[ops[0].timeframe]
        return (len(p.symbols),) if self.latest else p.shape
