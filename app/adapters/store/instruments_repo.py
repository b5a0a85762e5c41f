"""Instruments master (Kite's ``GET /instruments``) in SQL."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine, RowMapping

from app.adapters.store.schema import instruments as t
from core.errors import ValidationError
from core.models import Instrument

if TYPE_CHECKING:  # pragma: no cover - pandas is imported by frame() only
    import pandas as pd

_COLUMNS = [
    "instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry",
    "strike", "tick_size", "lot_size", "instrument_type", "segment", "exchange",
]
_CHUNK = 2000


def _decimal(value: Any) -> Decimal:
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return Decimal(0)
    return Decimal(str(value)).normalize() if not isinstance(value, Decimal) else value.normalize()


def _is_nat(value: Any) -> bool:
    """``value is pandas.NaT`` without importing pandas (a NaT exists only once pandas is loaded)."""
    pd = sys.modules.get("pandas")
    return pd is not None and value is pd.NaT


def _expiry(value: Any) -> date | None:
    if value is None or value == "" or (isinstance(value, float) and value != value) or _is_nat(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _row(item: Instrument | Mapping[str, Any], dump_date: date) -> dict[str, Any]:
    if isinstance(item, Instrument):
        get = lambda k: getattr(item, k)  # noqa: E731
    else:
        get = item.get
    try:
        token = int(get("instrument_token"))
        symbol = str(get("tradingsymbol")).strip()
        exchange = str(get("exchange")).strip().upper()
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"instrument row needs instrument_token, tradingsymbol, exchange: {exc}") from exc
    if not symbol or not exchange:
        raise ValidationError(f"instrument row {token} has an empty tradingsymbol or exchange")
    name = get("name")
    return {
        "instrument_token": token,
        "exchange_token": int(get("exchange_token") or 0),
        "tradingsymbol": symbol,
        "name": "" if name is None or (isinstance(name, float) and name != name) else str(name),
        "exchange": exchange,
        "segment": str(get("segment") or ""),
        "instrument_type": str(get("instrument_type") or ""),
        "tick_size": _decimal(get("tick_size")),
        "lot_size": int(get("lot_size") or 0),
        "expiry": _expiry(get("expiry")),
        "strike": _decimal(get("strike")),
        "last_price": float(get("last_price") or 0.0),
        "dump_date": dump_date,
    }


def to_instrument(row: RowMapping) -> Instrument:
    return Instrument(
        instrument_token=int(row["instrument_token"]),
        exchange_token=int(row["exchange_token"]),
        tradingsymbol=row["tradingsymbol"],
        name=row["name"],
        exchange=row["exchange"],
        segment=row["segment"],
        instrument_type=row["instrument_type"],
        tick_size=Decimal(row["tick_size"]).normalize(),
        lot_size=int(row["lot_size"]),
        expiry=row["expiry"],
        strike=Decimal(row["strike"]).normalize(),
        last_price=float(row["last_price"]),
    )


class SqlInstrumentRepository:
    """Kite's instruments master: one dump at a time, replaced atomically."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def replace_dump(self, rows: Iterable[Instrument | Mapping[str, Any]], dump_date: date) -> int:
        """Replace the whole master with ``rows`` (``Instrument``s or dicts with Kite's column
        names, e.g. ``KiteConnect.instruments()`` output) in one transaction.

        Returns the number of rows stored. Raises ``ValidationError`` for a row without a
        token/symbol/exchange or a duplicate token; the old master is then left untouched.
        """
        values = [_row(r, dump_date) for r in rows]
        tokens = {v["instrument_token"] for v in values}
        if len(tokens) != len(values):
            raise ValidationError("instrument rows repeat an instrument_token; pass each instrument once")
        with self._engine.begin() as conn:
            conn.execute(delete(t))
            for i in range(0, len(values), _CHUNK):
                conn.execute(insert(t), values[i : i + _CHUNK])
        return len(values)

    def get(self, instrument_token: int) -> Instrument | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.instrument_token == int(instrument_token))).mappings().first()
        return to_instrument(row) if row else None

    def by_key(self, key: str) -> Instrument | None:
        """Look up ``"EXCHANGE:TRADINGSYMBOL"`` (exchange case-insensitive, symbol exact)."""
        if ":" not in key:
            raise ValidationError(f"instrument key {key!r} must look like 'NSE:INFY'")
        exchange, symbol = key.split(":", 1)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t).where(t.c.exchange == exchange.strip().upper(), t.c.tradingsymbol == symbol.strip())
            ).mappings().first()
        return to_instrument(row) if row else None

    def search(self, prefix: str, limit: int = 20) -> list[Instrument]:
        """Instruments whose tradingsymbol starts with ``prefix`` (case-insensitive), by symbol."""
        escaped = prefix.strip().upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(func.upper(t.c.tradingsymbol).like(escaped + "%", escape="\\"))
                .order_by(t.c.tradingsymbol, t.c.exchange)
                .limit(limit)
            ).mappings().all()
        return [to_instrument(r) for r in rows]

    def all(self) -> list[Instrument]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.instrument_token)).mappings().all()
        return [to_instrument(r) for r in rows]

    def frame(self) -> pd.DataFrame:
        """The whole master, one row per instrument, Kite's columns plus ``dump_date``.

        Index: ``RangeIndex``. ``instrument_token``/``exchange_token``/``lot_size`` int64,
        ``last_price`` float64, ``tick_size``/``strike`` float64 rupees (analytics only; use
        ``get`` for exact ``Decimal``), ``expiry`` object (``date`` or ``None``).
        """
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.instrument_token)).mappings().all()
        import pandas as pd

        df = pd.DataFrame([dict(r) for r in rows], columns=[*_COLUMNS, "dump_date"])
        for col in ("instrument_token", "exchange_token", "lot_size"):
            df[col] = df[col].astype("int64")
        for col in ("last_price", "tick_size", "strike"):
            df[col] = df[col].astype("float64")
        return df

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t)).scalar_one())

    def dump_date(self) -> date | None:
        with self._engine.connect() as conn:
            return conn.execute(select(func.max(t.c.dump_date))).scalar_one()
