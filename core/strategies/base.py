"""The strategy interface: validated parameters in, bar in, order intents out.

A strategy is two pure steps, so the live runner and the backtester run the *same* code:

1. :meth:`Strategy.features` — vectorised indicators over one instrument's bars (a frame
   indexed by tz-aware IST bar-open time, float columns ``open high low close volume``).
   Every column at bar ``t`` depends only on bars ``<= t`` (look-ahead tests check this), so
   computing them once over a whole history (the backtester) or again on each new bar (the
   live runner) gives the same value at ``t``.
2. :meth:`Strategy.decide` — at the *close* of bar ``t`` (time ``bar_end``), from that bar's
   feature row and the current signed position (shares, long > 0), return a
   :class:`Signal` (side, quantity, reason) or ``None``.

:meth:`Strategy.on_bar` chains the two for one bar and turns the signal into an
``OrderIntent`` (MARKET, the class's ``product``, ``strategy`` = the strategy's name). Intraday
strategies (``interval`` a minute interval, ``product`` MIS, the default) make no entry at or
after ``last_entry`` and close any open position on the first bar that ends at or after
``flatten_at`` (before Zerodha's 15:20 MIS square-off). Daily swing strategies set
``interval = "day"`` and ``product = Product.CNC`` (delivery, held across days; see
``core.backtest.daily``).

Parameters are declared as :class:`Param` (type, default, inclusive range, help). Bad
parameters raise ``ValidationError`` naming the parameter, the range and the value.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from core.errors import ValidationError
from core.models import INTERVAL_MINUTES, Bar
from core.orders import OrderIntent, OrderType, Product, Side
from core.timeutil import IST, require_aware

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Param:
    """One strategy parameter: ``kind`` is ``int`` or ``float``; ``low``/``high`` inclusive."""

    name: str
    kind: type
    default: float
    low: float
    high: float
    help: str = ""

    def coerce(self, value: Any, strategy: str) -> int | float:
        """Return ``value`` as ``kind`` inside ``[low, high]``; raise ``ValidationError`` otherwise."""
        where = f"{strategy}.{self.name}"
        if isinstance(value, bool) or value is None:
            raise ValidationError(f"{where} must be a number between {self.low} and {self.high}, was {value!r}")
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"{where} must be a number between {self.low} and {self.high}, was {value!r}") from None
        if not math.isfinite(num):
            raise ValidationError(f"{where} must be a finite number, was {value!r}")
        if self.kind is int:
            if num != int(num):
                raise ValidationError(f"{where} must be a whole number between {self.low} and {self.high}, was {value!r}")
            num = int(num)
        if not (self.low <= num <= self.high):
            raise ValidationError(
                f"{where} = {value!r} is out of range; choose a value between {self.low} and {self.high}"
                + (f" ({self.help})" if self.help else ""))
        return num


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy wants at a bar close: ``side``, ``quantity`` shares, and why."""

    side: Side
    quantity: int
    reason: str


#: Parameters every strategy has (position size and intraday timing, minutes after 09:15).
COMMON_PARAMS: tuple[Param, ...] = (
    Param("quantity", int, 10, 1, 100_000, "shares per entry"),
)
LAST_ENTRY = time(15, 0)
FLATTEN_AT = time(15, 15)


class Active(NamedTuple):
    """Per bar, bool arrays (one element per feature row): the bars where
    :meth:`Strategy.decide` may return a signal when the position is flat, long or short.
    The backtester visits only these bars (plus bars with open orders, square-offs and day
    boundaries); an exact mask (``True`` iff ``decide`` signals) keeps it minimal, a superset
    keeps it correct."""

    flat: np.ndarray
    long: np.ndarray
    short: np.ndarray


def clock_us(at: pd.DatetimeIndex) -> np.ndarray:
    """IST time of day of each timestamp, int64 microseconds after midnight."""
    wall = at.tz_convert(IST).tz_localize(None).as_unit("ns").asi8
    return wall % 86_400_000_000_000 // 1_000


