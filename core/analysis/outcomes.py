"""Score a verdict against what the price did afterwards, and tabulate hit rates.

Rules (pessimistic, like the paper broker):

* buy/sell with levels: walk the 1-minute bars after the analysis. The first bar that
  reaches the stop (buy: low <= stop; sell: high >= stop) is a **miss**; the first that
  reaches the target first is a **hit**; a bar that reaches both counts as the stop (miss).
  If neither is reached by the horizon's end, the verdict is a hit when the last close moved
  in its direction from the entry, else a miss.
* hold/avoid: at the horizon's end, a **hit** when the close is within ``flat_pct`` % of the
  reference price (staying out / not adding was right), else a miss.
* Before the horizon ends and with no level reached: **pending**.

Horizons: ``intraday`` ends at 15:30 IST that day; ``swing`` 5 calendar days later at 15:30;
``positional`` 20 calendar days later at 15:30.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pandas as pd

from core.errors import ValidationError
from core.timeutil import IST, require_aware

_CLOSE = time(15, 30)
_HORIZON_DAYS = {"intraday": 0, "swing": 5, "positional": 20}
BANDS: tuple[tuple[float, float, str], ...] = ((0.0, 0.5, "0.00-0.49"), (0.5, 0.7, "0.50-0.69"),
                                               (0.7, 1.01, "0.70-1.00"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """``status`` ``hit``/``miss``/``pending``; ``return_pct`` the move in the verdict's favour
    (percent of the reference price, ``None`` while pending); ``resolved_at`` IST."""

    status: str
    detail: str
    return_pct: float | None = None
    resolved_at: datetime | None = None


def horizon_end(at: datetime, time_horizon: str) -> datetime:
    """When a verdict made at ``at`` with ``time_horizon`` is judged (IST)."""
    if time_horizon not in _HORIZON_DAYS:
        raise ValidationError(f"time_horizon must be one of {', '.join(_HORIZON_DAYS)}, was {time_horizon!r}")
    day = require_aware(at, "at").astimezone(IST).date() + timedelta(days=_HORIZON_DAYS[time_horizon])
    return datetime.combine(day, _CLOSE, IST)


def score_outcome(verdict: str, reference: float, *, at: datetime, time_horizon: str, later: pd.DataFrame,
                  now: datetime, stop: float | None = None, target: float | None = None,
                  flat_pct: float = 0.5) -> Outcome:
    """Score one verdict. ``later``: 1-minute bars (tz-aware open-time index, ``high low close``)
    from ``at`` on; only bars closed by ``min(now, horizon end)`` are read (no look-ahead).
    ``reference`` is the entry (buy/sell) or the LTP at the analysis (hold/avoid), ₹."""
    end = horizon_end(at, time_horizon)
    cutoff = min(require_aware(now, "now"), end)
    bars = later.sort_index()
    bars = bars[(bars.index >= pd.Timestamp(at)) & (bars.index + pd.Timedelta(minutes=1) <= pd.Timestamp(cutoff))]
    over = now >= end
    sign = 1 if verdict == "buy" else -1
    if verdict in ("buy", "sell") and stop is not None and target is not None:
        for ts, row in zip(bars.index, bars.itertuples(index=False)):
            hit_stop = row.low <= stop if verdict == "buy" else row.high >= stop
            hit_target = row.high >= target if verdict == "buy" else row.low <= target
            when = ts.to_pydatetime().astimezone(IST)
            if hit_stop:
                both = " (target touched in the same minute; counted as the stop)" if hit_target else ""
                return Outcome("miss", f"stop ₹{stop:,.2f} reached at {when:%d %b %H:%M}{both}",
                               round(sign * (stop - reference) * 100 / reference, 2), when)
            if hit_target:
                return Outcome("hit", f"target ₹{target:,.2f} reached at {when:%d %b %H:%M}",
                               round(sign * (target - reference) * 100 / reference, 2), when)
    if not over:
        return Outcome("pending", f"judged at {end:%d %b %H:%M} IST unless a level is reached first")
    if bars.empty:
        return Outcome("pending", "no price data after the analysis yet")
    last = float(bars["close"].iloc[-1])
    move = (last - reference) * 100 / reference
    if verdict in ("buy", "sell"):
        ret = round(sign * move, 2)
        return Outcome("hit" if ret > 0 else "miss", f"horizon ended at close ₹{last:,.2f} ({ret:+.2f}% in favour)",
                       ret, end)
    status = "hit" if abs(move) < flat_pct else "miss"
    return Outcome(status, f"horizon ended at ₹{last:,.2f}, {move:+.2f}% from ₹{reference:,.2f} "
                           f"({'within' if status == 'hit' else 'beyond'} ±{flat_pct}%)", round(-abs(move), 2), end)


def confidence_band(confidence: float) -> str:
    """The band label of a 0–1 confidence."""
    for lo, hi, label in BANDS:
        if lo <= confidence < hi:
            return label
    raise ValidationError(f"confidence must be within 0..1, was {confidence}")


def hit_rate_table(rows: Iterable[tuple[str, float, str]]) -> pd.DataFrame:
    """Hit rates per (verdict, confidence band) from ``(verdict, confidence, status)`` rows.

    Returns columns ``verdict band scored hits misses pending hit_rate`` (``hit_rate`` a
    float 0–1 over scored rows, NaN when none is scored), sorted by verdict then band.
    """
    counts: dict[tuple[str, str], list[int]] = {}
    for verdict, confidence, status in rows:
        c = counts.setdefault((verdict, confidence_band(confidence)), [0, 0, 0])
        c[{"hit": 0, "miss": 1}.get(status, 2)] += 1
    out = [{"verdict": v, "band": b, "scored": h + m, "hits": h, "misses": m, "pending": p,
            "hit_rate": (h / (h + m)) if h + m else float("nan")} for (v, b), (h, m, p) in sorted(counts.items())]
    return pd.DataFrame(out, columns=["verdict", "band", "scored", "hits", "misses", "pending", "hit_rate"])
