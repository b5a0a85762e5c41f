"""Parameter sweeps and walk-forward windows (pure: no I/O, no clock).

* A **grid** is the cartesian product of each swept parameter's values, every value checked
  against the strategy's parameter schema (``core.strategies.base.Param``: kind, inclusive
  range). Combinations that break a cross-parameter rule (``Strategy.check_params``, e.g. SMA
  ``fast < slow``) are left out and counted in ``Grid.skipped``; the runs are in grid order
  (the first parameter varies slowest), so a tie is always broken the same way.
* **Walk-forward** splits trading sessions into windows: an in-sample *fit* window followed by
  an out-of-sample *test* window. Rolling windows keep a fixed fit length; anchored windows
  fit from the first session. Consecutive test windows follow each other (``step`` = the
  test length unless given). The fit picks the best grid point by a named metric
  (:data:`METRIC_GOALS`) from backtests on the fit window's bars **only**
  (:func:`window_bars`); the test window then runs that one point.

Caps: at most :data:`MAX_RUNS` (500) backtests per sweep, counting every fit run and test run
of a walk-forward. Bad input raises ``ValidationError`` saying what to change.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from core.backtest.engine import InstrumentBars
from core.errors import ValidationError
from core.strategies.base import Strategy, validate_params
from core.timeutil import IST

#: Most backtests one sweep may queue (grid points × windows, plus one test run per window).
MAX_RUNS = 500
#: Metrics a fit may rank by, and whether higher (``"max"``) is better. ``max_drawdown_pct``
#: is ≤ 0, so the highest is the shallowest drawdown.
METRIC_GOALS: dict[str, str] = {
    "sharpe": "max", "total_return_pct": "max", "net_pnl": "max", "sortino": "max",
    "max_drawdown_pct": "max", "win_rate_pct": "max", "profit_factor": "max", "expectancy": "max",
}


@dataclass(frozen=True)
class Grid:
    """A validated parameter grid.

    ``names``: the swept parameters, in the order given; ``runs``: one full parameter dict per
    grid point (defaults and ``base`` merged in, values coerced to each ``Param.kind``), in grid
    order; ``skipped``: combinations left out by the strategy's cross-parameter rule.
    """

    names: tuple[str, ...]
    runs: tuple[dict[str, int | float], ...]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.runs)


def parameter_grid(strategy: type[Strategy], ranges: Mapping[str, Sequence[Any]],
                   base: Mapping[str, Any] | None = None, *, max_runs: int = MAX_RUNS) -> Grid:
    """The grid of ``strategy`` over ``ranges`` (parameter name → values), other parameters
    from ``base`` (then the defaults).

    Duplicate values of one parameter are dropped (first kept). Raises ``ValidationError``: no
    swept parameter or a parameter with no values; an unknown parameter (the known ones are
    listed); a value of the wrong kind or out of range (``Param.coerce`` names the range); more
    than ``max_runs`` combinations; every combination breaking the cross-parameter rule.
    """
    if not isinstance(ranges, Mapping) or not ranges:
        raise ValidationError("the sweep has no parameters; give at least one parameter and its values")
    spec = {p.name: p for p in strategy.spec()}
    unknown = sorted(set(ranges) - set(spec))
    if unknown:
        raise ValidationError(f"{strategy.name} has no parameter(s) {unknown}; known: {sorted(spec)}")
    names = tuple(ranges)
    values: list[list[int | float]] = []
    for name in names:
        raw = ranges[name]
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            raise ValidationError(f"values of {name!r} must be a list of numbers, was {raw!r}")
        coerced = list(dict.fromkeys(spec[name].coerce(v, strategy.name) for v in raw))
        if not coerced:
            raise ValidationError(f"{name!r} has no values; give at least one")
        values.append(coerced)
    total = math.prod(len(v) for v in values)
    if total > max_runs:
        raise ValidationError(f"the grid has {total} combinations; keep it to {max_runs} or fewer "
                              "(fewer values per parameter, or fewer parameters)")
    fixed = validate_params(strategy, {k: v for k, v in (base or {}).items() if k not in ranges})
    runs, skipped = [], 0
    for combo in itertools.product(*values):
        try:  # every value is valid alone: a refusal here is the cross-parameter rule
            runs.append(strategy(**{**fixed, **dict(zip(names, combo, strict=True))}).params)
        except ValidationError:
            skipped += 1
    if not runs:
        raise ValidationError(f"no combination of {', '.join(names)} is valid for {strategy.name} "
                              f"(all {skipped} break its rules, e.g. fast must be below slow)")
    return Grid(names, tuple(runs), skipped)


def value_range(low: float, high: float, step: float, *, kind: type = float, max_values: int = 100) -> list[int | float]:
    """``low, low + step, … ≤ high`` (inclusive of ``high`` when it falls on a step), as ``kind``.

    Raises ``ValidationError`` when ``step`` is not positive, ``low > high`` or there would be
    more than ``max_values`` values."""
    for name, v in (("from", low), ("to", high), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValidationError(f"{name} must be a finite number, was {v!r}")
    if step <= 0:
        raise ValidationError(f"step must be positive, was {step}")
    if low > high:
        raise ValidationError(f"from ({low}) is above to ({high}); swap them")
    n = int(math.floor((high - low) / step + 1e-9)) + 1
    if n > max_values:
        raise ValidationError(f"{low}..{high} by {step} is {n} values; keep it to {max_values} or fewer")
    out = [low + i * step for i in range(n)]
    return [int(round(v)) for v in out] if kind is int else [round(v, 10) for v in out]


@dataclass(frozen=True)
class Window:
    """One walk-forward window: fit on IST sessions ``fit_start..fit_end``, test on
    ``test_start..test_end`` (all inclusive). ``index`` counts from 0.

    Raises ``ValidationError`` if a range is reversed or the test window does not start after
    the fit window ends (overlapping in-sample and out-of-sample)."""

    index: int
    fit_start: date
    fit_end: date
    test_start: date
    test_end: date

    def __post_init__(self) -> None:
        if self.fit_start > self.fit_end or self.test_start > self.test_end:
            raise ValidationError(f"window {self.index}: a range ends before it starts")
        if self.test_start <= self.fit_end:
            raise ValidationError(f"window {self.index}: the test window ({self.test_start}) must start after the "
                                  f"fit window ends ({self.fit_end}); in-sample and out-of-sample may not overlap")

    def as_dict(self) -> dict[str, Any]:
        """JSON-simple: ISO dates."""
        return {"index": self.index, "fit_start": self.fit_start.isoformat(), "fit_end": self.fit_end.isoformat(),
                "test_start": self.test_start.isoformat(), "test_end": self.test_end.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Window:
        return cls(int(d["index"]), *(date.fromisoformat(d[k]) for k in ("fit_start", "fit_end", "test_start",
                                                                          "test_end")))


def walk_forward_windows(sessions: Sequence[date], fit_sessions: int, test_sessions: int, *,
                         anchored: bool = False, step: int | None = None) -> list[Window]:
    """Walk-forward windows over ``sessions`` (trading days, any order; duplicates ignored).

    Window ``k`` tests on the ``test_sessions`` sessions starting at session
    ``fit_sessions + k × step`` (``step`` defaults to ``test_sessions``: back-to-back test
    windows) and fits on the ``fit_sessions`` sessions just before it, or (``anchored``) on
    every session before it. Only whole test windows are made.

    Raises ``ValidationError``: a window length or step below 1 (zero-length window), or
    fewer sessions than one fit plus one test window.
    """
    for name, n in (("fit window", fit_sessions), ("test window", test_sessions), ("step", 1 if step is None else step)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValidationError(f"the {name} must be a whole number of sessions, at least 1, was {n!r}")
    days = sorted(set(sessions))
    step = test_sessions if step is None else step
    if len(days) < fit_sessions + test_sessions:
        raise ValidationError(f"{len(days)} session(s) with bars is too few for a {fit_sessions}-session fit and a "
                              f"{test_sessions}-session test; widen the dates or shorten the windows")
    out = []
    t0 = fit_sessions
    while t0 + test_sessions <= len(days):
        fit = days[0 if anchored else t0 - fit_sessions:t0]
        test = days[t0:t0 + test_sessions]
        out.append(Window(len(out), fit[0], fit[-1], test[0], test[-1]))
        t0 += step
    return out


def window_bars(universe: Sequence[InstrumentBars], start: date, end: date) -> list[InstrumentBars]:
    """The bars of IST sessions ``start..end`` (inclusive) of each instrument; instruments with
    none are left out. A fit window's backtests get only these, so they never see a later bar."""
    out = []
    for ib in universe:
        days = ib.bars.index.tz_convert(IST).date
        keep = (days >= start) & (days <= end)
        if keep.any():
            out.append(InstrumentBars(ib.instrument, ib.bars[keep]))
    return out


