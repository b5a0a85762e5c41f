"""1-minute OHLCV bars built from live ticks, vectorised per frame (pure: time comes in as data).

Rules (the same in :class:`MinuteBarBuilder` and the per-tick :class:`ReferenceBarBuilder`):

* **Buckets.** A tick at unix second ``t`` (its ``exchange_timestamp``; the caller falls back to
  the receive time for packets without one) belongs to the minute ``t // 60``. IST is UTC+05:30,
  a whole number of minutes, so these buckets are exactly the IST minutes (09:15:00–09:15:59 IST
  …). A bar's ``ts`` is its minute's open, tz-aware UTC; ``interval`` is ``"minute"``.
* **Prices.** open/high/low/close are the first/max/min/last LTP of the minute (rupees).
* **Volume** (shares) comes from the day-cumulative ``volume_traded``: each tick adds
  ``max(cum - baseline, 0)`` and the baseline becomes ``max(baseline, cum)``, so volume is never
  negative and an out-of-order lower ``cum`` adds nothing. **First tick of an instrument's IST
  day** (first seen, or a new date): if it falls in or before the session's opening minute
  (``session_open``, default 09:15 IST) the baseline is 0, so the day's volume so far (pre-open
  included) lands in that first bar; if it falls later (we joined mid-session) the baseline is
  that tick's ``cum`` and that first bar is *partial* (we missed part of its minute): it is
  **not emitted**. Bars after it are exact.
* **Closing.** A bar closes when a tick of a later minute arrives for that instrument, or by
  :meth:`MinuteBarBuilder.flush` once ``now >= bar end + grace_seconds`` (default 3 s, for a quiet
  instrument; the grace lets ticks stamped inside the minute arrive late). A tick older than the
  instrument's open bar, or for a minute already flushed, is *late*: it is ignored (counted in
  ``late_ticks``) and, because its ``cum`` is not taken as baseline, its volume is carried into the
  next bar, so the day's total is kept.
* **Session restart.** A tick more than ``reset_minutes`` (default 30) *before* the instrument's
  open bar is not late but a restarted session (a replay looping over its day): the open bar is
  closed (emitted unless partial) and the tick starts afresh, as on a new day.
* ``oi`` of a bar is the last tick's ``oi``.

``update``/``flush`` return the bars they closed, sorted by ``(ts, instrument_token)``. The
builder is causal: the bars closed after the first k ticks are the first bars the same builder
closes on the whole stream (``tests/core/test_bars.py`` checks this and exactness).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

import numpy as np

from core.errors import ValidationError
from core.models import Bar
from core.sessions import NORMAL_OPEN
from core.timeutil import require_aware

IST_OFFSET_S = 19_800  # +05:30
INTERVAL = "minute"
DEFAULT_GRACE_S = 3.0
DEFAULT_RESET_MIN = 30


def _open_minute_of_day(session_open: time) -> int:
    return session_open.hour * 60 + session_open.minute


def _bar(token: int, bucket: int, o: float, h: float, low: float, c: float, v: int, oi: int) -> Bar:
    return Bar(token, INTERVAL, datetime.fromtimestamp(bucket * 60, UTC), o, h, low, c, v, oi)


def _sorted(bars: list[Bar]) -> list[Bar]:
    bars.sort(key=lambda b: (b.ts, b.instrument_token))
    return bars


def _as_int64(name: str, values, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise ValidationError(f"{name} must be a 1-D array of length {n} (got shape {arr.shape})")
    return arr.astype(np.int64, copy=False)


@dataclass
class _State:
    """Per-instrument columns, indexed by row."""

    cap: int

    def __post_init__(self) -> None:
        c = self.cap
        self.bucket = np.full(c, -1, dtype=np.int64)
        self.day = np.full(c, -1, dtype=np.int64)
        self.is_open = np.zeros(c, dtype=bool)
        self.partial = np.zeros(c, dtype=bool)
        self.o = np.zeros(c)
        self.h = np.zeros(c)
        self.lo = np.zeros(c)
        self.c = np.zeros(c)
        self.vol = np.zeros(c, dtype=np.int64)
        self.oi = np.zeros(c, dtype=np.int64)
        self.last_cum = np.full(c, -1, dtype=np.int64)
        self.token = np.zeros(c, dtype=np.int64)

    def grow(self, need: int) -> None:
        if need <= self.cap:
            return
        new = max(need, 2 * self.cap)
        for name, fill in (("bucket", -1), ("day", -1), ("is_open", False), ("partial", False), ("o", 0),
                           ("h", 0), ("lo", 0), ("c", 0), ("vol", 0), ("oi", 0), ("last_cum", -1), ("token", 0)):
            old = getattr(self, name)
            arr = np.full(new, fill, dtype=old.dtype)
            arr[: self.cap] = old
            setattr(self, name, arr)
        self.cap = new


class MinuteBarBuilder:
    """Vectorised 1-minute bar builder for many instruments (rules in the module docstring).

    ``session_open``: IST time of the session's first minute (09:15; a special session passes
    its own). ``grace_seconds``: how long after a minute ends :meth:`flush` waits. Raises
    ``ValidationError`` for a negative grace.
    """

    def __init__(self, *, session_open: time = NORMAL_OPEN, grace_seconds: float = DEFAULT_GRACE_S,
                 reset_minutes: int = DEFAULT_RESET_MIN) -> None:
        if grace_seconds < 0:
            raise ValidationError(f"grace_seconds must be >= 0 (got {grace_seconds})")
        if reset_minutes < 1:
            raise ValidationError(f"reset_minutes must be >= 1 (got {reset_minutes})")
        self.reset_minutes = int(reset_minutes)
        self.session_open = session_open
        self.grace_seconds = float(grace_seconds)
        self._open_min = _open_minute_of_day(session_open)
        self._s = _State(64)
        self._n = 0
        self._keys = np.zeros(0, dtype=np.int64)  # sorted tokens
        self._key_rows = np.zeros(0, dtype=np.int64)
        self.late_ticks = 0

    # ------------------------------------------------------------------ token → row
    def _rows(self, tokens: np.ndarray) -> np.ndarray:
        keys = self._keys
        pos = np.searchsorted(keys, tokens)
        pos_c = np.minimum(pos, max(keys.shape[0] - 1, 0))
        found = (pos < keys.shape[0]) & (keys[pos_c] == tokens) if keys.shape[0] else np.zeros(tokens.shape, bool)
        if not found.all():
            new = np.unique(tokens[~found])
            rows_new = np.arange(self._n, self._n + new.shape[0], dtype=np.int64)
            self._s.grow(self._n + new.shape[0])
            self._s.token[rows_new] = new
            self._n += new.shape[0]
            all_keys = np.concatenate([keys, new])
            all_rows = np.concatenate([self._key_rows, rows_new])
            order = np.argsort(all_keys, kind="stable")
            self._keys, self._key_rows = all_keys[order], all_rows[order]
            keys = self._keys
            pos = np.searchsorted(keys, tokens)
        return self._key_rows[pos]

    # ------------------------------------------------------------------ public API
    def update(self, tokens, prices, cum_volumes, timestamps, oi=None) -> list[Bar]:
        """Add one frame of ticks (in arrival order); return the bars this closed.

        Arrays of equal length ``n``: ``tokens`` instrument tokens, ``prices`` LTP rupees,
        ``cum_volumes`` day-cumulative shares (``volume_traded``; 0 for indices),
        ``timestamps`` unix seconds UTC, ``oi`` optional. A token may repeat within a frame.
        Raises ``ValidationError`` for mismatched shapes.
        """
        tok = _as_int64("tokens", tokens)
        n = tok.shape[0]
        px = np.asarray(prices, dtype=np.float64)
        if px.shape != (n,):
            raise ValidationError(f"prices must have length {n} (got shape {px.shape})")
        cum = _as_int64("cum_volumes", cum_volumes, n)
        ts = _as_int64("timestamps", timestamps, n)
        ois = np.zeros(n, dtype=np.int64) if oi is None else _as_int64("oi", oi, n)
        if n == 0:
            return []
        rows = self._rows(tok)
        closed: list[Bar] = []
        if np.unique(rows).shape[0] == n:
            self._step(rows, px, cum, ts, ois, closed)
        else:  # a token repeats: process its k-th occurrence in round k (keeps per-token order)
            order = np.argsort(rows, kind="stable")
            srt = rows[order]
            starts = np.r_[0, np.flatnonzero(srt[1:] != srt[:-1]) + 1]
            group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n) - group_start
            for r in range(int(rank.max()) + 1):
                m = rank == r
                self._step(rows[m], px[m], cum[m], ts[m], ois[m], closed)
        return _sorted(closed)

    def _step(self, rows, px, cum, ts, ois, closed: list[Bar]) -> None:
        s = self._s
        b = ts // 60
        d = (ts + IST_OFFSET_S) // 86_400
        cur = s.bucket[rows]
        known = cur >= 0
        reset = known & (b < cur - self.reset_minutes)
        late = known & ~reset & ((b < cur) | ((b == cur) & ~s.is_open[rows]))
        if late.any():
            self.late_ticks += int(late.sum())
            keep = ~late
            rows, px, cum, ts, ois, b, d, cur, known, reset = (
                rows[keep], px[keep], cum[keep], ts[keep], ois[keep], b[keep], d[keep], cur[keep], known[keep],
                reset[keep])
        newbar = ~known | (b > cur) | reset
        emit = newbar & known & s.is_open[rows] & ~s.partial[rows]
        if emit.any():
            self._emit(rows[emit], closed)
        newday = ~known | (d != s.day[rows]) | reset
        minute_of_day = ((ts + IST_OFFSET_S) % 86_400) // 60
        from_open = newday & (minute_of_day <= self._open_min)
        prev = np.where(newday, np.where(from_open, 0, cum), s.last_cum[rows])
        delta = np.maximum(cum - prev, 0)
        s.last_cum[rows] = np.maximum(prev, cum)
        # new bars
        nr = rows[newbar]
        p_new = px[newbar]
        s.o[nr] = p_new
        s.h[nr] = p_new
        s.lo[nr] = p_new
        s.vol[nr] = delta[newbar]
        s.bucket[nr] = b[newbar]
        s.is_open[nr] = True
        s.partial[nr] = (newday & ~from_open)[newbar]
        s.day[nr] = d[newbar]
        # ticks inside the open bar
        same = ~newbar
        if same.any():
            sr = rows[same]
            p_same = px[same]
            s.h[sr] = np.maximum(s.h[sr], p_same)
            s.lo[sr] = np.minimum(s.lo[sr], p_same)
            s.vol[sr] += delta[same]
        s.c[rows] = px
        s.oi[rows] = ois

    def _emit(self, rows: np.ndarray, closed: list[Bar]) -> None:
        s = self._s
        buckets = s.bucket[rows]
        when = {int(u): datetime.fromtimestamp(int(u) * 60, UTC) for u in np.unique(buckets)}
        closed.extend(
            Bar(tok, INTERVAL, when[bk], o, h, low, c, v, oi)
            for tok, bk, o, h, low, c, v, oi in zip(
                s.token[rows].tolist(), buckets.tolist(), s.o[rows].tolist(), s.h[rows].tolist(),
                s.lo[rows].tolist(), s.c[rows].tolist(), s.vol[rows].tolist(), s.oi[rows].tolist(), strict=True)
        )

    def flush(self, now: datetime) -> list[Bar]:
        """Close every open bar whose minute ended at least ``grace_seconds`` before ``now``.

        ``now`` is tz-aware, on the ticks' clock (market time). Partial bars are closed without
        being emitted. Returns the emitted bars sorted by ``(ts, instrument_token)``. Raises
        ``ValidationError`` for a naive ``now``.
        """
        now_s = require_aware(now, "now").timestamp()
        s = self._s
        n = self._n
        due = s.is_open[:n] & ((s.bucket[:n] + 1) * 60 + self.grace_seconds <= now_s)
        rows = np.flatnonzero(due)
        closed: list[Bar] = []
        if rows.shape[0]:
            self._emit(rows[~s.partial[rows]], closed)
            s.is_open[rows] = False
        return _sorted(closed)

    def open_bars(self) -> list[Bar]:
        """The bars still forming (partial ones included), sorted by ``(ts, instrument_token)``."""
        rows = np.flatnonzero(self._s.is_open[: self._n])
        out: list[Bar] = []
        self._emit(rows, out)
        return _sorted(out)

    @property
    def instruments(self) -> int:
        """How many instruments the builder has seen."""
        return self._n


class ReferenceBarBuilder:
    """Per-tick, plain-Python version of :class:`MinuteBarBuilder` (the tests' oracle)."""

    def __init__(self, *, session_open: time = NORMAL_OPEN, grace_seconds: float = DEFAULT_GRACE_S,
                 reset_minutes: int = DEFAULT_RESET_MIN) -> None:
        self._open_min = _open_minute_of_day(session_open)
        self.reset_minutes = reset_minutes
        self.grace_seconds = grace_seconds
        self._st: dict[int, dict] = {}
        self.late_ticks = 0

    def add(self, token: int, price: float, cum: int, ts: int, oi: int = 0) -> list[Bar]:
        """One tick; returns the bar it closed (0 or 1 bars)."""
        st = self._st.get(token)
        b, d = ts // 60, (ts + IST_OFFSET_S) // 86_400
        reset = st is not None and b < st["bucket"] - self.reset_minutes
        if st is not None and not reset and (b < st["bucket"] or (b == st["bucket"] and not st["open"])):
            self.late_ticks += 1
            return []
        out: list[Bar] = []
        new_bar = st is None or b > st["bucket"] or reset
        if new_bar and st is not None and st["open"] and not st["partial"]:
            out.append(_bar(token, st["bucket"], st["o"], st["h"], st["l"], st["c"], st["v"], st["oi"]))
        new_day = st is None or d != st["day"] or reset
        from_open = new_day and ((ts + IST_OFFSET_S) % 86_400) // 60 <= self._open_min
        prev = (0 if from_open else cum) if new_day else st["cum"]
        delta = max(cum - prev, 0)
        cum_base = max(prev, cum)
        if new_bar:
            st = {"bucket": b, "day": d, "o": price, "h": price, "l": price, "v": delta, "open": True,
                  "partial": new_day and not from_open}
            self._st[token] = st
        else:
            st["h"] = max(st["h"], price)
            st["l"] = min(st["l"], price)
            st["v"] += delta
        st.update(c=price, oi=oi, cum=cum_base)
        return out

    def flush(self, now_s: float) -> list[Bar]:
        """Close bars whose minute ended ``grace_seconds`` before ``now_s`` (unix seconds)."""
        out = []
        for token, st in self._st.items():
            if st["open"] and (st["bucket"] + 1) * 60 + self.grace_seconds <= now_s:
                st["open"] = False
                if not st["partial"]:
                    out.append(_bar(token, st["bucket"], st["o"], st["h"], st["l"], st["c"], st["v"], st["oi"]))
        return _sorted(out)
