"""A per-process cache of stored bars, kept up to date incrementally.

Each entry is one instrument's stored bars of one interval over a loaded range, held as
numpy arrays (bar open in ns since the epoch, OHLC ₹, volume, oi), plus the number of bars the
store held for that instrument and interval when it was loaded. A read asks the store one
cheap question for all requested instruments (``counts``: one grouped query per 500 tokens);
an unchanged count means nothing was written, so the entry is served as is. A changed count
(bars appended by the ticker, a gap filled by a backfill worker, a history replaced after a
split) reloads that instrument's range; a read past the loaded range fetches only the newer
bars, unless the entry already holds every stored bar. A bar re-written in place (same count)
is seen after :meth:`invalidate` or a reload; the market-data service invalidates what it
writes itself. Slicing and assembling a read is numpy only, so a warm read of 500 instruments
× a year of daily bars costs the count query plus a few milliseconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.adapters.store.ports import BarRepository

if TYPE_CHECKING:  # pragma: no cover (pandas/numpy load on first use: issue 16 item 7)
    import numpy as np
    import pandas as pd

PRICES = ("open", "high", "low", "close")
COUNTS = ("volume", "oi")
LONG_COLUMNS = ["instrument_token", "ts", *PRICES, *COUNTS]


@dataclass
class _Entry:
    ts: np.ndarray  # int64 ns since the epoch (UTC), increasing
    values: dict[str, np.ndarray]
    start: datetime
    end: datetime
    stored: int  # the store's bar count for (token, interval) when last checked

    def __len__(self) -> int:
        return len(self.ts)


def _ns(when: datetime) -> int:
    import pandas as pd

    return pd.Timestamp(when).value


def _entries(long: pd.DataFrame, tokens: list[int], start: datetime, end: datetime,
             counts: dict[int, int]) -> dict[int, _Entry]:
    """Split a long frame sorted by (token, ts) into one entry per token (empty ones too)."""
    import numpy as np
    import pandas as pd

    tok = long["instrument_token"].to_numpy(dtype="int64")
    ts = pd.DatetimeIndex(long["ts"]).as_unit("ns").asi8 if len(long) else np.empty(0, "int64")
    cols = {c: long[c].to_numpy(dtype="float64" if c in PRICES else "int64") for c in (*PRICES, *COUNTS)}
    order = np.lexsort((ts, tok))
    tok, ts = tok[order], ts[order]
    cols = {c: v[order] for c, v in cols.items()}
    out: dict[int, _Entry] = {}
    for t in tokens:
        lo, hi = np.searchsorted(tok, t, "left"), np.searchsorted(tok, t, "right")
        out[t] = _Entry(ts[lo:hi], {c: v[lo:hi] for c, v in cols.items()}, start, end, counts.get(t, 0))
    return out


def _merge(old: _Entry, tail: _Entry, end: datetime) -> _Entry:
    import numpy as np

    return _Entry(np.concatenate([old.ts, tail.ts]), {c: np.concatenate([v, tail.values[c]])
                                                       for c, v in old.values.items()}, old.start, end, old.stored)


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

    def read_long(self, tokens: list[int], interval: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Stored bars of ``tokens`` with ``start <= ts <= end`` as one long frame: columns
        ``instrument_token`` (int64), ``ts`` (tz-aware IST bar open), float64 ``open high low
        close`` (₹), int64 ``volume``, ``oi``; sorted by the order of ``tokens``, then ``ts``."""
        import numpy as np
        import pandas as pd

        tokens = list(dict.fromkeys(int(t) for t in tokens))
        entries = self._refresh(tokens, interval, start, end)
        lo_ns, hi_ns = _ns(start), _ns(end)
        parts_tok, parts_ts, parts = [], [], {c: [] for c in (*PRICES, *COUNTS)}
        for t in tokens:
            e = entries[t]
            lo, hi = np.searchsorted(e.ts, lo_ns, "left"), np.searchsorted(e.ts, hi_ns, "right")
            if hi <= lo:
                continue
            parts_tok.append(np.full(hi - lo, t, dtype="int64"))
            parts_ts.append(e.ts[lo:hi])
            for c in parts:
                parts[c].append(e.values[c][lo:hi])
        cat = (lambda xs, dtype: np.concatenate(xs) if xs else np.empty(0, dtype))
        frame = pd.DataFrame({"instrument_token": cat(parts_tok, "int64"),
                              "ts": pd.DatetimeIndex(cat(parts_ts, "int64").astype("datetime64[ns]"),
                                                     tz="UTC").tz_convert("Asia/Kolkata"),
                              **{c: cat(v, "float64" if c in PRICES else "int64") for c, v in parts.items()}})
        return frame[LONG_COLUMNS]

    def _refresh(self, tokens: list[int], interval: str, start: datetime, end: datetime) -> dict[int, _Entry]:
        counts = self._repo.counts(tokens, interval) if tokens else {}
        with self._lock:
            entries = {t: self._entries.get((t, interval)) for t in tokens}
        reload, tails = [], []
        for t, e in entries.items():
            c = counts.get(t, 0)
            if e is None or start < e.start or c != e.stored:  # new, earlier, or something was written
                reload.append(t)
            elif end > e.end and len(e) != c:  # the store may hold bars past the loaded range
                tails.append(t)
        fresh: dict[int, _Entry] = {}
        if reload:
            self.queries += 1
            lo = min([start] + [entries[t].start for t in reload if entries[t] is not None])
            hi = max([end] + [entries[t].end for t in reload if entries[t] is not None])
            fresh.update(_entries(self._repo.frames(reload, interval, lo, hi), reload, lo, hi, counts))
        if tails:
            since = min(entries[t].end for t in tails)
            self.queries += 1
            got = _entries(self._repo.frames(tails, interval, since, end), tails, since, end, counts)
            for t in tails:
                e, tail = entries[t], got[t]
                keep = tail.ts > _ns(e.end)
                fresh[t] = _merge(e, _Entry(tail.ts[keep], {c: v[keep] for c, v in tail.values.items()},
                                            e.start, end, e.stored), end)
        with self._lock:
            for t in tokens:
                e = fresh[t] if t in fresh else entries[t]
                if t not in fresh and end > e.end:
                    e.end = end  # the cache holds every stored bar and none was added
                self._entries[(t, interval)] = e
                entries[t] = e
            if len(self._entries) > self._max:
                for key in list(self._entries)[: len(self._entries) - self._max]:
                    del self._entries[key]
        return entries
