"""Composition root: builds each adapter and service once per process, lazily.

Pages reach it through ``app.ui.state.get_services()``; actors and processes call
``services()``. Nothing here does work at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from app.settings import Settings, get_settings

if TYPE_CHECKING:  # pragma: no cover
    import redis

    from app.adapters.store import SqlStore
    from app.adapters.supabase_store import SupabaseStore
    from app.adapters.tick_cache import TickCache
    from app.research.analysis import AnalysisService
    from app.ops.sign_in import AuthService
    from app.research.backtests import BacktestService
    from app.market.instruments import InstrumentService
    from app.ops.kite_login import KiteAuthService
    from app.adapters.kite_historical import HistoricalClient
    from app.adapters.queue import DramatiqTaskQueue
    from app.market.clock import MarketClock
    from app.market.history import MarketDataService
    from app.ops.notifications import NotificationService
    from app.ops.operations import OperationsService
    from app.research.scanner import ScannerService
    from app.research.sectors import SectorService
    from app.research.strategies import StrategyService
    from app.trading.service import TradingService
    from app.market.watchlists import WatchlistService
    from core.calendar import NseCalendar


@dataclass
class Services:
    """The service graph of one process. Treat it as read-only once built."""

    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        from app.adapters.redis_client import redis_client

        return redis_client(self.settings.effective_redis_url)

    @cached_property
    def store(self) -> SqlStore | SupabaseStore:
        """Instruments, bars, watchlists and jobs: Supabase's Data API when ``SUPABASE_URL`` and
        ``SUPABASE_KEY`` are set, else the SQL store."""
        if self.settings.uses_supabase:
            from app.adapters.supabase_store import SupabaseStore

            return SupabaseStore(self.settings.supabase_url, self.settings.supabase_key.get_secret_value())
        return self.sql

    @cached_property
    def sql(self) -> SqlStore:
        """The SQL store (SQLite, PostgreSQL, or Supabase's Postgres): the stores that need SQL
        transactions (trading, scans, strategies, analyses, users) live here."""
        from app.adapters.store import SqlStore

        return SqlStore(self.settings.effective_database_url)

    @cached_property
    def instruments(self) -> InstrumentService:
        from app.market.instruments import InstrumentService

        return InstrumentService(self.store)

    @cached_property
    def ticks(self) -> TickCache:
        from app.adapters.tick_cache import TickCache

        return TickCache(self.redis, stream_maxlen=self.settings.tick_stream_maxlen)

    @cached_property
    def calendar(self) -> NseCalendar:
        from app.adapters.calendar_source import load_nse_calendar

        return load_nse_calendar()

    @cached_property
    def market_data(self) -> MarketDataService:
        from app.market.history import MarketDataService

        return MarketDataService(self.settings, self.store, self.redis, self.instruments, historical=self.historical)

    @cached_property
    def watchlists(self) -> WatchlistService:
        from app.market.watchlists import WatchlistService

        return WatchlistService(self.store, self.instruments, default=self.settings.watchlist_keys)

    @cached_property
    def jobs(self) -> DramatiqTaskQueue:
        from app.adapters.queue import DramatiqTaskQueue, install_broker

        return DramatiqTaskQueue(install_broker(self.settings))

    @cached_property
    def kite_auth(self) -> KiteAuthService:
        from app.ops.kite_login import KiteAuthService

        return KiteAuthService(self.settings, self.redis)

    @cached_property
    def historical(self) -> HistoricalClient:
        from app.adapters.kite_historical import historical_client

        return historical_client(self.settings, self.redis)

    @cached_property
    def analysis(self) -> AnalysisService:
        from app.research.analysis import build_analysis_service

        return build_analysis_service(self)

    @cached_property
    def scanner(self) -> ScannerService:
        from app.research.scanner import ScannerService

        return ScannerService(self.sql, self.watchlists, queue=self.jobs, calendar=self.calendar)

    @cached_property
    def strategies(self) -> StrategyService:
        from app.adapters.strategy_store import StrategyStore
        from app.research.strategies import StrategyService

        return StrategyService(StrategyStore(self.sql.engine), self.instruments)

    @cached_property
    def backtests(self) -> BacktestService:
        from app.research.backtests import BacktestService

        return BacktestService(self.strategies.store, self.instruments, sql=self.sql, jobs=self.jobs)

    @cached_property
    def sectors(self) -> SectorService:
        from app.research.sectors import SectorService

        return SectorService()

    @cached_property
    def auth(self) -> AuthService:
        from app.ops.sign_in import AuthService

        return AuthService.from_services(self)

    @cached_property
    def notifications(self) -> NotificationService:
        from app.ops.notifications import build_notification_service

        return build_notification_service(self)

    @cached_property
    def operations(self) -> OperationsService:
        from app.ops.operations import build_operations

        return build_operations(self)

    @cached_property
    def market_clock(self) -> MarketClock:
        from app.market.clock import MarketClock

        return MarketClock(self.settings.market, self.ticks, self.watchlists.tokens)

    @cached_property
    def trading(self) -> TradingService:
        from app.adapters.trading_store import TradingStore
        from app.trading.service import TradingService

        return TradingService(
            self.settings, TradingStore(self.sql.engine), self.instruments, self.ticks, self.jobs,
            calendar=self.calendar,
        )


_services: Services | None = None


def services() -> Services:
    """This process's service graph (built on first use)."""
    global _services
    if _services is None:
        _services = Services(get_settings())
    return _services


def reset_services() -> None:
    """Forget the graph (tests, or after settings change)."""
    global _services
    _services = None
    get_settings.cache_clear()
