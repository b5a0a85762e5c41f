"""The scan language's indicator functions: arguments, warm-up and the panel kernel of each.

Every function returns a ``(T, N)`` ``float64`` panel; pattern functions return 1.0 where the
pattern is present and 0.0 where not. ``warmup(args)`` is the number of a symbol's first bars
that are ``NaN``, so a scan needs ``warmup + offset + 1`` bars (one more for a crossover).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import patterns as pt
from core.errors import ValidationError
from core.scan_lang import kernels as k

if TYPE_CHECKING:  # pragma: no cover
    from core.scan_lang.panel import Panel

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """``params``: ``(name, kind, default)`` with kind ``int`` (>= 1) or ``float`` (> 0);
    ``default=None`` means required. ``field``: accepts an optional leading field argument
    (default ``close``)."""

    name: str
    params: tuple[tuple[str, str, float | None], ...]
    warmup: Callable[..., int]
    compute: Callable[..., np.ndarray]
    field: bool = False
    help: str = ""

    @property
    def usage(self) -> str:
        inner = (["field"] if self.field else []) + [p[0] for p in self.params]
        return f"{self.name}({', '.join(inner)})"

    def normalise(self, args: tuple[float | str, ...]) -> tuple[float | str, ...]:
        """Fill defaults and check kinds; return ``(field?, *numbers)``. Raises ``ValidationError``."""
        rest = list(args)
        out: list[float | str] = []
        if self.field:
            out.append(rest.pop(0) if rest and isinstance(rest[0], str) else "close")
        if any(isinstance(a, str) for a in rest):
            raise ValidationError(f"{self.name} takes a field only as its first argument; usage {self.usage}")
        if len(rest) > len(self.params):
            raise ValidationError(f"{self.name} takes at most {len(self.params)} number(s); usage {self.usage}")
        for i, (pname, kind, default) in enumerate(self.params):
            if i < len(rest):
                value = float(rest[i])
            elif default is None:
                raise ValidationError(f"{self.name} needs {pname}; usage {self.usage}")
            else:
                value = float(default)
            if kind == "int" and (not value.is_integer() or value < 1):
                raise ValidationError(f"{pname} must be a whole number >= 1, got {value:g}")
            if kind == "float" and not value > 0:
                raise ValidationError(f"{pname} must be > 0, got {value:g}")
            out.append(int(value) if kind == "int" else value)
        return tuple(out)


def _f(p: Panel, name: str) -> np.ndarray:
    return p.fields[name]


def _ohlc(p: Panel) -> tuple[np.ndarray, ...]:
    return tuple(p.fields[c] for c in ("open", "high", "low", "close"))


def _hlc(p: Panel) -> tuple[np.ndarray, ...]:
    return p.fields["high"], p.fields["low"], p.fields["close"]


def _pattern(kernel: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def compute(p: Panel) -> np.ndarray:
        out = kernel(*_ohlc(p)).astype("float64")
        out[np.isnan(p.fields["close"])] = np.nan
        return out
    return compute


_N = ("n", "int", None)
FUNCTIONS: dict[str, FunctionSpec] = {}


def _add(spec: FunctionSpec) -> None:
    FUNCTIONS[spec.name] = spec


_add(FunctionSpec("sma", (_N,), lambda f, n: n - 1, lambda p, f, n: k.sma(_f(p, f), n), field=True,
                  help="simple moving average"))
_add(FunctionSpec("ema", (_N,), lambda f, n: n - 1, lambda p, f, n: k.ema(_f(p, f), n), field=True,
                  help="exponential moving average"))
_add(FunctionSpec("rsi", (("n", "int", 14),), lambda f, n: n, lambda p, f, n: k.rsi(_f(p, f), n), field=True,
                  help="Wilder's RSI, 0-100"))
_add(FunctionSpec("max", (_N,), lambda f, n: n - 1, lambda p, f, n: pt.rolling(_f(p, f), n, "max"), field=True,
                  help="highest value of the last n bars (this one included)"))
_add(FunctionSpec("min", (_N,), lambda f, n: n - 1, lambda p, f, n: pt.rolling(_f(p, f), n, "min"), field=True,
                  help="lowest value of the last n bars (this one included)"))
_add(FunctionSpec("volume_sma", (("n", "int", 20),), lambda n: n - 1, lambda p, n: k.sma(_f(p, "volume"), n),
                  help="average volume (shares)"))
_MACD = (("fast", "int", 12), ("slow", "int", 26), ("signal", "int", 9))
_add(FunctionSpec("macd", _MACD, lambda a, b, s: b - 1, lambda p, a, b, s: k.macd(_f(p, "close"), a, b, s)[0],
                  help="MACD line"))
_add(FunctionSpec("macd_signal", _MACD, lambda a, b, s: b + s - 2,
                  lambda p, a, b, s: k.macd(_f(p, "close"), a, b, s)[1], help="MACD signal line"))
_add(FunctionSpec("macd_hist", _MACD, lambda a, b, s: b + s - 2,
                  lambda p, a, b, s: k.macd(_f(p, "close"), a, b, s)[2], help="MACD histogram"))
_BB = (("n", "int", 20), ("k", "float", 2.0))
for _i, _band in enumerate(("bb_lower", "bb_mid", "bb_upper")):
    _add(FunctionSpec(_band, _BB, lambda n, kk: n - 1,
                      (lambda i: lambda p, n, kk: k.bollinger(_f(p, "close"), n, kk)[i])(_i),
                      help=f"Bollinger band ({_band[3:]})"))
_add(FunctionSpec("atr", (("n", "int", 14),), lambda n: n, lambda p, n: k.atr(*_hlc(p), n), help="average true range (₹)"))
_add(FunctionSpec("adx", (("n", "int", 14),), lambda n: 2 * n - 1, lambda p, n: k.adx(*_hlc(p), n)[0],
                  help="average directional index"))
_add(FunctionSpec("plus_di", (("n", "int", 14),), lambda n: n, lambda p, n: k.adx(*_hlc(p), n)[1], help="+DI"))
_add(FunctionSpec("minus_di", (("n", "int", 14),), lambda n: n, lambda p, n: k.adx(*_hlc(p), n)[2], help="-DI"))
_ST = (("n", "int", 10), ("multiplier", "float", 3.0))
_add(FunctionSpec("supertrend", _ST, lambda n, m: n, lambda p, n, m: k.supertrend(*_hlc(p), n, m)[0],
                  help="Supertrend stop level (₹)"))
_add(FunctionSpec("supertrend_dir", _ST, lambda n, m: n, lambda p, n, m: k.supertrend(*_hlc(p), n, m)[1],
                  help="Supertrend direction: 1 up, -1 down"))
_SR = (("period", "int", 14), ("rsi_period", "int", 14), ("k", "int", 3), ("d", "int", 3))
_add(FunctionSpec("stochrsi_k", _SR, lambda a, r, kk, d: r + a + kk - 2,
                  lambda p, a, r, kk, d: k.stoch_rsi(_f(p, "close"), a, r, kk, d)[0], help="StochRSI %K"))
_add(FunctionSpec("stochrsi_d", _SR, lambda a, r, kk, d: r + a + kk + d - 3,
                  lambda p, a, r, kk, d: k.stoch_rsi(_f(p, "close"), a, r, kk, d)[1], help="StochRSI %D"))
_add(FunctionSpec("obv", (), lambda: 0, lambda p: k.obv(_f(p, "close"), _f(p, "volume")), help="on-balance volume"))
_add(FunctionSpec("vwap", (), lambda: 0,
                  lambda p: k.session_vwap(*_hlc(p), _f(p, "volume"), p.day_numbers()),
                  help="session VWAP (intraday timeframes)"))
_PATTERN_WARMUP = {"bullish_engulfing": 1, "bearish_engulfing": 1, "hammer": 0, "doji": 0, "morning_star": 2,
                   "evening_star": 2, "inside_bar": 1, "nr7": 6, "gap_up": 1, "gap_down": 1}
for _name, _kernel in pt.CANDLE_KERNELS.items():
    _add(FunctionSpec(_name, (), (lambda w: lambda: w)(_PATTERN_WARMUP[_name]), _pattern(_kernel),
                      help=f"1 if the bar is a {_name.replace('_', ' ')}, else 0"))


def compute(panel: Panel, name: str, args: tuple[float | str, ...]) -> np.ndarray:
    """The ``(T, N)`` panel of ``name(*args)`` (normalised args), cached on ``panel``."""
    key = (name, args)
    cached = panel.cache.get(key)
    if cached is None:
        if name in FIELDS:
            cached = panel.fields[name]
        else:
            cached = FUNCTIONS[name].compute(panel, *args)
        panel.cache[key] = cached
    return cached


def warmup(name: str, args: tuple[float | str, ...]) -> int:
    if name in FIELDS:
        return 0
    spec = FUNCTIONS[name]
    return int(spec.warmup(*args))


_OR = (("minutes", "int", 15),)
_add(FunctionSpec("or_high", _OR, lambda m: 0,
                  lambda p, m: k.opening_range(p.fields["high"], p.fields["low"], p.ts, m)[0],
                  help="opening-range high of the session's first `minutes` (intraday)"))
_add(FunctionSpec("or_low", _OR, lambda m: 0,
                  lambda p, m: k.opening_range(p.fields["high"], p.fields["low"], p.ts, m)[1],
                  help="opening-range low of the session's first `minutes` (intraday)"))
