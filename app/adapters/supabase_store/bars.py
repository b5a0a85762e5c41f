"""OHLCV bars through the Supabase Data API (same behaviour as ``SqlBarRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from supabase import Client

from app.adapters.store.bars_repo import check_interval, long_frame
from app.adapters.supabase_store.client import iso, paged, parse_ts, run
from core.errors import ValidationError
from core.models import Bar
from core.timeutil import IST, UTC, require_aware

_PRICE_COLUMNS = ["open", "high", "low", "close"]
_CHUNK = 1000


class SupabaseBarRepository:
    """Candles in ``bars`` (upsert on ``instrument_token,interval,ts``) and fetched ranges in
    ``bar_coverage``. Each upsert request is one statement; a batch larger than 1000 bars is
    sent in several, each idempotent, so a failure mid-way is repaired by sending it again."""

    def __init__(self, client: Client, url: str) -> None:
        self._c, self._url = client, url

    def upsert(self, bars: Sequence[Bar]) -> int:
        """Insert or overwrite on ``(instrument_token, interval, ts)``; return rows written."""
        rows: dict[tuple[int, str, datetime], dict] = {}
        for b in bars:
            check_interval(b.interval)
            ts = require_aware(b.ts, "bar ts").astimezone(UTC)
            rows[(int(b.instrument_token), b.interval, ts)] = {
                "instrument_token": int(b.instrument_token), "interval": b.interval, "ts": iso(ts),
                "open": float(b.open), "high": float(b.high), "low": float(b.low),
                "close": float(b.close), "volume": int(b.volume), "oi": int(b.oi or 0),
            }
        values = list(rows.values())
        for i in range(0, len(values), _CHUNK):
            chunk = values[i: i + _CHUNK]
            run(self._url, "upsert bars", lambda: self._c.table("bars").upsert(
                chunk, on_conflict="instrument_token,interval,ts", returning="minimal").execute())
        return len(values)

    def frame(self, instrument_token: int, interval: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Bars with ``start <= ts <= end``; same shape as ``SqlBarRepository.frame``."""
        check_interval(interval)
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if start > end:
            raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
        rows = list(paged(self._url, "bars", lambda: self._c.table("bars")
                          .select("ts,open,high,low,close,volume,oi")
                          .eq("instrument_token", int(instrument_token)).eq("interval", interval)
                          .gte("ts", iso(start)).lte("ts", iso(end)).order("ts")))
        index = pd.DatetimeIndex([parse_ts(r["ts"]) for r in rows], name="ts")
        index = (index.tz_localize(UTC) if index.tz is None else index).tz_convert(IST)
        df = pd.DataFrame([[r[c] for c in (*_PRICE_COLUMNS, "volume", "oi")] for r in rows], index=index,
                          columns=[*_PRICE_COLUMNS, "volume", "oi"])
        return df.astype({**{c: "float64" for c in _PRICE_COLUMNS}, "volume": "int64", "oi": "int64"})

    def frames(self, instrument_tokens: Sequence[int], interval: str, start: datetime,
               end: datetime) -> pd.DataFrame:
        """Bars of many instruments; same shape as ``SqlBarRepository.frames`` (100 tokens a request)."""
        check_interval(interval)
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if start > end:
            raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
        tokens = sorted({int(x) for x in instrument_tokens})
        rows: list = []
        for i in range(0, len(tokens), 100):
            chunk = tokens[i:i + 100]
            rows += [(r["instrument_token"], parse_ts(r["ts"]), r["open"], r["high"], r["low"], r["close"],
                      r["volume"], r["oi"]) for r in paged(self._url, "bars", lambda chunk=chunk: self._c.table("bars")
                      .select("instrument_token,ts,open,high,low,close,volume,oi")
                      .in_("instrument_token", chunk).eq("interval", interval)
                      .gte("ts", iso(start)).lte("ts", iso(end)).order("instrument_token").order("ts"))]
        return long_frame(rows)

    def counts(self, instrument_tokens: Sequence[int], interval: str) -> dict[int, int]:
        """Stored bars per instrument of ``interval`` (instruments with none are absent)."""
        out = {int(tok): self.count(int(tok), interval) for tok in set(instrument_tokens)}
        return {k: v for k, v in out.items() if v}

    def latest_ts(self, instrument_token: int, interval: str) -> datetime | None:
        check_interval(interval)
        rows = run(self._url, "latest bar", lambda: self._c.table("bars").select("ts")
                   .eq("instrument_token", int(instrument_token)).eq("interval", interval)
                   .order("ts", desc=True).limit(1).execute().data)
        return parse_ts(rows[0]["ts"]) if rows else None

    def count(self, instrument_token: int | None = None, interval: str | None = None) -> int:
        def q():
            b = self._c.table("bars").select("ts", count="exact", head=True)
            if instrument_token is not None:
                b = b.eq("instrument_token", int(instrument_token))
            if interval is not None:
                b = b.eq("interval", check_interval(interval))
            return b.execute().count
        return int(run(self._url, "count bars", q) or 0)

    def coverage(self, instrument_token: int, interval: str) -> list[tuple[datetime, datetime]]:
        """Time ranges (UTC, inclusive) already fetched from the market, merged and sorted."""
        check_interval(interval)
        spans = [(parse_ts(r["start_ts"]), parse_ts(r["end_ts"])) for r in paged(
            self._url, "coverage", lambda: self._c.table("bar_coverage").select("start_ts,end_ts")
            .eq("instrument_token", int(instrument_token)).eq("interval", interval).order("start_ts").order("id"))]
        merged: list[tuple[datetime, datetime]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

    def add_coverage(self, instrument_token: int, interval: str, start: datetime, end: datetime) -> None:
        check_interval(interval)
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if start > end:
            raise ValidationError(f"coverage start {start.isoformat()} is after end {end.isoformat()}")
        row = {"instrument_token": int(instrument_token), "interval": interval,
               "start_ts": iso(start), "end_ts": iso(end)}
        run(self._url, "add coverage",
            lambda: self._c.table("bar_coverage").insert(row, returning="minimal", default_to_null=False).execute())

    def delete(self, instrument_token: int, interval: str) -> int:
        """Forget every bar and coverage of one instrument and interval; return bars deleted."""
        check_interval(interval)
        run(self._url, "delete coverage", lambda: self._c.table("bar_coverage").delete(returning="minimal")
            .eq("instrument_token", int(instrument_token)).eq("interval", interval).execute())
        res = run(self._url, "delete bars", lambda: self._c.table("bars").delete(count="exact", returning="minimal")
                  .eq("instrument_token", int(instrument_token)).eq("interval", interval).execute())
        return int(res.count or 0)
