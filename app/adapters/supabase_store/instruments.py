"""Instruments master through the Supabase Data API (same behaviour as ``SqlInstrumentRepository``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from supabase import Client

from app.adapters.store.instruments_repo import _COLUMNS, _row
from app.adapters.supabase_store.client import jsonable, paged, parse_date, run
from core.errors import ValidationError
from core.models import Instrument

_T = "instruments"
_SELECT = ",".join([*_COLUMNS, "dump_date"])


def _instrument(row: Mapping[str, Any]) -> Instrument:
    return Instrument(
        instrument_token=int(row["instrument_token"]),
        exchange_token=int(row["exchange_token"]),
        tradingsymbol=row["tradingsymbol"],
        name=row["name"],
        exchange=row["exchange"],
        segment=row["segment"],
        instrument_type=row["instrument_type"],
        tick_size=Decimal(str(row["tick_size"])).normalize(),
        lot_size=int(row["lot_size"]),
        expiry=parse_date(row["expiry"]),
        strike=Decimal(str(row["strike"])).normalize(),
        last_price=float(row["last_price"]),
    )


class SupabaseInstrumentRepository:
    """Kite's instruments master in the ``instruments`` table; the dump is replaced atomically
    by the ``desk_replace_instruments`` Postgres function (one ``rpc`` call, one transaction)."""

    def __init__(self, client: Client, url: str) -> None:
        self._c, self._url = client, url

    def replace_dump(self, rows: Iterable[Instrument | Mapping[str, Any]], dump_date: date) -> int:
        """Replace the whole master with ``rows``; see ``SqlInstrumentRepository.replace_dump``."""
        values = [_row(r, dump_date) for r in rows]
        if len({v["instrument_token"] for v in values}) != len(values):
            raise ValidationError("instrument rows repeat an instrument_token; pass each instrument once")
        params = {"p_rows": [jsonable(v) for v in values], "p_dump_date": dump_date.isoformat()}
        return int(run(self._url, "replace instruments",
                       lambda: self._c.rpc("desk_replace_instruments", params).execute().data))

    def get(self, instrument_token: int) -> Instrument | None:
        rows = run(self._url, "instrument", lambda: self._c.table(_T).select(_SELECT)
                   .eq("instrument_token", int(instrument_token)).limit(1).execute().data)
        return _instrument(rows[0]) if rows else None

    def by_key(self, key: str) -> Instrument | None:
        """Look up ``"EXCHANGE:TRADINGSYMBOL"`` (exchange case-insensitive, symbol exact)."""
        if ":" not in key:
            raise ValidationError(f"instrument key {key!r} must look like 'NSE:INFY'")
        exchange, symbol = key.split(":", 1)
        rows = run(self._url, "instrument by key", lambda: self._c.table(_T).select(_SELECT)
                   .eq("exchange", exchange.strip().upper()).eq("tradingsymbol", symbol.strip())
                   .limit(1).execute().data)
        return _instrument(rows[0]) if rows else None

    def search(self, prefix: str, limit: int = 20) -> list[Instrument]:
        """Instruments whose tradingsymbol starts with ``prefix`` (case-insensitive), by symbol."""
        escaped = prefix.strip().upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = run(self._url, "instrument search", lambda: self._c.table(_T).select(_SELECT)
                   .ilike("tradingsymbol", escaped + "%").order("tradingsymbol").order("exchange")
                   .limit(limit).execute().data)
        return [_instrument(r) for r in rows]

    def _rows(self) -> list[dict[str, Any]]:
        return list(paged(self._url, "instruments", lambda: self._c.table(_T).select(_SELECT)
                          .order("instrument_token")))

    def all(self) -> list[Instrument]:
        return [_instrument(r) for r in self._rows()]

    def frame(self) -> pd.DataFrame:
        """The whole master; same columns and dtypes as ``SqlInstrumentRepository.frame``."""
        rows = self._rows()
        for r in rows:
            r["expiry"] = parse_date(r["expiry"])
            r["dump_date"] = parse_date(r["dump_date"])
        df = pd.DataFrame(rows, columns=[*_COLUMNS, "dump_date"])
        for col in ("instrument_token", "exchange_token", "lot_size"):
            df[col] = df[col].astype("int64")
        for col in ("last_price", "tick_size", "strike"):
            df[col] = df[col].astype("float64")
        return df

    def count(self) -> int:
        return int(run(self._url, "count instruments", lambda: self._c.table(_T)
                       .select("instrument_token", count="exact", head=True).execute().count) or 0)

    def dump_date(self) -> date | None:
        rows = run(self._url, "dump date", lambda: self._c.table(_T).select("dump_date")
                   .order("dump_date", desc=True).limit(1).execute().data)
        return parse_date(rows[0]["dump_date"]) if rows else None
