"""Composition root: builds each adapter and service once per process, lazily.

This is the only place that builds services and adapters: each gets its collaborators through
its constructor (a notifier, a job repository, a bar sink, a queue…), with a null
implementation where a feature is off (``core.events.NullNotifier`` without notification
channels). Only entry points reach it: pages through ``app.ui.state.get_services()``, actors
and processes (``workers/``, CLIs) through ``services()``; an import-linter contract keeps
``app.adapters``/``app.market``/``app.trading``/``app.research``/``app.ops`` from importing it.
Nothing here does work at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from app.settings import Settings, get_settings

if TYPE_CHECKING:  # pragma: no cover
    import redis

    from app.adapters.store import SqlStore
    from app.adapters.supabase_store import SupabaseStore
    from app.adapters.tick_cache import TickCache
    from app.adapters.kite_historical import HistoricalClient, SessionKite
    from app.adapters.queue import DramatiqTaskQueue
    from app.market.alerts import AlertService, TickerAlerts
    from app.market.clock import MarketClock
    from app.market.history import MarketDataService
    from app.market.instruments import InstrumentService
    from app.market.subscriptions import DeskSubscriptions
    from app.market.ticker_ingest import TickerService
    from app.market.watch_view import WatchView
    from app.market.watchlists import WatchlistService
    from app.ops.alert_actions import AlertActions
    from app.ops.api_keys import ApiKeyService
    from app.ops.health_alerts import HealthAlerts
    from app.ops.kite_login import KiteAuthService
    from app.ops.operations import OperationsService
    from app.ops.sign_in import AuthService
    from app.research.analysis import AnalysisService
    from app.research.backtests import BacktestService
    from app.research.news import NewsService
    from app.research.scanner import ScannerService
    from app.research.sectors import SectorService
    from app.research.strategies import StrategyService
    from app.research.sweeps import SweepService
    from app.trading.contract_notes import ContractNoteService
    from app.trading.service import TradingService
    from app.trading.webhook_intake import WebhookIntake
    from core.calendar import NseCalendar
    from core.events import Notifier


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

        from app.market.clock import REPLAY_LAST_SESSION, read_time

        session = date.fromisoformat(self.settings.replay_date) if self.settings.replay_date else REPLAY_LAST_SESSION
        return MarketDataService(self.store, self.instruments, self.historical, ticks=self.ticks,
                                 clock=lambda: read_time(self.market_clock.now(), self.settings.market, session),
                                 quotes=self._quotes().quotes)

    def _quotes(self):
        """Kite's ``/quote`` (500 instruments a call, the shared 1/s ``KITE_QUOTE`` limiter)."""
        from app.adapters.rate_limit import KITE_QUOTE, RedisRateLimiter
        from app.market.quote_fallback import QuoteFallback

        def key_of(instrument_token: int) -> str:
            return self.instruments.by_token(instrument_token).key

        return QuoteFallback(self.ticks, key_of, self.kite, RedisRateLimiter(self.redis, KITE_QUOTE))

    @cached_property
    def watchlists(self) -> WatchlistService:
        from app.market.watchlists import WatchlistService

        return WatchlistService(self.store, self.instruments, default=self.settings.watchlist_keys)

    @cached_property
    def tasks(self) -> DramatiqTaskQueue:
        """The Dramatiq task queue (enqueue by actor name), with the store's job repository
        (resolved on first job helper). Not to be confused with ``store.jobs``, the jobs table."""
        from app.adapters.queue import DramatiqTaskQueue, install_broker

        return DramatiqTaskQueue(install_broker(self.settings), jobs=lambda: self.store.jobs)

    @cached_property
    def notifications(self) -> Notifier:
        """``NotificationService`` on the ``DESK_NOTIFY_URLS`` channels, or ``NullNotifier``
        when none is configured. Raises ``ValidationError`` for an invalid channel URL."""
        from app.adapters.notify import parse_channels
        from app.ops.notifications import NotificationService
        from core.events import NullNotifier

        cfg = self.settings.notifications
        channels = parse_channels(cfg.url_text)
        if not channels:
            return NullNotifier()
        return NotificationService(channels, self.redis, self.tasks, dedupe_seconds=cfg.dedupe_seconds)

    @cached_property
    def health_alerts(self) -> HealthAlerts:
        from app.ops.health_alerts import HealthAlerts

        return HealthAlerts(self.notifications, self.ticks, self.kite_auth)

    @cached_property
    def kite_auth(self) -> KiteAuthService:
        from app.ops.kite_login import KiteAuthService

        return KiteAuthService(self.settings, self.redis, notifier=self.notifications)

    @cached_property
    def kite(self) -> SessionKite:
        """A callable returning a logged-in ``KiteConnect`` for the session stored now."""
        from app.adapters.kite_historical import SessionKite

        return SessionKite(self.settings, self.redis)

    @cached_property
    def historical(self) -> HistoricalClient:
        from app.adapters.kite_historical import historical_client

        return historical_client(self.settings, self.redis)

    @cached_property
    def analysis(self) -> AnalysisService:
        from app.adapters import nse_data
        from app.adapters.analysis_store import AnalysisStore
        from app.research import analysis as an

        cfg, store = self.settings.analysis, AnalysisStore(self.sql.engine)
        bars = an.MinuteBars(self.market_data)
        parts = self._gemini_parts()
        gemini = an.GeminiAnalyst(store, parts[0], cfg, limiter=parts[1]) if parts else None
        snapshots = an.SnapshotBuilder(self.instruments, bars, industries=nse_data.nifty500_industries,
                                       ticks=self.ticks, desk=self.trading, news=self._news_lines)
        return an.AnalysisService(store, snapshots, cfg, gemini=gemini, queue=self.tasks, jobs=self.store.jobs)

    def _gemini_parts(self):
        """``(GeminiClient, the shared Redis rate limiter)`` when ``GEMINI_API_KEY`` is set, else
        ``None``: the analysis and the news sentiment share the key, the limit and the budget."""
        key = self.settings.gemini_api_key
        if not (key and key.get_secret_value().strip()):
            return None
        from app.adapters.gemini import GeminiClient
        from app.adapters.rate_limit import RateLimit, RedisRateLimiter

        cfg = self.settings.analysis
        client = GeminiClient(key.get_secret_value(), base_url=cfg.base_url, api_version=cfg.api_version,
                              timeout_s=cfg.timeout_s)
        return client, RedisRateLimiter(self.redis, RateLimit("gemini:generate", cfg.rate_per_minute, 60.0))

    @cached_property
    def scanner(self) -> ScannerService:
        from app.research.scanner import ScannerService

        return ScannerService(self.sql, self.watchlists, queue=self.tasks, calendar=self.calendar,
                              market=self.market_data)

    @cached_property
    def strategies(self) -> StrategyService:
        from app.adapters.strategy_store import StrategyStore
        from app.research.strategies import StrategyService

        return StrategyService(StrategyStore(self.sql.engine), self.instruments)

    @cached_property
    def backtests(self) -> BacktestService:
        from app.research.backtests import BacktestService

        return BacktestService(self.strategies.store, self.instruments, tasks=self.tasks, market=self.market_data)

    @cached_property
    def sweeps(self) -> SweepService:
        from app.adapters.sweep_store import SweepStore
        from app.research.sweeps import SweepService

        return SweepService(SweepStore(self.sql.engine), self.backtests, tasks=self.tasks)

    @cached_property
    def sectors(self) -> SectorService:
        from app.research.sectors import SectorService

        return SectorService(market=self.market_data)

    @cached_property
    def auth(self) -> AuthService:
        """Sign-in: users from ``DESK_USERS`` (a file) or the SQL store's ``desk_users`` table."""
        from app.adapters.auth_store import FileUserStore, SqlUserStore
        from app.ops.sign_in import AuthService

        config = self.settings.auth
        users = FileUserStore(config.users_file) if config.users_file else SqlUserStore(self.sql.engine)
        return AuthService(config, users, self.redis)

    @cached_property
    def api_keys(self) -> ApiKeyService:
        """Per-user REST API keys (``app.ops.api_keys``) on the SQL store, limited through Redis."""
        from app.adapters.api_key_store import ApiKeyStore
        from app.ops.api_keys import ApiKeyService

        return ApiKeyService(ApiKeyStore(self.sql.engine), self.redis)

    @cached_property
    def webhooks(self) -> WebhookIntake:
        """TradingView / Chartink alerts → pending approvals (``app.trading.webhook_intake``);
        secrets hashed in the API key table, duplicates claimed in Redis, market time."""
        from app.adapters.api_key_store import ApiKeyStore
        from app.adapters.rate_limit import RateLimit, RedisRateLimiter
        from app.trading.webhook_intake import WebhookIntake, WebhookSecrets

        return WebhookIntake(self.trading, self.instruments, WebhookSecrets(ApiKeyStore(self.sql.engine)),
                             self.redis, clock=lambda: self.market_clock.now().now,
                             limiter=lambda name, n: RedisRateLimiter(self.redis, RateLimit(name, n, 60.0)))

    @cached_property
    def operations(self) -> OperationsService:
        from app.adapters.queue import NAMESPACE
        from app.ops.operations import OperationsService

        # the store is passed as a provider: a store that is down is reported, not raised
        return OperationsService(self.redis, lambda: self.store, ticks=self.ticks, kite_auth=self.kite_auth,
                                 namespace=NAMESPACE, calendar=lambda: self.calendar)

    @cached_property
    def market_clock(self) -> MarketClock:
        from app.market.clock import MarketClock

        return MarketClock(self.settings.market, self.ticks, self.watchlists.tokens)

    @cached_property
    def watch_view(self) -> WatchView:
        """The Home page's read model (memoises resolved instruments), one per process."""
        from app.market.watch_view import WatchView

        return WatchView(ticks=self.ticks, instruments=self.instruments, calendar=self.calendar,
                         mode=self.settings.market, replay_date_hint=self.settings.replay_date)

    @cached_property
    def subscriptions(self) -> DeskSubscriptions:
        """The ticker's subscriptions: the watchlist plus open positions and pending approvals,
        read from the trading store (the ticker never builds ``trading``), and the alerts' tokens."""
        from app.adapters.trading_store import TradingStore
        from app.market.open_book import StoreOpenBook
        from app.market.subscriptions import DeskSubscriptions

        store = self.trading.store if "trading" in self.__dict__ else TradingStore(self.sql.engine)
        return DeskSubscriptions(self.watchlists.tokens, StoreOpenBook(store), alert_tokens=self.alerts.tokens)

    @cached_property
    def ticker_ingest(self) -> TickerService:
        """The ticker process's ingest path: closed bars go to the store on a writer thread."""
        from app.market.ticker_ingest import TickerService

        return TickerService(self.ticks, market=self.settings.market, bar_sink=self.store.bars.upsert,
                             background_bars=True, alerts=self.ticker_alerts)

    @cached_property
    def alerts(self) -> AlertService:
        """The trader's alerts (``app.market.alerts``) on the SQL store, the ticker's copy in Redis."""
        from app.adapters.alert_store import AlertStore
        from app.market.alerts import AlertService

        return AlertService(AlertStore(self.sql.engine), self.instruments, self.redis,
                            clock=lambda: self.market_clock.now().now)

    @cached_property
    def ticker_alerts(self) -> TickerAlerts:
        """The ticker's alerts hook: triggers go to the worker's ``alert_triggered`` (the queue is
        built on the first trigger, so a ticker without alerts never imports Dramatiq)."""
        from app.market.alerts import TRIGGER_ACTOR, TRIGGER_QUEUE, TickerAlerts

        return TickerAlerts(self.alerts.active, self.alerts.version,
                            lambda payload: self.tasks.enqueue(TRIGGER_QUEUE, TRIGGER_ACTOR, trigger=payload))

    @cached_property
    def alert_actions(self) -> AlertActions:
        """What a fired alert does, in the worker (``app.ops.alert_actions``)."""
        from app.ops.alert_actions import AlertActions

        return AlertActions(self.alerts, self.trading, self.notifications, self.ticks,
                            clock=lambda: self.market_clock.now().now)

    @cached_property
    def trading(self) -> TradingService:
        from app.adapters.bundled_market import margin_table
        from app.adapters.trading_store import TradingStore
        from app.trading.config import TradingConfig
        from app.trading.service import TradingService

        config = replace(TradingConfig.from_settings(self.settings), margins=margin_table())
        if self.settings.market == "kite":  # a real Kite account: its order_margins is the exact figure
            from app.trading.kite_margins import KiteOrderMargins

            config = replace(config, exact_margin=KiteOrderMargins(self.kite))
        return TradingService(
            self.settings, TradingStore(self.sql.engine), self.instruments, self.ticks, self.tasks,
            calendar=self.calendar, notifier=self.notifications, config=config,
            circuit_limits=self._circuit_limits(), market=self.market_data,
        )

    @cached_property
    def contract_notes(self) -> ContractNoteService:
        """Charges reconciliation with Kite's virtual contract note (``app.trading.contract_notes``)."""
        from app.adapters.contract_note_store import ContractNoteStore
        from app.trading.contract_notes import ContractNoteService

        return ContractNoteService(self.trading.store, ContractNoteStore(self.sql.engine), self.kite)

    @cached_property
    def news(self) -> NewsService:
        """The news feed (``app.research.news``): the ``DESK_NEWS_FEEDS`` feeds, tagged against the
        NIFTY 500 list and the instruments master, on the SQL store."""
        from app.adapters.bundled_market import index_members
        from app.adapters.news_fetch import FetchPolicy
        from app.adapters.news_store import NewsStore
        from app.research.news import NewsService

        cfg = self.settings.news

        def companies() -> list[tuple[str, str]]:
            members = index_members("NIFTY 500")
            return list(zip(members["symbol"], members["company"], strict=True))

        policy = FetchPolicy(timeout_s=cfg.timeout_s, max_bytes=cfg.max_feed_bytes, allow_hosts=cfg.allowed_hosts)
        gemini, parts = None, self._gemini_parts()
        if parts:
            from app.adapters.analysis_store import AnalysisStore
            from app.research.news_gemini import GeminiNewsScorer

            gemini = GeminiNewsScorer(AnalysisStore(self.sql.engine), parts[0], self.settings.analysis,
                                      limiter=parts[1])
        return NewsService(NewsStore(self.sql.engine), self.instruments, companies, feeds=cfg.feed_urls,
                           policy=policy, poll_every=timedelta(minutes=cfg.poll_minutes), gemini=gemini)

    def _news_lines(self, key: str, at: datetime) -> list:
        """The Analysis snapshot's news: the 5 latest items naming ``key`` published by ``at``
        (and by market time: no read sees past it)."""
        from core.analysis import NewsLine

        until = min(at, self.market_data.now())
        return [NewsLine(i.when, i.source, i.title) for i in self.news.for_symbol(key, limit=5, until=until)]

    def _circuit_limits(self):
        """The quote's circuit limits for the desk's price band (``app.market.circuit_limits``)."""
        from app.adapters.rate_limit import KITE_QUOTE, RedisRateLimiter
        from app.market.circuit_limits import QuoteCircuitLimits

        def key_of(token: int) -> str:
            inst = self.instruments.by_token(token)
            return f"{inst.exchange}:{inst.tradingsymbol}"

        return QuoteCircuitLimits(self.kite, key_of, RedisRateLimiter(self.redis, KITE_QUOTE))


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
