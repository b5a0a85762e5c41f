"""The grounded snapshot: every number an analyst may use, taken from the desk's own data.

A :class:`Snapshot` is built by :func:`build_snapshot` from one instrument's 1-minute bars,
its latest tick, daily history, market context, the trader's positions and the risk limits,
*as of* a moment ``at``. Nothing after ``at`` is used: only 1-minute bars that had closed by
``at`` (open time + 1 minute <= ``at``) and a tick whose exchange time is <= ``at``.
The prompt shows these numbers and the validator checks answers against them, so a model
never has to produce a price it was not given.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pandas as pd

from core import indicators as ind
from core.errors import ValidationError
from core.models import Instrument, Tick
from core.resample import resample_bars
from core.risk.limits import RiskLimits
from core.timeutil import IST, require_aware

_MINUTE = pd.Timedelta(minutes=1)
#: NSE's default price band for the replayed stocks (replay derives it the same way:
#: previous close ∓ 10 %, ``app/adapters/replay/market.py``); pass the real band when known.
DEFAULT_CIRCUIT_PCT = Decimal(10)


@dataclass(frozen=True, slots=True)
class BarRow:
    """One bar as the prompt shows it: IST open time, ₹ OHLC, volume in shares."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat(), "open": self.open, "high": self.high, "low": self.low,
                "close": self.close, "volume": self.volume}


@dataclass(frozen=True, slots=True)
class NewsLine:
    """One news item as the prompt shows it: unverified text (a feed's headline, already plain
    text and capped by ``core.news``) with its source and time (tz-aware), never a number."""

    published_at: datetime
    source: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        return {"published_at": self.published_at.isoformat(), "source": self.source, "title": self.title}


@dataclass(frozen=True, slots=True)
class PositionFact:
    """The trader's position in the instrument: signed shares, average ₹, unrealized ₹."""

    product: str
    quantity: int
    average_price: float
    unrealized: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"product": self.product, "quantity": self.quantity, "average_price": self.average_price,
                "unrealized": self.unrealized}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the analyst sees about one instrument at ``as_of`` (IST).

    Prices are ₹ floats rounded to the paisa; ``tick_size`` ₹ ``Decimal``; volumes shares.
    ``circuit_lower``/``circuit_upper`` is the day's price band (₹). ``indicators`` maps a
    stable name (``rsi_14_5m``, ``atr_14_5m``, ``vwap``, ``sma_20_d`` …) to a value or
    ``None`` (not enough history). ``market`` holds NIFTY/sector context (percent changes).
    ``headlines`` are trader-pasted, *unverified* text; ``news`` the latest feed items naming
    the instrument published by ``as_of`` (unverified text with source and time).
    """

    tradingsymbol: str
    exchange: str
    instrument_token: int
    name: str
    industry: str
    tick_size: Decimal
    as_of: datetime
    ltp: float
    ltp_source: str
    prev_close: float
    day_open: float
    day_high: float
    day_low: float
    day_volume: int
    circuit_lower: float
    circuit_upper: float
    bars_5m: tuple[BarRow, ...]
    bars_15m: tuple[BarRow, ...]
    indicators: Mapping[str, float | None]
    patterns: tuple[str, ...]
    market: Mapping[str, Any] = field(default_factory=dict)
    scan_hits: tuple[str, ...] = ()
    positions: tuple[PositionFact, ...] = ()
    limits: Mapping[str, str] = field(default_factory=dict)
    headlines: tuple[str, ...] = ()
    news: tuple[NewsLine, ...] = ()

    @property
    def trading_day(self) -> date:
        return self.as_of.astimezone(IST).date()

    @property
    def change_pct(self) -> float | None:
        """LTP against the previous close, percent."""
        return round((self.ltp - self.prev_close) * 100.0 / self.prev_close, 2) if self.prev_close else None

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-simple form (stored with each analysis; hashed for the cache)."""
        return {
            "tradingsymbol": self.tradingsymbol, "exchange": self.exchange,
            "instrument_token": self.instrument_token, "name": self.name, "industry": self.industry,
            "tick_size": str(self.tick_size), "as_of": self.as_of.isoformat(), "ltp": self.ltp,
            "ltp_source": self.ltp_source, "prev_close": self.prev_close, "day_open": self.day_open,
            "day_high": self.day_high, "day_low": self.day_low, "day_volume": self.day_volume,
            "circuit_lower": self.circuit_lower, "circuit_upper": self.circuit_upper,
            "bars_5m": [b.to_dict() for b in self.bars_5m], "bars_15m": [b.to_dict() for b in self.bars_15m],
            "indicators": dict(self.indicators), "patterns": list(self.patterns), "market": dict(self.market),
            "scan_hits": list(self.scan_hits), "positions": [p.to_dict() for p in self.positions],
            "limits": dict(self.limits), "headlines": list(self.headlines),
            # only when present: a snapshot without news keeps the digest it had before news existed
            **({"news": [n.to_dict() for n in self.news]} if self.news else {}),
        }

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`to_dict` as canonical JSON: same numbers, same digest."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------------- builder


