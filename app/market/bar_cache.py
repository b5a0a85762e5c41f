"""A per-process cache of stored bars, kept up to date incrementally.

Each entry is one instrument's stored bars of one interval over a loaded range, plus the
number of bars the store held for that instrument and interval when it was loaded. A read
asks the store one cheap question for all requested instruments (``counts``: one grouped
query per 500 tokens); an unchanged count means nothing was added anywhere, so the entry is
served as is (and its range extended to the new end). A changed count (bars appended by the ticker,
a gap filled by a backfill worker, a history replaced after a split) reloads that
instrument's range; a read past the loaded range fetches only the newer bars, unless the
entry already holds every stored bar. Bars written with the same count (a re-written forming bar in the
middle of the range) are only seen after :meth:`invalidate` or a reload; the market-data
service invalidates what it writes itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from app.adapters.store.ports import BarRepository

_COLS = ["open", "high", "low", "close", "volume", "oi"]


@dataclass
class _Entry:
    frame: pd.DataFrame  # ts (IST) index, _COLS
    start: datetime
    end: datetime
    stored: int  # the store's bar count for (token, interval) when last checked


def _split(long: pd.DataFrame) -> dict[int, pd.DataFrame]:
    if long.empty:
        return {}
    out = {}
    for token, g in long.groupby("instrument_token", sort=False):
        f = g.set_index("ts")[_COLS]
        f.index.name = "ts"
        out[int(token)] = f
    return out


def _empty() -> pd.DataFrame:
    f = pd.DataFrame({c: pd.Series(dtype="float64" if c in ("open", "high", "low", "close") else "int64")
                      for c in _COLS})
    f.index = pd.DatetimeIndex([], tz="Asia/Kolkata", name="ts")
    return f


class BarCache:
    """Stored bars by ``(instrument_token, interval)`` (see the module docstring). Thread-safe."""

    def __init__(self, repo: BarRepository, max_entries: int = 5000) -> None:
        self._repo = repo
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self.queries = 0  # store reads of bars (not counts) since start: tests and the bench read it

    def invalidate(self, instrument_token: int | None = None, interval: str | None = None) -> None:
        """Forget one instrument's entry (one interval or all), or everything."""
        with self._lock:
            if instrument_token is None:
                self._entries.clear()
                return
            for key in [k for k in self._entries if k[0] == int(instrument_token)
                        and (interval is None or k[1] == interval)]:
                del self._entries[key]

    def read(self, tokens: list[int], interval: str, start: datetime, end: datetime) -> dict[int, pd.DataFrame]:
        """Stored bars of each token with ``start <= ts <= end`` (IST ``ts`` index, float OHLC,
        int volume/oi); a token with none maps to an empty frame."""
        tokens = list(dict.fromkeys(int(t) for t in tokens))
        counts = self._repo.counts(tokens, interval) if tokens else {}
        with self._lock:
            entries = {t: self._entries.get((t, interval)) for t in tokens}
        reload, tails = [], []
        for t, e in entries.items():
            c = counts.get(t, 0)
            if e is None or start < e.start or c != e.stored:  # new, earlier, or something was written
                reload.append(t)
            elif end > e.end and len(e.frame) != c:  # the store may hold bars past the loaded range
                tails.append(t)
        fresh: dict[int, _Entry] = {}
        if reload:
            self.queries += 1
            lo = min([start] + [entries[t].start for t in reload if entries[t] is not None])
            hi = max([end] + [entries[t].end for t in reload if entries[t] is not None])
            got = _split(self._repo.frames(reload, interval, lo, hi))
            for t in reload:
                fresh[t] = _Entry(got.get(t, _empty()), lo, hi, counts.get(t, 0))
        if tails:
            since = {t: entries[t].end for t in tails}
            self.queries += 1
            got = _split(self._repo.frames(tails, interval, min(since.values()), end))
            for t in tails:
                e, tail = entries[t], got.get(t, _empty())
                tail = tail[tail.index > pd.Timestamp(since[t])]
                fresh[t] = _Entry(pd.concat([e.frame, tail]) if len(tail) else e.frame, e.start, end, e.stored)
        out: dict[int, pd.DataFrame] = {}
        with self._lock:
            for t in tokens:
                e = fresh.get(t) or entries[t]
                if t not in fresh and end > e.end:
                    e.end = end  # the cache holds every stored bar and none was added
                self._entries[(t, interval)] = e
                f = e.frame
                out[t] = f[(f.index >= pd.Timestamp(start)) & (f.index <= pd.Timestamp(end))]
            if len(self._entries) > self._max:
                for key in list(self._entries)[: len(self._entries) - self._max]:
                    del self._entries[key]
        return out
