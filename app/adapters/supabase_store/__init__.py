"""The desk's store on Supabase through ``supabase-py`` (the Data API, i.e. PostgREST).

``SupabaseStore(url, key)`` has the same repository attributes as ``SqlStore`` (``instruments``,
``bars``, ``watchlists``, ``jobs``; interfaces in ``app.adapters.store.ports``). The schema comes
from ``supabase/migrations`` (``app.adapters.migrations``); writes that must be atomic go
through Postgres functions called with ``rpc``. Construction checks the URL and key with one
request and raises ``SupabaseConfigError`` naming what to fix.
"""

from __future__ import annotations

from app.adapters.supabase_store.client import StoreUnavailable, SupabaseConfigError, check_settings, probe
from app.adapters.supabase_store.store import SupabaseStore

__all__ = ["StoreUnavailable", "SupabaseConfigError", "SupabaseStore", "check_settings", "probe"]