def build_snapshot(
    instrument: Instrument,
    at: datetime,
    minute_bars: pd.DataFrame,
    *,
    tick: Tick | None = None,
    daily: pd.DataFrame | None = None,
    industry: str = "",
    market: Mapping[str, Any] | None = None,
    scan_hits: Iterable[str] = (),
    positions: Iterable[PositionFact] = (),
    limits: RiskLimits | None = None,
    headlines: Iterable[str] = (),
    news: Iterable[NewsLine] = (),
    circuit: tuple[float, float] | None = None,
    circuit_pct: Decimal = DEFAULT_CIRCUIT_PCT,
    n_5m: int = 12,
    n_15m: int = 8,
) -> Snapshot:
    """Build the snapshot of ``instrument`` as of ``at`` (tz-aware).

    Parameters
    ----------
    minute_bars : pd.DataFrame
        1-minute bars indexed by tz-aware open time, columns ``open high low close`` (₹) and
        ``volume`` (shares). May include earlier sessions (used to warm up indicators) and
        bars after ``at`` (ignored: only bars closed by ``at`` are read).
    tick : Tick, optional
        The latest tick; used only if its ``exchange_timestamp`` is on ``at``'s IST day and <= ``at``.
    daily : pd.DataFrame, optional
        Daily bars indexed by IST trading date (``datetime.date``) with ``open high low close``;
        only dates before ``at``'s day are read (previous close, 20-day context).
    news : NewsLine items, optional
        Feed items naming the instrument; only those published by ``at`` are kept.
    circuit : (lower, upper) ₹, optional
        The day's price band; default previous close ∓ ``circuit_pct`` %, rounded inwards to the tick.

    Raises
    ------
    ValidationError
        ``at`` naive; an index (not tradable) or an instrument without a tick size; no bar and
        no tick for ``at``'s day up to ``at`` ("no data today").
    """
    at = require_aware(at, "at").astimezone(IST)
    tick_size = _tick_size_of(instrument)
    day = at.date()
    bars = _closed_minutes(minute_bars, at)
    today = bars[bars.index.date == day]
    live = tick if _tick_usable(tick, at) else None
    if today.empty and live is None:
        raise ValidationError(
            f"no market data for {instrument.key} on {day:%d %b %Y} up to {at:%H:%M} IST "
            "(no closed 1-minute bar and no tick yet); wait for the session or pick a time with data")
    prev_daily = _daily_before(daily, day)
    px = _day_prices(bars, today, live, prev_daily, day)
    ltp, day_open, prev_close = px.ltp, px.day_open, px.prev_close
    if circuit is None:
        circuit = _circuit(Decimal(str(prev_close)), tick_size, circuit_pct)

    five = resample_bars(bars, "5minute") if len(bars) else bars
    fifteen = resample_bars(today, "15minute") if len(today) else today
    indicators = _indicators(bars, five, today, prev_daily)
    patterns = _patterns(ltp, day_open, prev_close, indicators)
    five_today = five[five.index.date == day] if len(five) else five
    return Snapshot(
        tradingsymbol=instrument.tradingsymbol, exchange=instrument.exchange,
        instrument_token=instrument.instrument_token, name=instrument.name or instrument.tradingsymbol,
        industry=industry or "", tick_size=tick_size, as_of=at, ltp=_r(ltp), ltp_source=px.ltp_source,
        prev_close=_r(prev_close), day_open=_r(day_open), day_high=_r(px.day_high), day_low=_r(px.day_low),
        day_volume=px.volume, circuit_lower=float(circuit[0]), circuit_upper=float(circuit[1]),
        bars_5m=_rows(five_today.tail(n_5m)), bars_15m=_rows(fifteen.tail(n_15m)), indicators=indicators,
        patterns=tuple(patterns), market=dict(market or {}), scan_hits=tuple(scan_hits),
        positions=tuple(p for p in positions if p.quantity != 0), limits=_limits(limits),
        headlines=tuple(h.strip() for h in headlines if h and h.strip()),
        news=tuple(n for n in news if n.published_at <= at),
    )


