"""OHLCV bars in SQL, keyed by ``(instrument_token, interval, ts)``; ``ts`` is the bar's open, UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, and_, delete, func, insert, select, type_coerce
from sqlalchemy.engine import Engine

from app.adapters.store.schema import bar_coverage as cov
from app.adapters.store.schema import bars as t
from core.errors import ValidationError
from core.models import INTERVAL_MINUTES, Bar
from core.timeutil import IST, UTC, require_aware

if TYPE_CHECKING:  # pragma: no cover - pandas is imported by the frame reads only
    import pandas as pd

_PRICE_COLUMNS = ["open", "high", "low", "close"]
_CHUNK = 5000


def check_interval(interval: str) -> str:
    """Return ``interval`` if Kite knows it; else raise ``ValidationError`` listing the valid ones."""
    if interval not in INTERVAL_MINUTES:
        raise ValidationError(f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_MINUTES)}")
    return interval


def _upsert_statement(dialect: str):
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"bars upsert is not implemented for {dialect}")
    stmt = dialect_insert(t)
    return stmt.on_conflict_do_update(
        index_elements=[t.c.instrument_token, t.c.interval, t.c.ts],
        set_={c: stmt.excluded[c] for c in ("open", "high", "low", "close", "volume", "oi")},
    )


class SqlBarRepository:
    """Candles of every instrument and interval, plus the ranges already fetched from Kite."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._upsert = _upsert_statement(engine.dialect.name)

    def upsert(self, bars: Sequence[Bar]) -> int:
        """Insert ``bars``, overwriting any stored bar with the same key; return rows written.

        Idempotent: writing the same bars twice leaves the store as after the first write.
        Within ``bars`` a repeated key keeps the last one. Raises ``ValidationError`` for an
        unknown interval or a naive ``ts``; nothing is written then.
        """
        rows: dict[tuple[int, str, datetime], dict] = {}
        for b in bars:
            check_interval(b.interval)
            ts = require_aware(b.ts, "bar ts").astimezone(UTC)
            rows[(int(b.instrument_token), b.interval, ts)] = {
                "instrument_token": int(b.instrument_token), "interval": b.interval, "ts": ts,
                "open": float(b.open), "high": float(b.high), "low": float(b.low),
                "close": float(b.close), "volume": int(b.volume), "oi": int(b.oi or 0),
            }
        values = list(rows.values())
        if not values:
            return 0
        with self._engine.begin() as conn:
            for i in range(0, len(values), _CHUNK):
                conn.execute(self._upsert, values[i : i + _CHUNK])
        return len(values)

    def frame(self, instrument_token: int, interval: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Bars with ``start <= ts <= end`` (both tz-aware, inclusive).

        Returns a DataFrame indexed by ``ts`` (bar open, tz-aware ``Asia/Kolkata``, increasing)
        with float64 ``open high low close`` (rupees) and int64 ``volume`` (shares), ``oi``.
        Empty (same columns and dtypes) when nothing is stored. Raises ``ValidationError`` for an
        unknown interval, a naive time or ``start > end``.
        """
        check_interval(interval)
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if start > end:
            raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.c.ts, t.c.open, t.c.high, t.c.low, t.c.close, t.c.volume, t.c.oi)
                .where(t.c.instrument_token == int(instrument_token), t.c.interval == interval,
                       t.c.ts >= start, t.c.ts <= end)
                .order_by(t.c.ts)
            ).all()
        import pandas as pd

        index = pd.DatetimeIndex([r[0] for r in rows], name="ts")
        index = (index.tz_localize(UTC) if index.tz is None else index).tz_convert(IST)
        df = pd.DataFrame([r[1:] for r in rows], index=index,
                          columns=[*_PRICE_COLUMNS, "volume", "oi"])
        return df.astype({**{c: "float64" for c in _PRICE_COLUMNS}, "volume": "int64", "oi": "int64"})

    def latest_ts(self, instrument_token: int, interval: str) -> datetime | None:
        """Open time (UTC) of the newest stored bar, or ``None``."""
        check_interval(interval)
        with self._engine.connect() as conn:
            return conn.execute(
                select(t.c.ts).where(t.c.instrument_token == int(instrument_token), t.c.interval == interval)
                .order_by(t.c.ts.desc()).limit(1)
            ).scalar()

    def count(self, instrument_token: int | None = None, interval: str | None = None) -> int:
        """Stored bars, optionally of one instrument and/or interval."""
        q = select(func.count()).select_from(t)
        if instrument_token is not None:
            q = q.where(t.c.instrument_token == int(instrument_token))
        if interval is not None:
            q = q.where(t.c.interval == check_interval(interval))
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def coverage(self, instrument_token: int, interval: str) -> list[tuple[datetime, datetime]]:
        """Time ranges (UTC, inclusive) already fetched from the market, merged and sorted."""
        check_interval(interval)
        with self._engine.connect() as conn:
            spans = conn.execute(
                select(cov.c.start_ts, cov.c.end_ts)
                .where(cov.c.instrument_token == int(instrument_token), cov.c.interval == interval)
                .order_by(cov.c.start_ts)
            ).all()
        merged: list[tuple[datetime, datetime]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

    def add_coverage(self, instrument_token: int, interval: str, start: datetime, end: datetime) -> None:
        """Record that ``[start, end]`` was fetched completely (overlaps are merged on read)."""
        check_interval(interval)
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if start > end:
            raise ValidationError(f"coverage start {start.isoformat()} is after end {end.isoformat()}")
        with self._engine.begin() as conn:
            conn.execute(insert(cov).values(instrument_token=int(instrument_token), interval=interval,
                                            start_ts=start, end_ts=end))

    def delete(self, instrument_token: int, interval: str) -> int:
        """Forget every bar and coverage of one instrument and interval; return bars deleted."""
        check_interval(interval)
        with self._engine.begin() as conn:
            conn.execute(delete(cov).where(and_(cov.c.instrument_token == int(instrument_token),
                                                cov.c.interval == interval)))
            return conn.execute(delete(t).where(t.c.instrument_token == int(instrument_token),
                                                t.c.interval == interval)).rowcount

    def frames(self, instrument_tokens: Sequence[int], interval: str, start: datetime,
               end: datetime) -> pd.DataFrame:
        """Bars of many instruments with ``start <= ts <= end``, in one query per 500 tokens.

        Returns a long DataFrame: ``instrument_token`` (int64), ``ts`` (tz-aware IST bar open),
        float64 ``open high low close``, int64 ``volume``, ``oi``; sorted by token then ts.
        Raises ``ValidationError`` like :meth:`frame`.
        """
        check_interval(interval)
        start, end = require_aware(start, "start"), require_aware(end, "end")
        if start > end:
            raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
        tokens = sorted({int(x) for x in instrument_tokens})
        rows: list = []
        # SQLite keeps ts as ISO text: read the text and parse it vectorised (not row by row)
        ts_col = type_coerce(t.c.ts, String) if self._engine.dialect.name == "sqlite" else t.c.ts
        with self._engine.connect() as conn:
            for i in range(0, len(tokens), 500):
                rows += conn.execute(
                    select(t.c.instrument_token, ts_col, t.c.open, t.c.high, t.c.low, t.c.close, t.c.volume, t.c.oi)
                    .where(t.c.instrument_token.in_(tokens[i:i + 500]), t.c.interval == interval,
                           t.c.ts >= start, t.c.ts <= end)
                    .order_by(t.c.instrument_token, t.c.ts)
                ).all()
        return long_frame(rows)

    def counts(self, instrument_tokens: Sequence[int], interval: str) -> dict[int, int]:
        """Stored bars per instrument of ``interval`` (instruments with none are absent)."""
        check_interval(interval)
        tokens = sorted({int(x) for x in instrument_tokens})
        out: dict[int, int] = {}
        with self._engine.connect() as conn:
            for i in range(0, len(tokens), 500):
                out.update(conn.execute(
                    select(t.c.instrument_token, func.count())
                    .where(t.c.instrument_token.in_(tokens[i:i + 500]), t.c.interval == interval)
                    .group_by(t.c.instrument_token)).all())
        return {int(k): int(v) for k, v in out.items()}


LONG_COLUMNS = ["instrument_token", "ts", *_PRICE_COLUMNS, "volume", "oi"]


def long_frame(rows: Sequence[Sequence]) -> pd.DataFrame:
    """Rows ``(instrument_token, ts, open, high, low, close, volume, oi)`` as the long frame
    :meth:`SqlBarRepository.frames` documents (ts from naive UTC or any zone to IST)."""
    import pandas as pd

    df = pd.DataFrame([tuple(r) for r in rows], columns=LONG_COLUMNS)
    ts = (pd.to_datetime(df["ts"], utc=True, format="ISO8601") if len(df)
          else pd.Series(pd.DatetimeIndex([], tz=UTC)))
    df["ts"] = pd.DatetimeIndex(ts).tz_convert(IST)
    return df.astype({"instrument_token": "int64", **{c: "float64" for c in _PRICE_COLUMNS},
                      "volume": "int64", "oi": "int64"})
