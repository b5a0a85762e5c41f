"""One settings object for every process (web, worker, ticker, clock, replay).

Values come from the environment, then a local ``.env``, then the defaults below. Names are
the ones a PaaS or vendor sets (``REDIS_URL``, ``DATABASE_URL``, ``KITE_API_KEY`` …); the
desk's own knobs start with ``DESK_``. Secrets are ``SecretStr`` so they never print.

Sections (each a nested settings model reading its own flat ``DESK_*`` variables):
``settings.trading`` (capital, leverage, slippage, approvals, square-off),
``settings.analysis`` (Gemini and its budget), ``settings.auth`` (sign-in),
``settings.notifications`` (apprise channels), ``settings.logging``, ``settings.worker`` and
``settings.news`` (the news feeds).
Every variable, its default and its allowed range is in the README's Configuration table.

A value of the wrong type or out of range fails when the settings are read, with a
``core.errors.ValidationError`` naming the variable and the allowed range, e.g.
``DESK_CAPITAL must be a positive amount in rupees (₹1,000 – ₹100 crore), was '-5'``.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings, DotEnvSettingsSource, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict,
)

from core import auth as auth_rules
from core.errors import ValidationError
from core.sessions import MIS_SQUARE_OFF
from core.risk.limits import cutoff_in_session

if TYPE_CHECKING:  # pragma: no cover
    from core.analysis import TokenPrices

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "app" / "data" / "nse"

#: The desk's default watchlist: liquid NIFTY names bundled with the replay data.
DEFAULT_WATCHLIST = (
    "NSE:RELIANCE", "NSE:HDFCBANK", "NSE:INFY", "NSE:TCS", "NSE:ICICIBANK", "NSE:SBIN",
    "NSE:ITC", "NSE:LT", "NSE:AXISBANK", "NSE:KOTAKBANK", "NSE:BHARTIARTL", "NSE:MARUTI",
    "NSE:NIFTY 50", "NSE:NIFTY IT",
)
#: Gemini defaults (``app.adapters.gemini`` uses the same).
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
DEFAULT_GEMINI_API_VERSION = "v1beta"
_CRORE = Decimal(10_000_000)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _knob(default: Any, var: str, rule: str, *aliases: str, **constraints: Any) -> Any:
    """A field read from ``var`` (then ``aliases``); ``rule`` says what is allowed, for errors."""
    return Field(default, validation_alias=AliasChoices(var, *aliases), description=rule, **constraints)


def _explain(exc: PydanticValidationError, model: type[BaseSettings]) -> str:
    """One line per bad value: ``VAR must be <rule>, was <input>``."""
    lookup: dict[str, tuple[str, str | None]] = {}
    for name, info in model.model_fields.items():
        choices = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
        names = [c for c in choices if isinstance(c, str)]
        var = names[0] if names else name
        for key in (name, *names):
            lookup[key] = (var, info.description)
    lines = []
    for err in exc.errors():
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, ValidationError):  # a section's own explained error
            lines.append(str(nested))
            continue
        key = str(err["loc"][0]) if err["loc"] else ""
        var, rule = lookup.get(key, (key, None))
        lines.append(f"{var} must be {rule or err['msg']}, was {err.get('input')!r}")
    return "; ".join(lines)


class _Section(BaseSettings):
    """Base of every section: reads the environment and ``.env``; bad values raise
    ``core.errors.ValidationError`` naming the variable and its allowed range."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except PydanticValidationError as exc:
            raise ValidationError(_explain(exc, type(self))) from None


def _is_section(field: Any) -> bool:
    return isinstance(field.annotation, type) and issubclass(field.annotation, _Section)


class _FlatEnv(EnvSettingsSource):
    """The environment, minus the section fields: a section reads its own ``DESK_*`` variables,
    so a stray ``AUTH`` or ``WORKER`` variable in the shell is not parsed as a whole section."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        if _is_section(field):
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _FlatDotEnv(DotEnvSettingsSource):
    """``.env``, minus the section fields (see ``_FlatEnv``)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        if _is_section(field):
            return None, field_name, False
        return super().get_field_value(field, field_name)