def _tick_size_of(instrument: Instrument) -> Decimal:
    """The instrument's tick size (₹); ``ValidationError`` for an index or a missing tick size."""
    if not instrument.tradable:
        raise ValidationError(f"{instrument.key} is an index and cannot be traded; analyse a stock instead")
    tick_size = Decimal(str(instrument.tick_size))
    if tick_size <= 0:
        raise ValidationError(f"{instrument.key} has no tick size in the instruments master; refresh the master")
    return tick_size


def _tick_usable(tick: Tick | None, at: datetime) -> bool:
    """A tick is used only if it has a price and its exchange time is on ``at``'s IST day, <= ``at``."""
    return (tick is not None and tick.exchange_timestamp is not None and tick.last_price > 0
            and tick.exchange_timestamp.astimezone(IST).date() == at.date() and tick.exchange_timestamp <= at)


@dataclass(frozen=True)
class _DayPrices:
    ltp: float
    ltp_source: str
    day_open: float
    day_high: float
    day_low: float
    volume: int
    prev_close: float


def _day_prices(bars: pd.DataFrame, today: pd.DataFrame, tick: Tick | None, prev_daily: pd.DataFrame | None,
                day: date) -> _DayPrices:
    """LTP, the day's open/high/low/volume and the previous close: the usable ``tick`` first,
    then today's closed bars; the previous close from the tick, else daily bars, else earlier minutes."""
    if tick is not None:
        ltp, ltp_source = float(tick.last_price), f"tick at {tick.exchange_timestamp.astimezone(IST):%H:%M:%S} IST"
    else:
        ltp, ltp_source = float(today["close"].iloc[-1]), f"close of the {today.index[-1]:%H:%M} 1-minute bar"
    highs = list(today["high"]) + ([tick.high, ltp] if tick is not None and tick.high > 0 else [ltp])
    lows = list(today["low"]) + ([tick.low, ltp] if tick is not None and tick.low > 0 else [ltp])
    if tick is not None and tick.open > 0:
        day_open = float(tick.open)
    else:
        day_open = float(today["open"].iloc[0]) if len(today) else ltp
    volume = int(tick.volume_traded) if tick is not None and tick.volume_traded else int(today["volume"].sum())
    if tick is not None and tick.close > 0:
        prev_close = float(tick.close)
    elif prev_daily is not None and len(prev_daily):
        prev_close = float(prev_daily["close"].iloc[-1])
    else:
        earlier = bars[bars.index.date < day]
        prev_close = float(earlier["close"].iloc[-1]) if len(earlier) else day_open
    return _DayPrices(ltp, ltp_source, day_open, max(highs), min(lows), volume, prev_close)


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


def _closed_minutes(frame: pd.DataFrame, at: datetime) -> pd.DataFrame:
    if frame is None or len(frame) == 0:
        return pd.DataFrame(columns=list(ind.OHLCV), index=pd.DatetimeIndex([], tz=IST))
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValidationError("minute_bars must be indexed by a tz-aware DatetimeIndex (bar open time)")
    out = frame[list(ind.OHLCV)].sort_index()
    out.index = out.index.tz_convert(IST)
    out = out[~out.index.duplicated(keep="last")]
    return out[out.index + _MINUTE <= pd.Timestamp(at)].astype({"volume": "int64"})


def _daily_before(daily: pd.DataFrame | None, day: date) -> pd.DataFrame | None:
    if daily is None or len(daily) == 0:
        return None
    idx = [d.date() if isinstance(d, datetime) else d for d in daily.index]
    keep = [d < day for d in idx]
    return daily[keep]


def _circuit(prev_close: Decimal, tick: Decimal, pct: Decimal) -> tuple[float, float]:
    lower = (prev_close * (100 - pct) / 100 / tick).to_integral_value(ROUND_CEILING) * tick
    upper = (prev_close * (100 + pct) / 100 / tick).to_integral_value(ROUND_FLOOR) * tick
    return float(lower), float(upper)


