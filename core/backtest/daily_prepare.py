"""Prepare a daily backtest's instruments in one pass (the engine's per-symbol ``_prepare``,
vectorised over the whole universe): NIFTY 500 × 5 years is ~560,000 bars in ~500 short
series, where per-series pandas work, not the bars, would set the pace.

Every instrument's bars are stacked end to end; the strategy's features come from
:meth:`~core.strategies.base.Strategy.stacked_features` (row for row its ``features`` of each
instrument, tested) and its masks from one :meth:`~core.strategies.base.Strategy.active`
call. Per bar, as the engine's ``_prepare`` computes them for one-bar days: the previous
session's close, the day's open/high/low (the bar's own), and the NSE tick of the day
(``core.orders.ticks``: the regime of the date, the band of the last close of an earlier
calendar month, else the series' first open — the rule of ``core.backtest.ticks.day_instruments``).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.daily import DAY_SPAN, session_days, session_open_ns
from core.errors import ValidationError
from core.orders import Product
from core.orders.ticks import TICK_REGIMES, TickRegime, follows_nse_equity_ticks
from core.strategies.base import Strategy

_EPOCH = date(1970, 1, 1)
_REGIME_DAYS = np.array([(r.effective_from - _EPOCH).days for r in TICK_REGIMES], dtype=np.int64)
_OHLCV = ["open", "high", "low", "close", "volume"]


class SessionDates:
    """The IST dates of a series' bars from their day numbers, made only when asked for."""

    __slots__ = ("_day",)

    def __init__(self, day: np.ndarray) -> None:
        self._day = day

    def __len__(self) -> int:
        return len(self._day)

    def __getitem__(self, i: int) -> date:
        return _EPOCH + timedelta(days=int(self._day[i]))


