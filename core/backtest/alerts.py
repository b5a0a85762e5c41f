"""Alerts in backtests (issue 15 item 2): the desk's ``core.alerts`` rules run on the backtest's bars.

* **What is evaluated** (``BacktestConfig.alerts``, a tuple of ``core.alerts.Alert``; disabled
  ones are ignored): each bar of an instrument an active alert reads is seen as a tick at the
  bar's close, as ``core.alerts.evaluate_bars`` does: LTP = close, day high/low and volume = the
  IST day's running values through the bar, change % against the previous session's close
  (absent on the first day). The evaluator is the ticker's (``core.alerts.AlertEvaluator``), so
  Kite's trigger-once holds: an alert fires at most once per run.
* **A simple alert** is recorded in ``BacktestResult.alerts``: ``alert_id, sequence, bar``
  (the bar's open time, IST), ``at`` (its close), ``tradingsymbol, condition, value`` (the
  attribute's value that fired), ``rhs_value``, ``order_id`` and ``refusal`` (ATO only).
* **An ATO alert** places its order (``AtoOrder.intent``, tag ``alert``, the trigger's trace id)
  at the bar's close through the backtest's own gatekeeper and broker (``_Run.place``), exactly
  as a strategy entry is placed, so it fills on the next bar's ticks. The backtest has no human:
  **it approves ATO orders as it approves strategy entries** (the desk makes a pending approval
  instead, ``app.market.alerts``). An entry gets ``BacktestConfig.exits`` as a strategy entry does.

Bad input (``ValidationError``, nothing runs): an alert that ``core.alerts.check_alert`` refuses,
an alert on (or compared with) an instrument that is not in the backtest's universe, an ATO order
whose product is not the strategy's (MIS square-off and CNC settlement follow the strategy).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.alerts import Alert, AlertEvaluator, AlertType, Attribute, Trigger, check_alert
from core.errors import ValidationError
from core.orders import Product
from core.timeutil import IST

if TYPE_CHECKING:  # the engine imports this module
    from core.backtest.engine import _Run, _Sym

_DAY_NS = 86_400 * 10**9
_IST_OFFSET_NS = 19_800 * 10**9  # IST is UTC+05:30 all year

#: Columns of ``BacktestResult.alerts``.
ALERT_COLUMNS = ["alert_id", "sequence", "bar", "at", "tradingsymbol", "condition", "value", "rhs_value", "order_id",
                 "refusal"]


def check_alerts(alerts: Sequence[Alert], tokens: set[int], product: Product) -> tuple[Alert, ...]:
    """The active ones of ``alerts``, each checked by ``core.alerts.check_alert`` and against the
    backtest: every instrument_token it reads in ``tokens`` (the universe), an ATO order's product
    ``product`` (the strategy's). Raises ``ValidationError`` naming the alert and what to fix."""
    if not isinstance(alerts, (tuple, list)):
        raise ValidationError(f"alerts must be a tuple of core.alerts.Alert, was {type(alerts).__name__}")
    out = []
    for a in alerts:
        if not isinstance(a, Alert):
            raise ValidationError(f"alerts must be core.alerts.Alert objects, got {type(a).__name__}")
        check_alert(a)
        if not a.active:
            continue
        missing = [t for t in a.tokens if t not in tokens]
        if missing:
            raise ValidationError(f"alert {a.alert_id} ({a.condition()}) reads instrument_token {missing[0]}, "
                                  "which is not in this backtest's universe: add that symbol or drop the alert")
        if a.kind is AlertType.ATO and a.order is not None and a.order.product is not product:
            raise ValidationError(f"alert {a.alert_id}: its ATO order is {a.order.product} but the strategy trades "
                                  f"{product}; a backtest runs one product (square-off and settlement follow it)")
        out.append(a)
    return tuple(out)


class BacktestAlerts:
    """The engine's alerts hook: evaluates the alerts on the bars of the tokens they read and
    places ATO orders through the run. ``live`` is the set of instrument_tokens read by alerts not
    yet fired (the idle loop visits every bar of them)."""

    def __init__(self, alerts: tuple[Alert, ...], syms: Sequence[_Sym]) -> None:
        self.evaluator = AlertEvaluator(alerts)
        self._live: dict[str, tuple[int, ...]] = {a.alert_id: a.tokens for a in alerts}
        self.live: set[int] = {t for a in alerts for t in a.tokens}
        self.by_token = {s.token: s for s in syms}
        self.volume = {s.token: _day_volume(s) for s in syms if s.token in self.live}
        self.rows: list[dict[str, Any]] = []

    def watched(self, step: int) -> list[tuple[_Sym, int]]:
        """``(symbol, bar index)`` of the live tokens with a bar at timeline ``step``."""
        out = []
        for t in self.live:
            s = self.by_token[t]
            i = s.step_bar[step]
            if i >= 0:
                out.append((s, i))
        return out

    def on_bars(self, run: _Run, group: Sequence[tuple[_Sym, int]], end: datetime, at: datetime) -> None:
        """Evaluate the step's bars (``group`` in token order; bars closing at ``end``), record the
        triggers and place each ATO order at ``at`` (the time a strategy entry would be placed)."""
        fired: list[tuple[_Sym, int, Trigger]] = []
        for sym, i in group:
            if sym.token in self.live:
                fired.extend((sym, i, t) for t in self.evaluator.evaluate_values(sym.token, self._values(sym, i)))
        for sym, i, t in fired:
            a = t.alert
            self._live.pop(a.alert_id, None)
            row = dict(alert_id=a.alert_id, sequence=t.sequence, bar=_bar_time(sym, i), at=end,
                       tradingsymbol=a.tradingsymbol, condition=a.condition(), value=t.lhs_value,
                       rhs_value=t.rhs_value, order_id="", refusal="")
            if a.kind is AlertType.ATO and a.order is not None:
                target = self.by_token[a.instrument_token]
                j = _bar_at(target, run.step)
                if run.entry(target, j, a.order.intent(a, trace_id=t.trace_id), at, f"alert {a.alert_id}"):
                    row["order_id"] = run.last_order_id
                else:
                    row["refusal"] = run.last_refusal
            self.rows.append(row)
        if fired:
            self.live = {tok for toks in self._live.values() for tok in toks}

    def _values(self, sym: _Sym, i: int) -> dict[Attribute, float]:
        values = {Attribute.LTP: float(sym.c[i]), Attribute.DAY_HIGH: float(sym.day_high[i]),
                  Attribute.DAY_LOW: float(sym.day_low[i]), Attribute.VOLUME: float(self.volume[sym.token][i])}
        prev = float(sym.prev_close[i])
        if prev == prev and prev > 0:  # not NaN: a previous session exists
            values[Attribute.CHANGE_PCT] = (float(sym.c[i]) - prev) * 100.0 / prev
        return values

    def frame(self) -> pd.DataFrame:
        """The triggers in the order they fired (``ALERT_COLUMNS``)."""
        return pd.DataFrame(self.rows, columns=ALERT_COLUMNS)


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame([], columns=ALERT_COLUMNS)


def _day_volume(sym: _Sym) -> np.ndarray:
    """Per bar: the IST day's volume through this bar (shares)."""
    day = (np.asarray(sym.ts, dtype=np.int64) + _IST_OFFSET_NS) // _DAY_NS  # IST day number per bar
    return pd.Series(np.asarray(sym.v, dtype=np.int64)).groupby(day).cumsum().to_numpy()


def _bar_time(sym: _Sym, i: int) -> pd.Timestamp:
    return pd.Timestamp(int(sym.ts[i]), tz="UTC").tz_convert(IST)


def _bar_at(sym: _Sym, step: int) -> int:
    """``sym``'s bar at ``step`` or, without one, its latest bar before (a pair alert fired by the
    other instrument's bar)."""
    return max(0, int(np.searchsorted(sym.steps, step, "right")) - 1)