def time_us(t: time) -> int:
    """``t`` as microseconds after midnight (compare with :func:`clock_us`)."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def nan_false(x: pd.Series | np.ndarray) -> np.ndarray:
    """``x`` as float64 numpy (comparisons with NaN are False, as in :meth:`Strategy.decide`)."""
    import numpy as np

    return np.asarray(x, dtype=np.float64)


class Strategy(ABC):
    """Base class. Subclasses set ``name``, ``title``, ``description``, ``PARAMS`` and
    implement :meth:`features` and :meth:`decide`.

    Construct with keyword parameters (missing ones take their defaults); unknown names or
    out-of-range values raise ``ValidationError``. ``self.params`` is the validated dict.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    interval: ClassVar[str] = "minute"
    product: ClassVar[Product] = Product.MIS

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, int | float] = validate_params(type(self), params)
        self.check_params()

    # ---------------------------------------------------------------- to implement
    def check_params(self) -> None:
        """Cross-parameter checks (e.g. fast < slow); raise ``ValidationError``."""

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Bars needed before the first decision can be taken."""

    @abstractmethod
    def features(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Indicator columns (float64) on ``bars``' index, no look-ahead. Must include ``close``."""

    @abstractmethod
    def decide(self, bar_end: datetime, f: Mapping[str, float], position: int) -> Signal | None:
        """The decision at the close of a bar ending at ``bar_end`` (IST) from its features."""

    def stacked_features(self, bars: pd.DataFrame, starts: np.ndarray) -> pd.DataFrame:
        """:meth:`features` of several instruments at once: ``bars`` holds each instrument's
        bars end to end (each part as :meth:`features` takes it), ``starts`` the first row of
        each part (int, ascending, ``starts[0] == 0``). Returns the rows of every part's
        :meth:`features`, in order, on a ``RangeIndex``. This default runs :meth:`features` per
        part; a strategy with windowed features may do it in one pass (the same values, tested)."""
        import pandas as pd

        ends = [*starts[1:].tolist(), len(bars)]
        parts = [self.features(bars.iloc[a:z]) for a, z in zip(starts.tolist(), ends, strict=True)]
        return pd.concat(parts, ignore_index=True) if parts else self.features(bars)

    def active(self, feats: pd.DataFrame, bar_end: pd.DatetimeIndex) -> Active:
        """Vectorised: where :meth:`decide` on ``feats``' rows at ``bar_end`` (tz-aware, one
        per row) may signal (see :class:`Active`). This default marks every bar, which is
        always correct; the bundled strategies return exact masks (tested against ``decide``)."""
        import numpy as np

        every = np.ones(len(feats), dtype=bool)
        return Active(every, every, every)

    # ---------------------------------------------------------------- shared rules
    @classmethod
    def spec(cls) -> tuple[Param, ...]:
        return (*COMMON_PARAMS, *cls.PARAMS)

    @property
    def quantity(self) -> int:
        return int(self.params["quantity"])

    def session_exit(self, bar_end: datetime, position: int) -> Signal | None:
        """Close any position on the first bar ending at or after 15:15 IST."""
        if position and bar_end.astimezone(IST).time() >= FLATTEN_AT:
            return exit_signal(position, "intraday exit before the 15:20 MIS square-off")
        return None

    @staticmethod
    def may_enter(bar_end: datetime) -> bool:
        """No fresh entries from 15:00 IST (too close to the square-off)."""
        return bar_end.astimezone(IST).time() < LAST_ENTRY

    @staticmethod
    def session_exit_mask(bar_end: pd.DatetimeIndex) -> np.ndarray:
        """:meth:`session_exit` fires (for any open position) on these bars: bool per bar."""
        return clock_us(bar_end) >= time_us(FLATTEN_AT)

    @staticmethod
    def may_enter_mask(bar_end: pd.DatetimeIndex) -> np.ndarray:
        """:meth:`may_enter` per bar, bool."""
        return clock_us(bar_end) < time_us(LAST_ENTRY)

    # ---------------------------------------------------------------- one bar (live runner)
    def on_bar(self, bar: Bar, history: pd.DataFrame, *, position: int = 0,
               tradingsymbol: str) -> list[OrderIntent]:
        """Decide at the close of ``bar`` given the bars before it; return 0 or 1 intents.

        ``history``: the instrument's earlier bars (frame as in :meth:`features`; rows at or
        after ``bar.ts`` are ignored). ``position``: signed shares held now (MIS).
        Raises ``ValidationError`` for a naive ``bar.ts`` or malformed history.
        """
        signal, _ = self.signal_for_bar(bar, history, position=position)
        return [] if signal is None else [self.intent(bar.instrument_token, tradingsymbol, signal)]

    def signal_for_bar(self, bar: Bar, history: pd.DataFrame, *, position: int = 0
                       ) -> tuple[Signal | None, dict[str, float]]:
        """As :meth:`on_bar` but returns the signal and the feature row it was decided on."""
        import pandas as pd

        require_aware(bar.ts, "bar.ts")
        ts = pd.Timestamp(bar.ts).tz_convert(IST)
        row = pd.DataFrame({"open": [bar.open], "high": [bar.high], "low": [bar.low], "close": [bar.close],
                            "volume": [float(bar.volume)]}, index=pd.DatetimeIndex([ts]))
        if history is not None and len(history):
            past = history[history.index < ts][["open", "high", "low", "close", "volume"]].astype("float64")
            frame = pd.concat([past, row])
        else:
            frame = row
        feats = self.features(frame)
        f = {k: float(v) for k, v in feats.iloc[-1].items()}
        end = bar_end_of(bar.ts, bar.interval)
        return self.decide(end, f, position), f

    def intent(self, token: int, tradingsymbol: str, signal: Signal) -> OrderIntent:
        """The MARKET order for ``signal`` in the class's ``product`` (MIS unless a swing strategy
        says CNC; tag = strategy name, ≤ 20 chars as Kite allows)."""
        return OrderIntent(int(token), tradingsymbol, signal.side, int(signal.quantity), self.product,
                           OrderType.MARKET, tag=self.name[:20], strategy=self.name)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})"