def sessions_of(universe: Sequence[InstrumentBars]) -> list[date]:
    """The IST sessions (dates) that have a bar of any instrument, ascending."""
    days: set[date] = set()
    for ib in universe:
        days.update(np.unique(ib.bars.index.tz_convert(IST).date))
    return sorted(days)


def check_metric(metric: str) -> str:
    """``metric`` if a fit may rank by it (:data:`METRIC_GOALS`), else ``ValidationError``."""
    if metric not in METRIC_GOALS:
        raise ValidationError(f"cannot rank by {metric!r}; choose one of {sorted(METRIC_GOALS)}")
    return metric


def metric_key(metrics: Mapping[str, Any] | None, metric: str) -> float:
    """A sort key, higher is better: ``metrics[metric]`` signed by its goal; a missing or NaN
    value (no trades, one day) ranks below every number. ``"inf"``/``"-inf"`` strings (as the
    store keeps them) count as infinities."""
    v = (metrics or {}).get(metric)
    try:
        x = float(v) if v is not None else float("nan")
    except (TypeError, ValueError):
        x = float("nan")
    if math.isnan(x):
        return float("-inf")
    return x if METRIC_GOALS[check_metric(metric)] == "max" else -x


def best_run(metrics: Sequence[Mapping[str, Any] | None], metric: str) -> int:
    """Index of the best of ``metrics`` (one dict per grid point, in grid order) by ``metric``;
    the first wins a tie. Raises ``ValidationError`` for an empty list or an unknown metric."""
    check_metric(metric)
    if not metrics:
        raise ValidationError("no completed run to pick the best parameters from")
    keys = [metric_key(m, metric) for m in metrics]
    return max(range(len(keys)), key=lambda i: (keys[i], -i))


def walk_forward_runs(grid: Grid, windows: Sequence[Window], *, max_runs: int = MAX_RUNS) -> int:
    """Backtests a walk-forward queues: every grid point in every window's fit, plus one test
    run per window. Raises ``ValidationError`` above ``max_runs``."""
    n = len(windows) * (len(grid) + 1)
    if n > max_runs:
        raise ValidationError(f"{len(windows)} windows × ({len(grid)} grid points + 1 test) = {n} runs; keep it to "
                              f"{max_runs} or fewer (fewer windows or grid values)")
    return n


__all__ = ["MAX_RUNS", "METRIC_GOALS", "Grid", "Window", "best_run", "check_metric", "metric_key", "parameter_grid",
           "sessions_of", "value_range", "walk_forward_runs", "walk_forward_windows", "window_bars"]
