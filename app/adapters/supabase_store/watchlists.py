"""Named watchlists through the Supabase Data API (same behaviour as ``SqlWatchlistRepository``)."""

from __future__ import annotations

from collections.abc import Sequence

from supabase import Client

from app.adapters.store.watchlists_repo import _check_name
from app.adapters.supabase_store.client import DESK_OWNER, paged, run
from core.errors import ValidationError


class SupabaseWatchlistRepository:
    """``watchlists`` rows ``(name, position, instrument_key)`` plus ``watchlist_names``; a list is
    replaced atomically by the ``desk_replace_watchlist`` Postgres function. Only ``owner``'s rows
    (``key_owner`` of the store's key), so the backend's lists never merge with a user's."""

    def __init__(self, client: Client, url: str, owner: str = DESK_OWNER) -> None:
        self._c, self._url, self._owner = client, url, owner

    def _rows(self, table: str, cols: str):
        return self._c.table(table).select(cols).eq("owner", self._owner)

    def get(self, name: str) -> list[str]:
        name = _check_name(name)
        return [r["instrument_key"] for r in paged(self._url, "watchlist", lambda: self._rows("watchlists", "instrument_key")
                                                   .eq("name", name).order("position"))]

    def exists(self, name: str) -> bool:
        name = _check_name(name)
        return bool(run(self._url, "watchlist exists", lambda: self._rows("watchlist_names", "name")
                        .eq("name", name).limit(1).execute().data))

    def names(self) -> list[str]:
        return [r["name"] for r in paged(self._url, "watchlist names",
                                         lambda: self._rows("watchlist_names", "name").order("name"))]

    def replace(self, name: str, keys: Sequence[str]) -> None:
        """Make ``keys`` (in order) the whole content of ``name``, in one transaction."""
        name = _check_name(name)
        keys = [str(k) for k in keys]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise ValidationError(f"watchlist {name!r} repeats {', '.join(dupes)}; list each key once")
        run(self._url, "replace watchlist",
            lambda: self._c.rpc("desk_replace_watchlist", {"p_name": name, "p_keys": keys}).execute())