def _last(series: pd.Series, nd: int = 2) -> float | None:
    if series is None or len(series) == 0:
        return None
    v = float(series.iloc[-1])
    return None if math.isnan(v) else round(v, nd)


def _indicators(bars: pd.DataFrame, five: pd.DataFrame, today: pd.DataFrame,
                prev_daily: pd.DataFrame | None) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    if len(five):
        out["ema_9_5m"] = _last(ind.ema(five, 9))
        out["ema_21_5m"] = _last(ind.ema(five, 21))
        out["rsi_14_5m"] = _last(ind.rsi(five, 14))
        out["atr_14_5m"] = _last(ind.atr(five, 14))
        out["macd_hist_5m"] = _last(ind.macd(five)["macd_hist"], 4)
        bb = ind.bollinger(five, 20)
        out["bb_upper_5m"] = _last(bb["bb_upper"])
        out["bb_lower_5m"] = _last(bb["bb_lower"])
        vsma = _last(ind.volume_sma(five, 20), 1)
        out["volume_ratio_5m"] = round(float(five["volume"].iloc[-1]) / vsma, 2) if vsma else None
    if len(today):
        out["vwap"] = _last(ind.session_vwap(today))
        first15 = today.iloc[:15]
        if len(first15) == 15:
            out["orb15_high"] = _r(first15["high"].max())
            out["orb15_low"] = _r(first15["low"].min())
    if prev_daily is not None and len(prev_daily):
        d = prev_daily[["open", "high", "low", "close"]].astype("float64").copy()
        d.index = pd.DatetimeIndex([pd.Timestamp(x).tz_localize(IST) for x in d.index])
        if "volume" not in d:
            d["volume"] = 0.0
        out["sma_20_d"] = _last(ind.sma(d, 20))
        out["atr_14_d"] = _last(ind.atr(d, 14))
        out["high_20_d"] = _r(d["high"].tail(20).max())
        out["low_20_d"] = _r(d["low"].tail(20).min())
    return out


def _patterns(ltp: float, day_open: float, prev_close: float, x: Mapping[str, float | None]) -> list[str]:
    out: list[str] = []
    if prev_close and abs(day_open - prev_close) / prev_close >= 0.01:
        out.append(f"gap {'up' if day_open > prev_close else 'down'} "
                   f"{abs(day_open - prev_close) * 100 / prev_close:.2f}% at the open")
    vwap = x.get("vwap")
    if vwap:
        out.append(f"LTP {'above' if ltp >= vwap else 'below'} session VWAP {vwap:.2f}")
    hi, lo = x.get("orb15_high"), x.get("orb15_low")
    if hi and ltp > hi:
        out.append(f"above the 15-minute opening range (high {hi:.2f})")
    elif lo and ltp < lo:
        out.append(f"below the 15-minute opening range (low {lo:.2f})")
    fast, slow = x.get("ema_9_5m"), x.get("ema_21_5m")
    if fast is not None and slow is not None:
        out.append(f"5-minute EMA 9 {'above' if fast > slow else 'below'} EMA 21")
    rsi = x.get("rsi_14_5m")
    if rsi is not None and rsi >= 70:
        out.append(f"5-minute RSI {rsi:.1f} overbought (>= 70)")
    elif rsi is not None and rsi <= 30:
        out.append(f"5-minute RSI {rsi:.1f} oversold (<= 30)")
    return out


def _rows(frame: pd.DataFrame) -> tuple[BarRow, ...]:
    return tuple(BarRow(ts.to_pydatetime(), _r(r.open), _r(r.high), _r(r.low), _r(r.close), int(r.volume))
                 for ts, r in zip(frame.index, frame.itertuples(index=False)))


def _limits(limits: RiskLimits | None) -> dict[str, str]:
    if limits is None:
        return {}
    return {
        "max_order_notional_inr": str(limits.max_order_notional),
        "max_order_quantity": str(limits.max_order_quantity),
        "risk_per_trade_pct": str(limits.risk_per_trade_pct),
        "require_stop": str(limits.require_stop).lower(),
        "mis_square_off_cutoff_ist": limits.square_off_cutoff.strftime("%H:%M"),
    }


__all__: Sequence[str] = ("BarRow", "PositionFact", "Snapshot", "build_snapshot", "DEFAULT_CIRCUIT_PCT")