def exit_signal(position: int, reason: str) -> Signal:
    """The order that flattens ``position`` shares."""
    return Signal(Side.SELL if position > 0 else Side.BUY, abs(int(position)), reason)


def bar_end_of(ts: datetime, interval: str = "minute") -> datetime:
    """Close time of a bar opening at ``ts`` (``interval`` a Kite interval name)."""
    minutes = INTERVAL_MINUTES.get(interval)
    if minutes is None:
        raise ValidationError(f"unknown interval {interval!r}; use one of {sorted(INTERVAL_MINUTES)}")
    return ts + timedelta(minutes=minutes)


def validate_params(cls: type[Strategy], params: Mapping[str, Any]) -> dict[str, int | float]:
    """Defaults merged with ``params``, each coerced and range-checked. Raises ``ValidationError``
    for an unknown parameter name (listing the known ones) or a bad value."""
    spec = {p.name: p for p in cls.spec()}
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise ValidationError(f"{cls.name} has no parameter(s) {unknown}; known: {sorted(spec)}")
    return {name: p.coerce(params.get(name, p.default), cls.name) for name, p in spec.items()}


def crossed_above(a: float, b: float, a_prev: float, b_prev: float) -> bool:
    """``a`` crossed above ``b`` on this bar (NaN anywhere → False)."""
    return a > b and a_prev <= b_prev


def crossed_below(a: float, b: float, a_prev: float, b_prev: float) -> bool:
    return a < b and a_prev >= b_prev


def crosses(f: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`crossed_above` / :func:`crossed_below` of columns ``a``, ``b`` (and
    their ``_prev`` columns) of ``f``: ``(up, down)`` bool per row."""
    x, y, xp, yp = (nan_false(f[c]) for c in (a, b, f"{a}_prev", f"{b}_prev"))
    return (x > y) & (xp <= yp), (x < y) & (xp >= yp)


def ohlcv(bars: pd.DataFrame) -> pd.DataFrame:
    """The float64 OHLCV columns of ``bars`` (validated by ``core.indicators.validate_bars``)."""
    from core.indicators import validate_bars

    return validate_bars(bars, ["open", "high", "low", "close", "volume"])
