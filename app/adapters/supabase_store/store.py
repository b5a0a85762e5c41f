"""``SupabaseStore``: repositories over one supabase-py client."""

from __future__ import annotations

import httpx
from supabase import Client, ClientOptions, create_client

from app.adapters.supabase_store.bars import SupabaseBarRepository
from app.adapters.supabase_store.client import SupabaseConfigError, check_settings, key_owner, probe
from app.adapters.supabase_store.instruments import SupabaseInstrumentRepository
from app.adapters.supabase_store.jobs import SupabaseJobRepository
from app.adapters.supabase_store.trading import SupabaseFills
from app.adapters.supabase_store.watchlists import SupabaseWatchlistRepository


class SupabaseStore:
    """The desk's store on a Supabase project (``SUPABASE_URL``, ``SUPABASE_KEY``).

    ``key`` is normally the service_role key (the backend's key; it bypasses row-level
    security). A signed-in user's access token also works: every row it writes is then owned
    by that user and row-level security shows it only that user's rows. ``owner`` is whose rows
    the repositories read and write (the token's ``sub``, or the backend's ``DESK_OWNER``): every
    key of a user's table leads with it, so two owners never collide. ``check=False`` skips
    the start-up request. Raises ``SupabaseConfigError`` for a wrong URL/key or a project
    without the desk's migrations, ``StoreUnavailable`` when the project cannot be reached.
    Thread-safe for the desk's use (httpx client); share one per process.
    """

    dialect = "supabase"

    def __init__(self, url: str | None, key: str | None, *, check: bool = True, timeout: float = 30.0,
                 retry: bool = True) -> None:
        self.url, key = check_settings(url, key)
        if check:
            probe(self.url, key)
        self._http = httpx.Client(timeout=timeout)
        try:
            self.client: Client = create_client(self.url, key, options=ClientOptions(
                httpx_client=self._http, postgrest_client_retry=retry,
                auto_refresh_token=False, persist_session=False))
        except Exception as exc:  # supabase.SupabaseException: "Invalid URL" / "Invalid API key"
            raise SupabaseConfigError(f"cannot create the Supabase client: {exc}; check SUPABASE_URL and "
                                      "SUPABASE_KEY") from exc
        self.owner = key_owner(key)
        self.instruments = SupabaseInstrumentRepository(self.client, self.url)
        self.bars = SupabaseBarRepository(self.client, self.url)
        self.watchlists = SupabaseWatchlistRepository(self.client, self.url, self.owner)
        self.jobs = SupabaseJobRepository(self.client, self.url, self.owner)
        self.fills = SupabaseFills(self.client, self.url, self.owner)  # the atomic fill (rpc desk_apply_fill)

    def dispose(self) -> None:
        """Close the HTTP connections (tests, shutdown)."""
        self._http.close()

    def __repr__(self) -> str:
        return f"SupabaseStore({self.url!r})"
