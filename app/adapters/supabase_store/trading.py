"""The paper desk's atomic fill through the Data API: ``rpc('desk_apply_fill', …)``.

``SupabaseFills.apply_fill`` has the contract of ``TradingStore.apply_fill``: one fill, its
ledger entries and the position change (and the order's new state, an audit row) are stored
in ONE transaction, exactly once. The Postgres function locks the position row and refuses
(``conflict``) when it changed since this process read it; the fill is then re-booked from the
fresh position and sent again. Rows are the same dicts ``TradingStore`` uses (``Decimal``
money, tz-aware UTC times, ``date`` days).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from postgrest.exceptions import APIError
from sqlalchemy import Date, Numeric, Table
from supabase import Client

from app.adapters.store.schema import UtcDateTime
from app.adapters.supabase_store.client import DESK_OWNER, StoreUnavailable, explain, jsonable, parse_date, parse_ts
from app.adapters.trading_store import schema as t

Row = dict[str, Any]
#: Re-book attempts when another matcher moved the position between read and write.
MAX_ATTEMPTS = 5


def from_api(table: Table, row: Mapping[str, Any]) -> Row:
    """A Data API row as ``TradingStore`` returns it (``Decimal``, UTC datetimes, dates)."""
    out: Row = {}
    for col in table.columns:
        v = row.get(col.name)
        if v is not None:
            if isinstance(col.type, UtcDateTime):
                v = parse_ts(v)
            elif isinstance(col.type, Date):
                v = parse_date(v)
            elif isinstance(col.type, Numeric) and col.type.asdecimal:
                v = Decimal(str(v))
        out[col.name] = v
    return out


class SupabaseFills:
    """Fills, ledger and positions of the paper desk on Supabase: ``owner``'s (``key_owner``)."""

    def __init__(self, client: Client, url: str, owner: str = DESK_OWNER) -> None:
        self._c, self._url, self._owner = client, url, owner

    def position(self, instrument_token: int, product: str) -> Row | None:
        try:
            rows = (self._c.table("trading_positions").select("*").eq("owner", self._owner)
                    .eq("instrument_token", int(instrument_token))
                    .eq("product", product).limit(1).execute().data)
        except Exception as exc:
            raise explain(exc, self._url, "position") from exc
        return from_api(t.positions, rows[0]) if rows else None

    def apply_fill(
        self,
        fill: Row,
        *,
        order_values: Row | None,
        order_expect: Mapping[str, Any] | None,
        book: Callable[[Row | None], tuple[Row, list[Row], Decimal]],
        audit: Row | None = None,
    ) -> bool:
        """Store ``fill`` with its ledger entries and position (see ``TradingStore.apply_fill``).

        True when stored now; False (nothing written) when the fill was already stored or the
        order no longer matches ``order_expect``. Raises ``StoreUnavailable`` if the position
        kept changing under it ``MAX_ATTEMPTS`` times or the Data API failed (nothing written).
        """
        for _ in range(MAX_ATTEMPTS):
            current = self.position(fill["instrument_token"], fill["product"])
            position, entries, realized = book(current)
            params = {
                "p_fill": jsonable({**fill, "realized": realized}),
                "p_ledger": jsonable(list(entries)),
                "p_position": jsonable(position),
                "p_expect_position": jsonable(current),
                "p_order_values": jsonable(order_values) if order_values is not None else None,
                "p_order_expect": jsonable(dict(order_expect or {})) if order_values is not None else None,
                "p_audit": jsonable(audit) if audit is not None else None,
            }
            try:
                outcome = self._c.rpc("desk_apply_fill", params).execute().data
            except APIError as exc:
                if str(exc.code) == "23505":  # a concurrent caller stored the same fill/entry first
                    return False
                raise explain(exc, self._url, "apply fill") from exc
            except Exception as exc:
                raise explain(exc, self._url, "apply fill") from exc
            if outcome == "applied":
                return True
            if outcome == "duplicate":
                return False
        raise StoreUnavailable(f"fill {fill['fill_id']}: the position kept changing during {MAX_ATTEMPTS} attempts; "
                               "nothing was written, retry the fill")
