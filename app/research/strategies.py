"""Strategy parameters (stored per strategy) and the live runner.

The runner consumes ``desk:bars:closed`` (closed 1-minute bars the ticker publishes), keeps
each instrument's bars of the session in memory, feeds every *enabled* strategy whose symbols
include the bar's instrument, and turns each signal into a PENDING approval through
``TradingService.propose`` — never into an order. The trader approves on the Approvals page.

Idempotent on (strategy, bar): before deciding, the runner claims the row
``strategy_signals(strategy, instrument_token, bar_ts)``; a bar seen again (a restart, a
redelivered stream entry) finds the claim and does nothing. The stream cursor is stored too,
so a restarted runner resumes after the last bar it handled. A crash between the claim and the
proposal loses that one signal (at most once, never twice).

Market time: a proposal is stamped with the bar's close time (``bar.ts + 1 min``), which on a
replayed session is the replay's market time, not the wall clock.

Warm-up: with ``market`` (the market-data service) wired, the first bar of an instrument that
an enabled strategy trades loads up to ``HISTORY_BARS`` earlier 1-minute bars through
``MarketDataService.ohlcv`` (as of that bar's open, so only bars closed before it; backfilled
from the connected market first), so indicators start warm instead of from an empty history.
A warm-up that fails is logged and the instrument starts cold.

Exits (``exits``, a ``core.backtest.exits.ExitRule``, as a backtest's ``BacktestConfig.exits``):
each entry is proposed with the rule's ``stop_loss`` / ``target`` from the bar's close, so the
desk places its OCO exits when it fills (``app.trading.exits``); and, as in the backtester, the
strategy does not act on a symbol while it has open orders (its working exits included).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.errors import TemporaryError, ValidationError
from core.models import Bar
from core.orders import price_from_float, tick_size_for
from core.strategies import STRATEGIES, Strategy, bar_end_of, make_strategy
from core.text_caps import NAME_MAX_CHARS, shown
from core.timeutil import IST, to_ist
from core.validation import require_aware_datetime, require_str_list, require_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from app.adapters.strategy_store import StrategyStore
    from core.backtest.exits import ExitRule
    from app.adapters.tick_cache import TickCache
    from app.market.history import MarketDataService
    from app.market.instruments import InstrumentService
    from app.trading.service import TradingService

log = logging.getLogger(__name__)

#: Bars of history kept per instrument by the runner (about 5 sessions of 1-minute bars).
HISTORY_BARS = 2000

#: The runner's history columns (float64), as ``Strategy.features`` takes them.
OHLCV = ("open", "high", "low", "close", "volume")

#: One remembered bar: its open time (tz-aware IST) and ``OHLCV`` as floats.
Row = tuple[datetime, float, float, float, float, float]


#: the most symbols one strategy may watch
MAX_SYMBOLS = 500

#: The bar intervals the live runner feeds (``StrategyRunner.handle_bar``: the closed 1-minute
#: bars the ticker publishes on ``desk:bars:closed``). A strategy on another interval (the daily
#: ``breakout_52w``) is backtest only: it cannot be enabled live.
LIVE_INTERVALS = ("minute",)
_BAR_WORDS = {"day": "daily bars", "week": "weekly bars"}


@dataclass(frozen=True)
class StrategyConfig:
    """A strategy's stored settings: ``params`` (validated), ``symbols`` (NSE tradingsymbols
    the live runner feeds it), ``enabled`` (the runner only runs enabled strategies; always
    ``False`` for a backtest-only strategy), ``interval`` (its bars: ``"minute"`` or ``"day"``)
    and ``live`` (whether the live runner feeds that interval, :data:`LIVE_INTERVALS`)."""

    name: str
    title: str
    params: dict[str, int | float]
    symbols: tuple[str, ...]
    enabled: bool
    updated_at: datetime | None = None
    interval: str = "minute"
    live: bool = True

    def strategy(self) -> Strategy:
        return make_strategy(self.name, self.params)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str  # "int" | "float"
    default: float
    low: float
    high: float
    help: str


class StrategyService:
    """Catalogue and stored parameters of the strategies."""

    def __init__(self, store: StrategyStore, instruments: InstrumentService | None = None) -> None:
        self.store = store
        self.instruments = instruments

    def catalog(self) -> list[tuple[str, str, str]]:
        """``(name, title, description)`` of every strategy."""
        return [(c.name, c.title, c.description) for c in STRATEGIES.values()]

    def param_specs(self, name: str) -> list[ParamSpec]:
        cls = _cls(name)
        return [ParamSpec(p.name, p.kind.__name__, p.default, p.low, p.high, p.help) for p in cls.spec()]

    def backtest_only(self, name: str) -> str | None:
        """Why ``name`` cannot run live (one sentence, for the page and the refusal), or ``None``
        when the live runner feeds its bars (:data:`LIVE_INTERVALS`). Raises ``ValidationError``
        for an unknown strategy."""
        cls = _cls(name)
        if cls.interval in LIVE_INTERVALS:
            return None
        return (f"{cls.title} trades on {_BAR_WORDS.get(cls.interval, cls.interval + ' bars')}; the live strategy runner feeds closed "
                f"1-minute bars only, so it is backtest only: run it on the Backtest page")

    def config(self, name: str) -> StrategyConfig:
        """Stored settings of ``name``, or its defaults (disabled, no symbols). A backtest-only
        strategy (:meth:`backtest_only`) is never ``enabled``, whatever an older row stored."""
        cls = _cls(name)
        live = cls.interval in LIVE_INTERVALS
        row = self.store.get_config(name)
        if row is None:
            return StrategyConfig(name, cls.title, cls().params, (), False, interval=cls.interval, live=live)
        try:
            params = cls(**row["params"]).params
        except ValidationError:  # ranges changed since it was saved: fall back to defaults
            params = cls().params
        return StrategyConfig(name, cls.title, params, tuple(row["symbols"]), bool(row["enabled"]) and live,
                              row["updated_at"], interval=cls.interval, live=live)

    def configs(self) -> list[StrategyConfig]:
        return [self.config(n) for n in STRATEGIES]

    def save(self, name: str, params: Mapping[str, Any], symbols: Iterable[str], *, enabled: bool,
             now: datetime) -> StrategyConfig:
        """Validate and store. Raises ``ValidationError`` (nothing stored) for an unknown strategy,
        ``params`` that is not a mapping or a parameter out of range, ``symbols`` that is not a
        list of strings (one string such as ``"INFY,TCS"`` is refused), more than
        ``MAX_SYMBOLS`` (500), an unknown symbol, ``enabled`` not a bool, a naive ``now``,
        enabling with no symbols, enabling a backtest-only strategy (its bars are not the live
        runner's, :meth:`backtest_only`), or enabling on an index (segment ``INDICES``, e.g.
        NIFTY 50: it cannot be traded)."""
        name = require_text("strategy", name, cap=NAME_MAX_CHARS)
        if not isinstance(params, Mapping):
            raise ValidationError(f"params must be a mapping of parameter name to value, was {shown(params)}")
        if not isinstance(enabled, bool):
            raise ValidationError(f"enabled must be True or False, was {shown(enabled)}")
        require_aware_datetime("now", now)
        syms = [s.upper() for s in require_str_list("symbols", symbols, max_items=MAX_SYMBOLS, allow_empty=True,
                                                         drop_blank=True)]
        strat = make_strategy(name, params)
        if enabled and (why := self.backtest_only(name)):
            raise ValidationError(f"{name} cannot be enabled: {why}")
        if enabled and not syms:
            raise ValidationError(f"{name}: pick at least one symbol before enabling it (the universe is empty)")
        if self.instruments is not None and syms:
            resolved = self.instruments.resolve_many(syms)
            indices = [i.tradingsymbol for i in resolved if i.segment == "INDICES"]
            if enabled and indices:
                raise ValidationError(f"{name}: cannot be enabled on an index ({', '.join(indices)[:60]}): an index "
                                      "is not tradable; pick its stocks instead (e.g. from the NIFTY 50 universe)")
            syms = [i.tradingsymbol for i in resolved]
        self.store.save_config(name, strat.params, syms, enabled, now)
        return self.config(name)

    def recent_signals(self, name: str | None = None, limit: int = 100) -> pd.DataFrame:
        import pandas as pd

        rows = self.store.signals(name, limit)
        cols = ["bar_ts", "strategy", "tradingsymbol", "side", "quantity", "reason", "approval_id"]
        df = pd.DataFrame(rows, columns=[*cols, "instrument_token", "created_at"])[cols]
        if len(df):
            df["bar_ts"] = pd.to_datetime(df["bar_ts"], utc=True).dt.tz_convert(IST)
        return df


def _cls(name: str) -> type[Strategy]:
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValidationError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    return cls


@dataclass
class RunnerReport:
    """One poll: bars read, proposals made (approval ids), bars skipped as already handled."""

    bars: int = 0
    proposals: list[str] = field(default_factory=list)
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


class StrategyRunner:
    """Feeds closed bars to enabled strategies and proposes their orders (module docstring)."""

    def __init__(self, strategies: StrategyService, trading: TradingService, ticks: TickCache, *,
                 name: str = "live", ttl_seconds: int | None = None, market: MarketDataService | None = None,
                 exits: ExitRule | None = None) -> None:
        self.strategies = strategies
        self.store = strategies.store
        self.trading = trading
        self.ticks = ticks
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.market = market
        self.exits = exits
        # plain rows, not frames: with no strategy enabled the process never imports pandas
        self._history: dict[int, deque[Row]] = {}
        self._warmed: set[int] = set()

    # ------------------------------------------------------------------ stream
    def poll_once(self, count: int = 1000) -> RunnerReport:
        """Handle every closed bar after the stored cursor (up to ``count``); advance the cursor."""
        report = RunnerReport()
        cursor = self.store.cursor(self.name)
        entries = self.ticks.bars_closed_since(cursor, count)
        if not entries:
            return report
        active = [(c, c.strategy()) for c in self.strategies.configs() if c.enabled and c.symbols]
        for entry_id, bar in entries:
            report.bars += 1
            try:
                self.handle_bar(bar, active, report)
            except ValidationError as exc:  # a bad intent or unknown instrument: log, keep going
                log.warning("strategy runner: bar %s of %s skipped: %s", bar.ts, bar.instrument_token, exc)
                report.errors.append(str(exc))
            self.store.save_cursor(self.name, entry_id)
        return report

    def handle_bar(self, bar: Bar, active: Sequence[tuple[StrategyConfig, Strategy]] | None = None,
                   report: RunnerReport | None = None) -> list[str]:
        """Feed one closed bar; return the approval ids it proposed."""
        report = report if report is not None else RunnerReport()
        if active is None:
            active = [(c, c.strategy()) for c in self.strategies.configs() if c.enabled and c.symbols]
        if bar.interval != "minute":
            return []
        history: pd.DataFrame | None = None
        built = False
        proposed: list[str] = []
        symbol = None
        for cfg, strat in active:
            if symbol is None:
                symbol = self._symbol(bar.instrument_token)
                if symbol is None:
                    break
            if symbol not in cfg.symbols:
                continue
            if bar.instrument_token not in self._warmed:
                history, built = self._warm_up(bar), True
            elif not built:
                history, built = self.history(bar.instrument_token), True
            end = bar_end_of(bar.ts, bar.interval)
            if not self.store.claim_signal(cfg.name, bar.instrument_token, bar.ts, symbol, end):
                report.duplicates += 1
                continue
            position = self._position(bar.instrument_token)
            if self._has_pending(cfg.name, bar.instrument_token, end):
                self.store.record_signal(cfg.name, bar.instrument_token, bar.ts, side=None, quantity=None,
                                         reason="skipped: an approval is already pending", approval_id=None)
                continue
            if self.exits is not None and self._has_open_orders(bar.instrument_token):
                continue  # the exits (or another open order) manage the position, as in backtests
            signal, _ = strat.signal_for_bar(bar, history, position=position)
            if signal is None:
                continue
            intent = strat.intent(bar.instrument_token, symbol, signal)
            if self.exits is not None and not position:  # an entry: its stop/target from the close
                close = price_from_float(bar.close)
                inst = self.trading.instruments.by_token(bar.instrument_token)
                intent = self.exits.attach(intent, close, tick_size_for(inst, to_ist(end).date(), close))
            view = self.trading.propose(intent, signal_price=price_from_float(bar.close), reason=signal.reason,
                                        source=f"strategy:{cfg.name}", ttl_seconds=self.ttl_seconds, now=end)
            self.store.record_signal(cfg.name, bar.instrument_token, bar.ts, side=str(signal.side),
                                     quantity=signal.quantity, reason=signal.reason, approval_id=view.approval_id)
            proposed.append(view.approval_id)
            report.proposals.append(view.approval_id)
        self._remember(bar)
        return proposed

    # ------------------------------------------------------------------ helpers
    def history(self, token: int) -> pd.DataFrame | None:
        """``token``'s remembered bars (at most ``HISTORY_BARS``, oldest first) as the frame
        ``Strategy.features`` takes: indexed by tz-aware IST bar-open time (ns, as the
        market-data service's frames), float64 ``OHLCV`` columns; ``None`` before its first bar. Built on demand (imports pandas)."""
        rows = self._history.get(token)
        if not rows:
            return None
        import pandas as pd

        ts, *cols = zip(*rows, strict=True)
        return pd.DataFrame(dict(zip(OHLCV, map(list, cols), strict=True)), index=pd.DatetimeIndex(ts).tz_convert(IST).as_unit("ns"),
                            dtype="float64")

    def warm_up(self, token: int, before: datetime) -> pd.DataFrame | None:
        """Load ``token``'s 1-minute bars closed by ``before`` (at most ``HISTORY_BARS``)
        through the market-data service ahead of the bars already in memory; return the
        instrument's history (:meth:`history`). Once per instrument; without ``market``, or
        when the read fails (logged), the history is left as it is."""
        self._warmed.add(token)
        if self.market is None:
            return self.history(token)
        try:
            frame = self.market.ohlcv(token, "minute", as_of=before, bars=HISTORY_BARS, fill=True)
        except (ValidationError, TemporaryError, OSError) as exc:
            log.warning("strategy runner: no warm-up history for %s before %s: %s", token, before, exc)
            return self.history(token)
        frame = frame[list(OHLCV)].astype("float64")
        old = self._history.get(token, ())
        if old:
            frame = frame[frame.index < old[0][0]]
        rows: list[Row] = [(ts.to_pydatetime(), *r) for ts, r in zip(frame.index.tz_convert(IST),
                                                                       frame.itertuples(index=False, name=None),
                                                                       strict=True)]
        if rows or old:
            self._history[token] = deque([*rows, *old], maxlen=HISTORY_BARS)
        log.info("strategy runner: warmed %s with %d bars before %s", token, len(rows) + len(old), before)
        return self.history(token)

    def _warm_up(self, bar: Bar) -> pd.DataFrame | None:
        return self.warm_up(bar.instrument_token, to_ist(bar.ts))

    def _remember(self, bar: Bar) -> None:
        ts = to_ist(bar.ts)
        rows = self._history.get(bar.instrument_token)
        if rows and rows[-1][0] >= ts:
            return  # a repeated or late bar does not rewrite history
        if rows is None:
            rows = self._history[bar.instrument_token] = deque(maxlen=HISTORY_BARS)
        rows.append((ts, float(bar.open), float(bar.high), float(bar.low), float(bar.close), float(bar.volume)))

    def _symbol(self, token: int) -> str | None:
        try:
            return self.trading.instruments.by_token(token).tradingsymbol
        except ValidationError:
            return None

    def _position(self, token: int) -> int:
        row = self.trading.store.position(int(token), "MIS")
        return int(row["quantity"]) if row else 0

    def _has_open_orders(self, token: int) -> bool:
        return any(int(r["instrument_token"]) == token for r in self.trading.store.list_orders(open_only=True))

    def _has_pending(self, strategy: str, token: int, now: datetime) -> bool:
        return any(v.instrument_token == token and v.strategy == strategy for v in self.trading.pending(now))


__all__ = ["ParamSpec", "RunnerReport", "StrategyConfig", "StrategyRunner", "StrategyService"]
