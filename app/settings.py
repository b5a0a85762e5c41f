"""One settings object for every process (web, worker, ticker, clock, replay).

Values come from the environment, then a local ``.env``, then the defaults below. Names are
the ones a PaaS or vendor sets (``REDIS_URL``, ``DATABASE_URL``, ``KITE_API_KEY`` …); the
desk's own knobs start with ``DESK_``. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ValidationError

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "app" / "data" / "nse"

#: The desk's default watchlist: liquid NIFTY names bundled with the replay data.
DEFAULT_WATCHLIST = (
    "NSE:RELIANCE", "NSE:HDFCBANK", "NSE:INFY", "NSE:TCS", "NSE:ICICIBANK", "NSE:SBIN",
    "NSE:ITC", "NSE:LT", "NSE:AXISBANK", "NSE:KOTAKBANK", "NSE:BHARTIARTL", "NSE:MARUTI",
    "NSE:NIFTY 50", "NSE:NIFTY IT",
)


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every process's configuration. Read it with ``get_settings()``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["dev", "test", "prod"] = Field("dev", validation_alias=_env("DESK_ENV"))
    state_dir: Path = Field(ROOT / ".state", validation_alias=_env("DESK_STATE_DIR"))

    # Infrastructure (names a PaaS sets).
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))

    # Market: Kite Connect when KITE_API_KEY is set, else the local replay server.
    kite_api_key: str | None = Field(None, validation_alias=_env("KITE_API_KEY"))
    kite_api_secret: SecretStr | None = Field(None, validation_alias=_env("KITE_API_SECRET"))
    replay_host: str = Field("127.0.0.1", validation_alias=_env("DESK_REPLAY_HOST"))
    replay_port: int = Field(8765, validation_alias=_env("DESK_REPLAY_PORT"))
    replay_date: str | None = Field(None, validation_alias=_env("DESK_REPLAY_DATE"))
    replay_speed: float = Field(1.0, validation_alias=_env("DESK_REPLAY_SPEED"))
    replay_api_key: str = Field("paperdesk", validation_alias=_env("DESK_REPLAY_API_KEY"))
    replay_api_secret: SecretStr = Field(
        SecretStr("paperdesk-replay-secret"), validation_alias=_env("DESK_REPLAY_API_SECRET")
    )

    # Ticker.
    watchlist: str = Field(",".join(DEFAULT_WATCHLIST), validation_alias=_env("DESK_WATCHLIST"))
    tick_stream_maxlen: int = Field(100_000, validation_alias=_env("DESK_TICK_STREAM_MAXLEN"))

    # Other vendors (used by later features; read here so there is one settings object).
    gemini_api_key: SecretStr | None = Field(None, validation_alias=_env("GEMINI_API_KEY"))
    supabase_url: str | None = Field(None, validation_alias=_env("SUPABASE_URL"))
    supabase_key: SecretStr | None = Field(None, validation_alias=_env("SUPABASE_KEY"))
    #: Supabase's Postgres connection string (pooler): atomic writes and the stores that are
    #: not on the Data API (trading, scans, strategies, analyses) use it when SUPABASE_URL is set.
    supabase_db_url: SecretStr | None = Field(None, validation_alias=_env("SUPABASE_DB_URL"))

    @property
    def market(self) -> Literal["kite", "replay"]:
        return "kite" if self.kite_api_key else "replay"

    @property
    def replay_url(self) -> str:
        """REST root of the replay server (the ticker's WebSocket is ``ws://…/ws``)."""
        return f"http://{self.replay_host}:{self.replay_port}"

    @property
    def redis_socket(self) -> Path:
        """Unix socket of the embedded Redis the launcher starts when ``REDIS_URL`` is unset."""
        return self.state_dir / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"unix://{self.redis_socket}"

    @property
    def uses_supabase(self) -> bool:
        return bool(self.supabase_url and self.supabase_key)

    @property
    def effective_database_url(self) -> str:
        """The SQL store's URL: ``SUPABASE_DB_URL`` with Supabase, else ``DATABASE_URL``, else
        the SQLite file in the state folder.

        Raises ``ValidationError`` when Supabase is configured without a Postgres URL, since the
        desk would otherwise split its data between Supabase and a local file.
        """
        if self.uses_supabase:
            url = (self.supabase_db_url.get_secret_value() if self.supabase_db_url else None) or self.database_url
            if not url:
                raise ValidationError("SUPABASE_URL is set but SUPABASE_DB_URL is not: set it to the project's "
                                      "Postgres connection string (Dashboard → Connect → Session pooler)")
            return url
        return self.database_url or f"sqlite:///{self.state_dir / 'paperdesk.db'}"

    @property
    def watchlist_keys(self) -> list[str]:
        return [s.strip() for s in self.watchlist.split(",") if s.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """This process's settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