class TradingSettings(_Section):
    """The paper desk's trading knobs (``app.trading.config.TradingConfig`` is built from them)."""

    capital: Decimal = _knob(Decimal("1000000"), "DESK_CAPITAL",
                             "a positive amount in rupees (₹1,000 – ₹100 crore)",
                             ge=Decimal(1000), le=100 * _CRORE)
    # the ceiling on MIS leverage: MIS margin is max(20 %, VaR + ELM + ad hoc, 100 / this %) per stock
    # (core.margins); 5 is SEBI's 20 % floor, below 5 raises every MIS margin, above 5 changes nothing
    mis_leverage: Decimal = _knob(Decimal(5), "DESK_MIS_LEVERAGE", "a multiple from 1 to 20",
                                  ge=1, le=20)
    slippage_bps: Decimal = _knob(Decimal(5), "DESK_SLIPPAGE_BPS", "basis points from 0 to 500",
                                  ge=0, le=500)
    partial_fills: bool = _knob(False, "DESK_PARTIAL_FILLS", "true or false")
    max_drift_bps: Decimal = _knob(Decimal(50), "DESK_MAX_DRIFT_BPS", "basis points from 0 to 5,000",
                                   ge=0, le=5000)
    approval_ttl_seconds: int = _knob(300, "DESK_APPROVAL_TTL_SECONDS",
                                      "whole seconds from 10 to 86,400 (one day)", ge=10, le=86_400)
    square_off_cutoff: time = _knob(MIS_SQUARE_OFF, "DESK_SQUARE_OFF_CUTOFF",
                                    "an IST time HH:MM after 09:15 and before 15:30")
    square_off_fee: bool = _knob(True, "DESK_SQUARE_OFF_FEE", "true or false")
    max_tick_age_seconds: float | None = _knob(30.0, "DESK_MAX_TICK_AGE_SECONDS",  # market seconds; fills too
                                               "seconds from 0.1 to 3,600, or empty for any age",
                                               ge=0.1, le=3600)
    confirm_notional: Decimal = _knob(Decimal(100_000), "DESK_CONFIRM_NOTIONAL",
                                      "an amount in rupees from ₹0 to ₹100 crore", ge=0, le=100 * _CRORE)

    @field_validator("square_off_cutoff")
    @classmethod
    def _cutoff_in_session(cls, value: time) -> time:
        if not cutoff_in_session(value):  # the risk limits' own bound (core.risk.limits)
            raise ValueError("not after 09:15 and before 15:30")
        return value

    @field_validator("max_tick_age_seconds", mode="before")
    @classmethod
    def _blank_is_any_age(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class AnalysisSettings(_Section):
    """Analysis knobs: Gemini model, endpoint, timeout, prices, daily budget and rate."""

    model: str = _knob(DEFAULT_GEMINI_MODEL, "DESK_GEMINI_MODEL", "a Gemini model name",
                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    base_url: str | None = _knob(None, "DESK_GEMINI_BASE_URL", "an http(s) URL", "GOOGLE_GEMINI_BASE_URL",
                                 pattern=r"^https?://")
    api_version: str = _knob(DEFAULT_GEMINI_API_VERSION, "DESK_GEMINI_API_VERSION", "an API version like v1beta",
                             pattern=r"^v\d+\w*$")
    timeout_s: float = _knob(30.0, "DESK_GEMINI_TIMEOUT_S", "seconds from 1 to 300", ge=1, le=300)
    daily_budget_inr: Decimal = _knob(Decimal("50"), "DESK_ANALYSIS_DAILY_BUDGET_INR",
                                      "rupees a day from ₹0 to ₹1,00,000", ge=0, le=100_000)
    input_usd_per_m: Decimal = _knob(Decimal("0.30"), "DESK_GEMINI_INPUT_USD_PER_M",
                                     "US dollars per million tokens from 0 to 1,000", ge=0, le=1000)
    output_usd_per_m: Decimal = _knob(Decimal("2.50"), "DESK_GEMINI_OUTPUT_USD_PER_M",
                                      "US dollars per million tokens from 0 to 1,000", ge=0, le=1000)
    inr_per_usd: Decimal = _knob(Decimal("88"), "DESK_INR_PER_USD", "rupees per dollar from 1 to 1,000",
                                 ge=1, le=1000)
    rate_per_minute: int = _knob(10, "DESK_GEMINI_RPM", "calls a minute from 1 to 10,000", ge=1, le=10_000)
    rate_wait_s: float = _knob(20.0, "DESK_GEMINI_RATE_WAIT_S", "seconds from 0 to 600", ge=0, le=600)

    @property
    def prices(self) -> TokenPrices:
        """The token prices (``core.analysis`` imports pandas, so it is imported on first use)."""
        from core.analysis import TokenPrices

        return TokenPrices(self.input_usd_per_m, self.output_usd_per_m, self.inr_per_usd)


class AuthSettings(_Section):
    """Sign-in: when it applies, where users come from, session and lockout rules."""

    mode: Literal["on", "off", "auto"] = _knob("auto", "DESK_AUTH", "on, off or auto")
    env: Literal["dev", "test", "prod"] = _knob("dev", "DESK_ENV", "dev, test or prod")
    users_file: str | None = _knob(None, "DESK_USERS", "a path to a file of name:hash lines")
    session_idle_minutes: float = _knob(60, "DESK_SESSION_IDLE_MINUTES", "minutes from 1 to 1,440",
                                        ge=1, le=1440)
    session_hours: float = _knob(12, "DESK_SESSION_HOURS", "hours from 1 to 168", ge=1, le=168)
    max_failures: int = _knob(5, "DESK_SIGNIN_MAX_FAILURES", "a whole number of tries from 1 to 100",
                              ge=1, le=100)
    lockout_minutes: float = _knob(15, "DESK_SIGNIN_LOCKOUT_MINUTES", "minutes from 1 to 1,440",
                                   ge=1, le=1440)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> str:
        text = str(value or "auto").strip().lower()
        aliases = {"1": "on", "true": "on", "yes": "on", "0": "off", "false": "off", "no": "off", "": "auto"}
        return aliases.get(text, text)

    @property
    def required(self) -> bool:
        """Sign-in is required: ``DESK_AUTH=on``, or ``auto`` with ``DESK_ENV=prod``."""
        return self.mode == "on" or (self.mode == "auto" and self.env == "prod")

    @property
    def session_rule(self) -> auth_rules.SessionRule:
        return auth_rules.SessionRule(idle=timedelta(minutes=self.session_idle_minutes),
                                      lifetime=timedelta(hours=self.session_hours))

    @property
    def lockout_rule(self) -> auth_rules.LockoutRule:
        span = timedelta(minutes=self.lockout_minutes)
        return auth_rules.LockoutRule(max_failures=self.max_failures, window=span, lockout=span)


class NotificationSettings(_Section):
    """Alert channels (apprise URLs, which hold tokens: a secret) and the dedupe window."""

    urls: SecretStr | None = _knob(None, "DESK_NOTIFY_URLS",
                                   "apprise URLs separated by spaces, commas or new lines")
    dedupe_seconds: int = _knob(3600, "DESK_NOTIFY_DEDUPE_SECONDS", "whole seconds from 0 to 604,800 (a week)",
                                ge=0, le=604_800)

    @property
    def url_text(self) -> str | None:
        """The raw channel list for ``app.adapters.notify.parse_channels`` (never log it)."""
        return self.urls.get_secret_value() if self.urls else None


class LoggingSettings(_Section):
    """Log level and format of every process."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _knob(
        "INFO", "DESK_LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
    format: Literal["json", "text"] = _knob("json", "DESK_LOG_FORMAT", "json or text")

    @field_validator("level", "format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "level" else value.strip().lower()


class WorkerSettings(_Section):
    """Dramatiq broker choice and the worker heartbeat (``app.adapters.worker_heartbeat``)."""

    broker: Literal["redis", "stub"] | None = _knob(None, "DESK_BROKER",
                                                    "redis or stub, or unset (stub under test, else redis)")
    heartbeat_s: float = _knob(5.0, "DESK_WORKER_HEARTBEAT_S", "seconds from 0.1 to 300", ge=0.1, le=300)
    heartbeat_ttl_s: float = _knob(15.0, "DESK_WORKER_HEARTBEAT_TTL_S", "seconds from 1 to 3,600", ge=1, le=3600)
    #: False: the worker process imports pandas without pyarrow (``app.lean_pandas``, ~32 MB less);
    #: the Procfile's worker sets it, a process that imports ``workers.actors`` otherwise keeps pyarrow
    pandas_arrow: bool = _knob(True, "DESK_WORKER_PANDAS_ARROW", "true or false")

    @field_validator("broker", mode="before")
    @classmethod
    def _broker(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value


class NewsSettings(_Section):
    """The news feed (``app.research.news``): which RSS/Atom feeds to poll and the fetch limits.
    No feed is polled by default (the desk may have no internet); README's Configuration lists
    examples (NSE's corporate announcements and market news feeds)."""

    feeds: str = _knob("", "DESK_NEWS_FEEDS", "http(s) feed URLs separated by spaces, commas or new lines")
    allow_hosts: str = _knob("", "DESK_NEWS_ALLOW_HOSTS",
                             "host names or addresses (comma-separated) a feed may use although they are not "
                             "public addresses, e.g. 127.0.0.1 for a local test feed")
    poll_minutes: float = _knob(5.0, "DESK_NEWS_POLL_MINUTES", "minutes from 1 to 1,440", ge=1, le=1440)
    timeout_s: float = _knob(10.0, "DESK_NEWS_TIMEOUT_S", "seconds from 1 to 120", ge=1, le=120)
    max_feed_bytes: int = _knob(2_000_000, "DESK_NEWS_MAX_FEED_BYTES",
                                "a whole number of bytes from 10,000 to 50,000,000", ge=10_000, le=50_000_000)

    @property
    def feed_urls(self) -> list[str]:
        """The configured feed URLs in order, blanks and repeats dropped (shape not checked here:
        a bad URL is skipped at poll time with its message, so one typo does not stop the desk)."""
        return list(dict.fromkeys(u for u in re.split(r"[\s,]+", self.feeds) if u))

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allow_hosts.split(",") if h.strip())


class Settings(_Section):
    """Every process's configuration. Read it with ``get_settings()``."""

    env: Literal["dev", "test", "prod"] = _knob("dev", "DESK_ENV", "dev, test or prod")
    state_dir: Path = _knob(ROOT / ".state", "DESK_STATE_DIR", "a folder path")

    # Infrastructure (names a PaaS sets).
    redis_url: str | None = _knob(None, "REDIS_URL", "a redis:// rediss:// or unix:// URL")
    database_url: str | None = _knob(None, "DATABASE_URL", "an SQLAlchemy URL (sqlite:/// or postgresql://)")

    # Market: Kite Connect when KITE_API_KEY is set, else the local replay server.
    kite_api_key: str | None = _knob(None, "KITE_API_KEY", "a Kite Connect API key")
    kite_api_secret: SecretStr | None = _knob(None, "KITE_API_SECRET", "a Kite Connect API secret")
    replay_host: str = _knob("127.0.0.1", "DESK_REPLAY_HOST", "a host name or address")
    replay_port: int = _knob(8765, "DESK_REPLAY_PORT", "a TCP port from 1 to 65,535", ge=1, le=65_535)
    replay_date: str | None = _knob(None, "DESK_REPLAY_DATE", "a recorded session date YYYY-MM-DD, or unset")
    replay_speed: float = _knob(1.0, "DESK_REPLAY_SPEED", "a speed-up from 0.1 to 1,000 (1 = real time)",
                                ge=0.1, le=1000)
    replay_api_key: str = _knob("paperdesk", "DESK_REPLAY_API_KEY", "the replay server's API key")
    replay_api_secret: SecretStr = _knob(SecretStr("paperdesk-replay-secret"), "DESK_REPLAY_API_SECRET",
                                         "the replay server's API secret")

    # Ticker.
    watchlist: str = _knob(",".join(DEFAULT_WATCHLIST), "DESK_WATCHLIST", "comma-separated EXCHANGE:SYMBOL keys")
    tick_stream_maxlen: int = _knob(100_000, "DESK_TICK_STREAM_MAXLEN", "a whole number of ticks from 1,000 "
                                    "to 10,000,000", ge=1000, le=10_000_000)

    # Other vendors.
    gemini_api_key: SecretStr | None = _knob(None, "GEMINI_API_KEY", "a Gemini API key")
    supabase_url: str | None = _knob(None, "SUPABASE_URL", "the project's https URL")
    supabase_key: SecretStr | None = _knob(None, "SUPABASE_KEY", "the project's API key")
    #: Supabase's Postgres connection string (pooler): atomic writes and the stores that are
    #: not on the Data API (trading, scans, strategies, analyses) use it when SUPABASE_URL is set.
    supabase_db_url: SecretStr | None = _knob(None, "SUPABASE_DB_URL", "a postgresql:// URL")

    # Sections (each reads its own DESK_* variables; see the classes above).
    trading: TradingSettings = Field(default_factory=TradingSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    news: NewsSettings = Field(default_factory=NewsSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then ``.env`` (sections excluded from both)."""
        env_file = getattr(dotenv_settings, "env_file", cls.model_config.get("env_file"))
        return (init_settings, _FlatEnv(settings_cls), _FlatDotEnv(settings_cls, env_file=env_file),
                file_secret_settings)

    @field_validator("replay_date", mode="before")
    @classmethod
    def _replay_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and not _ISO_DATE.match(str(value)):
            raise ValueError("not YYYY-MM-DD")
        return value

    @model_validator(mode="after")
    def _one_env(self) -> Settings:
        """Sign-in's ``auto`` follows this object's ``env`` unless the section was given."""
        if "auth" not in self.model_fields_set and self.auth.env != self.env:
            self.auth = self.auth.model_copy(update={"env": self.env})
        return self

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
    """This process's settings, read once. Tests call ``get_settings.cache_clear()``.

    Raises ``core.errors.ValidationError`` naming the variable and its allowed range when a
    value is of the wrong type or out of range."""
    return Settings()