def prepare_daily(strategy: Strategy, ordered: Sequence[Any], make: Callable[..., Any]) -> list[Any]:
    """The engine's prepared symbols for daily bars: ``make(**fields)`` (the engine's ``_Sym``)
    per ``InstrumentBars`` of ``ordered``, in that order.

    Raises ``ValidationError`` for a series whose index is not tz-aware or holds two bars on
    one IST date, or (from the strategy) malformed bars.
    """
    days, blocks = [], []
    for ib in ordered:
        try:
            day, order = session_days(ib.bars.index)
        except ValidationError as exc:
            raise ValidationError(f"{ib.instrument.tradingsymbol}: {exc}") from None
        days.append(day)
        b = ib.bars
        x = (b if b.columns.tolist() == _OHLCV else b[_OHLCV]).to_numpy(np.float64)
        blocks.append(x if order is None else x[order])
    lens = np.array([len(d) for d in days], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    day = np.concatenate(days)
    o, h, lo, c, v = np.concatenate(blocks).T.copy()
    ts = session_open_ns(day)
    index = pd.DatetimeIndex(ts, tz="UTC").tz_convert("Asia/Kolkata")
    frame = pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": v}, index=index)
    feats = strategy.stacked_features(frame, starts)
    names = tuple(feats.columns)
    fx = {k: feats[k].to_numpy(np.float64) for k in names}
    act = strategy.active(feats, index + DAY_SPAN)
    square = strategy.product is Product.MIS  # every daily bar is its day's last
    wake = [np.asarray(act.flat, bool), np.asarray(act.long, bool) | square, np.asarray(act.short, bool) | square]
    prev = np.empty_like(c)
    prev[1:] = c[:-1]
    prev[starts] = np.nan
    tick_code, ticks = _tick_codes(ordered, day, c, o, starts, lens)
    out = []
    last = np.ones(len(c), dtype=bool)
    pairs = np.unique(np.repeat(np.arange(len(lens)), lens) * len(ticks) + tick_code)  # (series, tick) present
    used_by = [set() for _ in ordered]
    for series, t in zip(*np.divmod(pairs, len(ticks)), strict=True):
        used_by[series].add(int(t))
    for n, ib in enumerate(ordered):
        a, z = int(starts[n]), int(starts[n] + lens[n])
        inst = ib.instrument
        used = used_by[n]  # a variant per tick this series has
        variants = tuple(inst if t == inst.tick_size or n_t not in used else replace(inst, tick_size=t)
                         for n_t, t in enumerate(ticks))
        out.append(make(inst=inst, token=int(inst.instrument_token), symbol=inst.tradingsymbol,
                        ts=ts[a:z], o=o[a:z], h=h[a:z], lo=lo[a:z], c=c[a:z],
                        v=v[a:z].astype(np.int64), feats={k: fx[k][a:z] for k in names}, last_of_day=last[a:z],
                        prev_close=prev[a:z], day_open=o[a:z], day_high=h[a:z], day_low=lo[a:z], cols=names,
                        day_id=tick_code[a:z], day_insts=variants, days=SessionDates(day[a:z]),
                        wake=tuple(w[a:z].tolist() for w in wake)))
    return out


def _tick_codes(ordered: Sequence[Any], day: np.ndarray, close: np.ndarray, first_open: np.ndarray,
                starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, list[Decimal]]:
    """``(code per bar, ticks)``: bar ``j``'s tick (₹) is ``ticks[code[j]]``. The reference price
    is rounded to the paisa as ``price_from_float`` does and placed in the regime's bands as
    ``TickRegime.tick_for`` places it (:func:`_band_of`, all bars at once)."""
    sym = np.repeat(np.arange(len(lens)), lens)
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    key = sym * (1 << 20) + month
    first = np.ones(len(key), dtype=bool)  # a series' first bar of a calendar month
    first[1:] = key[1:] != key[:-1]
    run = np.cumsum(first) - 1  # the (series, month) each bar is in
    begin = np.flatnonzero(first)
    month_ref = np.empty(len(begin))  # the last close of the series' previous month, else its first open
    month_ref[1:] = close[begin[1:] - 1]
    new_series = np.ones(len(begin), dtype=bool)
    new_series[1:] = sym[begin[1:]] != sym[begin[:-1]]
    month_ref[new_series] = first_open[starts][sym[begin[new_series]]]
    ref = month_ref[run]
    regime = np.maximum(np.searchsorted(_REGIME_DAYS, day, side="right") - 1, 0)
    ticks: list[Decimal] = []

    def code_of(tick: Decimal) -> int:
        if tick not in ticks:
            ticks.append(tick)
        return ticks.index(tick)

    insts = [ib.instrument for ib in ordered]
    code = np.array([code_of(i.tick_size) for i in insts], dtype=np.int64)[sym]  # the listed tick
    follows = np.array([follows_nse_equity_ticks(i.exchange, i.segment, i.instrument_type) for i in insts])[sym]
    for g, reg in enumerate(TICK_REGIMES):
        rows = np.flatnonzero((regime == g) & follows)
        if not len(rows):
            continue
        if reg.uniform:
            code[rows] = code_of(reg.bands[0].tick)
            continue
        r = ref[rows]
        ok = np.isfinite(r) & (r > 0)  # else no reference: the listed tick
        band = _band_of(reg, np.round(r[ok] * 100).astype(np.int64))
        found = np.zeros(len(reg.bands), dtype=np.int64)
        for b in np.unique(band).tolist():  # the bands in price order, as the sorted prices meet them
            found[b] = code_of(reg.bands[b].tick)
        code[rows[ok]] = found[band]
    return code, ticks


def _band_of(regime: TickRegime, paise: np.ndarray) -> np.ndarray:
    """Index into ``regime.bands`` of each reference price (int64 paise, > 0): the first band that
    covers it, as :meth:`~core.orders.ticks.TickRegime.tick_for` picks it (``TickBand.covers``:
    up to its ``limit`` ₹, the limit itself only when ``inclusive``), compared in whole paise."""
    out = np.full(len(paise), len(regime.bands) - 1, dtype=np.int64)
    for n in range(len(regime.bands) - 1, -1, -1):  # the first covering band wins: assign it last
        b = regime.bands[n]
        if b.limit is None:
            out[:] = n
            continue
        limit = int(b.limit * 100)
        out[(paise <= limit) if b.inclusive else (paise < limit)] = n
    return out
