"""The backtester: one strategy over many instruments' bars, through the paper desk's own
broker (``core.broker``), charges (``core.charges``), risk gatekeeper (``core.risk``) and
portfolio (``core.portfolio``). Pure: no I/O, no clock.

Timing (the same as the live desk fed by the replay server):

* At the close of bar ``t`` (time ``ts + 1 min``) the strategy decides on bar ``t``'s features.
  An intent passes the gatekeeper ``core.gatekeeper.check`` (at the bar's close as the LTP) and is
  submitted to the broker (``core.broker.submit``: session phase, MIS cut-off, circuit) with
  ``placed_at`` = the bar's close. A refusal is recorded in ``rejections`` with its reasons.
* Margin as the desk (``core.margins``): an MIS entry blocks ``max(20 %, VaR + ELM + ad hoc)``
  of its stock from ``BacktestConfig.margins`` and is refused off the MIS list
  (``MIS_NOT_ELIGIBLE``); without a table every stock is at SEBI's 20 % floor and eligible.
* The price band is the desk's fallback rule (``core.risk.price_bands``) from the previous
  session's close: a ``fixed_bands`` row in force that day (NSE's 2/5/10/20 % list), else
  NSE's F&O dynamic price range flexed by the day's high and low so far (NSE/FAOP/64995).
* Bar ``t+1`` is expanded into ticks by ``core.tickpath`` with the replay's depth
  (``core.backtest.ticks``) and open orders meet those ticks through ``core.broker.process_tick``:
  a MARKET order fills on the first tick (the next bar's open; a BUY at the best ask, a SELL
  at the best bid), stamped at that tick's time and charged by the dated Zerodha schedule.
* Fills are booked with ``core.portfolio.apply_fill``. Any MIS position still open when a bar
  ends at or after the square-off cut-off (15:20 IST), or on the instrument's last bar of the
  day, is squared off at MARKET (tag ``SQUAREOFF``, optional ₹50 + GST fee, as the desk does).
  Orders still open at the end of a day are cancelled.
* Exits (``BacktestConfig.exits``, ``core.backtest.exits``): each entry carries a stop and/or a
  target from the bar's close; when it fills, the desk's ``core.exits`` OCO rules place, resize,
  trail and cancel its exit orders on every tick (an exit placed on a tick is matched on that
  tick, as the desk does). A strategy does not act on a symbol while it has open orders, its
  working exits included: the stop, the target or the square-off (which cancels the exits
  first) closes the position.
* Alerts (``BacktestConfig.alerts``, ``core.backtest.alerts``): the desk's ``core.alerts`` rules
  on each bar of the instruments they read, seen as a tick at the bar's close, before the
  strategy decides; trigger once; a trigger is listed in ``BacktestResult.alerts``; an ATO alert's
  order is placed at that close as a strategy entry is (the backtest approves it: no human).

Idle bars (``BacktestConfig.skip_idle``, the default) cost nothing: the strategy's features and
its :meth:`~core.strategies.base.Strategy.active` masks are computed for all bars at once, and
the loop visits only the bars where something can happen — a possible signal for the symbol's
current position (flat / long / short), an open order, an MIS position at the square-off cut-off
or on the day's last bar, a day boundary — and expands only those into ticks. The equity of the
bars skipped is marked to market from the closes in one vectorised step, the same floats the full
engine records. ``skip_idle=False`` is that full engine: every bar of every symbol is visited
(the reference the idle-bar engine is tested against: same fills, charges, equity).

Daily bars (a strategy with ``interval = "day"``, e.g. ``core.strategies.breakout_52w``): each bar
is one 09:15–15:30 IST session; the decision at its close is placed in the next session's
pre-open and fills at that session's open; the session is expanded into ticks by the same
path rule (``core.backtest.daily``). A ``CNC`` strategy's positions are delivery: never
squared off (so a holding is not visited on idle days), a buy settles T+1 (the next session
of the timeline), a sell of held shares is charged the DP fee once per scrip-day
(``core.portfolio.dp_due``, ``core.charges.dp_charge``), and a CNC sell may take the shares
held, as ``core.risk.market_rules.check_holdings``.

Money stays ``Decimal`` through fills and the ledger; the equity curve and metrics are
floats (analytics).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from core import broker
from core.alerts import Alert
from core.backtest.alerts import BacktestAlerts, check_alerts, empty_frame
from core.backtest.daily import DAY_SPAN, pre_open, session_bars, settlement_days
from core.backtest.exits import BacktestExits, ExitDriver, ExitRule
from core.backtest.metrics import compute_metrics, round_trips
from core.backtest.ticks import BarTicks, day_instruments
from core.broker import BrokerConfig, BrokerState, OrderFilled, OrderRejected
from core.calendar import TradingSession, regular_session
from core.charges import ChargeSchedule, backfilled_schedules, dp_charge, schedule_for, square_off_charge
from core.errors import ValidationError
from core.models import Instrument
from core.margins import MarginRules, MarginTable
from core.orders import CircuitBand, FrozenMap, OrderIntent, OrderType, Product, Side, price_from_float
from core.portfolio import LedgerEntry, LedgerKind, Portfolio, apply_fill, funds, new_portfolio, pnl, roll_day
from core.gatekeeper import ChangeKind, Exemption, GateContext, OrderChange, check
from core.risk import RiskLimits
from core.risk.limits import LastFill, RiskState
from core.risk.price_bands import FixedBand, dynamic_range, dynamic_rule_for, fixed_band, fixed_band_for
from core.strategies.base import Signal, Strategy, clock_us, time_us
from core.timeutil import IST

_ZERO = Decimal("0.00")
_SYSTEM_TAGS = ("SQUAREOFF",)


@dataclass(frozen=True)
class BacktestConfig:
    """Backtest settings (the paper desk's defaults).

    ``capital`` ₹ and ``mis_leverage`` as the desk; ``slippage_bps`` applies only to ticks
    without depth; ``depth`` gives ticks the replay's 5-level depth; ``ticks_per_bar`` as
    the replay (60); ``limits`` the risk limits (``use_risk=False`` skips the gatekeeper, for
    the benchmark comparison only); ``margins`` the per-stock MIS margin table and MIS list
    (``core.margins.MarginTable``, as the desk's ``TradingConfig.margins``; ``None``: 20 % for
    every stock, all eligible); ``fixed_bands`` NSE's dated fixed-band rows of non-F&O stocks
    (``core.risk.price_bands.FixedBand``; a stock without a row gets the F&O dynamic range);
    ``square_off_fee`` charges ₹50 + GST per auto square-off; ``skip_idle=False`` visits every
    bar (the full engine; see the module docstring); ``exits`` the stop/target (and trailing)
    every entry gets, run by the desk's ``core.exits`` rules (``core.backtest.exits``; MIS only);
    ``alerts`` Kite-style alerts (``core.alerts.Alert``) run on the bars (``core.backtest.alerts``).
    """

    capital: Decimal = Decimal("1000000.00")
    mis_leverage: Decimal = Decimal(5)
    slippage_bps: Decimal = Decimal(0)
    depth: bool = True
    ticks_per_bar: int = 60
    limits: RiskLimits = field(default_factory=RiskLimits)
    use_risk: bool = True
    margins: MarginTable | None = None
    fixed_bands: tuple[FixedBand, ...] = ()
    square_off_fee: bool = True
    schedules: tuple[ChargeSchedule, ...] = field(default_factory=backfilled_schedules)
    skip_idle: bool = True
    exits: ExitRule | None = None
    alerts: tuple[Alert, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.capital, Decimal) or self.capital <= 0:
            raise ValidationError(f"capital must be positive Decimal rupees, was {self.capital!r}")
        if self.ticks_per_bar < 4:
            raise ValidationError(f"ticks_per_bar must be >= 4, was {self.ticks_per_bar}")
        if self.exits is not None and not isinstance(self.exits, ExitRule):
            raise ValidationError("exits must be a core.backtest.exits.ExitRule (stop %, target %, trailing)")


@dataclass(frozen=True)
class InstrumentBars:
    """One instrument and its bars (frame indexed by tz-aware bar-open time, OHLCV floats)."""

    instrument: Instrument
    bars: pd.DataFrame


@dataclass
class BacktestResult:
    """Everything a run produces.

    * ``metrics``: dict of floats (see ``core.backtest.metrics.compute_metrics``);
    * ``equity``: frame indexed by bar close time (IST), columns ``equity`` (₹), ``drawdown_pct``
      (≤ 0), ``exposure`` (gross open value ₹);
    * ``fills``: one row per fill — ``fill_id, order_id, filled_at, tradingsymbol,
      instrument_token, side, quantity, price`` (Decimal ₹), ``charges`` (Decimal ₹), ``tag``;
    * ``trades``: round trips (``core.backtest.metrics.round_trips``);
    * ``rejections``: intents refused by risk or the broker: ``at, tradingsymbol, side,
      quantity, reasons``;
    * ``bars``: bars processed;
    * ``alerts``: the alert triggers (``core.backtest.alerts.ALERT_COLUMNS``), empty without alerts.
    """

    metrics: dict[str, float]
    equity: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    rejections: pd.DataFrame
    bars: int
    alerts: pd.DataFrame = field(default_factory=empty_frame)


@dataclass
class _Sym:
    inst: Instrument
    token: int
    symbol: str
    ts: np.ndarray  # int64 ns bar-open times
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    feats: dict[str, np.ndarray]
    last_of_day: np.ndarray  # bool
    prev_close: np.ndarray  # previous session's close per bar (NaN on the first day)
    day_open: np.ndarray
    day_high: np.ndarray  # the day's high so far, through this bar
    day_low: np.ndarray  # the day's low so far, through this bar
    cols: tuple[str, ...] = ()
    day_id: np.ndarray | None = None  # per bar: index into ``day_insts``
    day_insts: tuple[Instrument, ...] = ()  # the instrument with each day's NSE tick (core.orders.ticks)
    days: tuple[date, ...] = ()  # IST date per bar
    wake: tuple[list[bool], list[bool], list[bool]] = ((), (), ())  # per bar: visit if flat / long / short
    k: int = 0  # position in the token-sorted universe
    step_bar: list[int] | None = None  # per timeline step: this symbol's bar index, -1 without a bar
    steps: np.ndarray | None = None  # per bar: its timeline step
    close_tl: np.ndarray | None = None  # per timeline step: the last close so far, ₹ (NaN before the first)
    tick_prev: np.ndarray | None = None  # per bar: a tick's previous close, ₹ (the day's open on the first day)
    tick_size: np.ndarray | None = None  # per bar: the day's NSE tick, ₹ (``inst_at(i).tick_size``)

    def inst_at(self, i: int) -> Instrument:
        """The instrument as of bar ``i``'s date: its ``tick_size`` is that day's NSE regime."""
        return self.day_insts[self.day_id[i]] if self.day_id is not None else self.inst


ProgressFn = Callable[[float, str], None]


def _prepare(strategy: Strategy, ib: InstrumentBars, cutoff: time, span: timedelta) -> _Sym:
    b = ib.bars
    if not isinstance(b.index, pd.DatetimeIndex) or b.index.tz is None:
        raise ValidationError(f"{ib.instrument.tradingsymbol}: bars need a tz-aware DatetimeIndex (bar open, IST)")
    b = session_bars(b) if strategy.interval == "day" else b.sort_index()
    feats = strategy.features(b)
    idx = b.index.tz_convert(IST)
    days = np.asarray(idx.date)
    last = np.ones(len(b), dtype=bool)
    last[:-1] = days[1:] != days[:-1]
    first = np.ones(len(b), dtype=bool)
    first[1:] = days[1:] != days[:-1]
    close = b["close"].to_numpy(float)
    # previous session's close and this day's open, per bar
    day_id = np.cumsum(first) - 1
    day_close = close[last]
    prev = np.full(len(b), np.nan)
    prev_day_close = np.concatenate([[np.nan], day_close[:-1]])
    prev[:] = prev_day_close[day_id]
    day_open = b["open"].to_numpy(float)[first][day_id]
    cols = tuple(feats.columns)
    day_high = _running(np.fmax, b["high"].to_numpy(float), first)
    day_low = _running(np.fmin, b["low"].to_numpy(float), first)
    tick_day_id, day_insts = day_instruments(ib.instrument, days, close, float(b["open"].iloc[0]))
    wake = _wake(strategy, feats, idx + span, last, cutoff)
    return _Sym(ib.instrument, int(ib.instrument.instrument_token), ib.instrument.tradingsymbol,
                idx.as_unit("ns").asi8,
                b["open"].to_numpy(float), b["high"].to_numpy(float), b["low"].to_numpy(float), close,
                b["volume"].to_numpy(np.int64), {k: feats[k].to_numpy(float) for k in cols}, last, prev, day_open,
                day_high, day_low, cols, tick_day_id, tuple(day_insts), tuple(days.tolist()), wake)


def _paise_marks(tokens: list[int], close_tl: dict[int, np.ndarray], step: int) -> dict[int, Decimal]:
    """token → its close as of ``step`` in exact rupees: ``price_from_float`` of each, with the
    paise rounded in one ``np.rint`` (half-even on the same float64 ``close × 100``, as
    Python's ``round``). A NaN or infinite close raises ``ValidationError`` as price_from_float does."""
    closes = np.fromiter((close_tl[t][step] for t in tokens), dtype=np.float64, count=len(tokens))
    paise = np.rint(closes * 100)
    if not np.isfinite(paise).all():
        return {t: price_from_float(float(c)) for t, c in zip(tokens, closes.tolist(), strict=True)}
    return {t: Decimal(p).scaleb(-2) for t, p in zip(tokens, paise.astype(np.int64).tolist(), strict=True)}


def _running(ufunc: np.ufunc, x: np.ndarray, first: np.ndarray) -> np.ndarray:
    """``ufunc.accumulate`` of ``x`` restarted at each day's first bar (``first``: bool per bar)."""
    if first.all():  # one bar a day (daily bars)
        return x.copy()
    out = np.empty_like(x)
    starts = np.flatnonzero(first).tolist() + [len(x)]
    for a, z in zip(starts[:-1], starts[1:], strict=True):
        out[a:z] = ufunc.accumulate(x[a:z])
    return out


def _wake(strategy: Strategy, feats: pd.DataFrame, bar_end: pd.DatetimeIndex, last: np.ndarray,
          cutoff: time) -> tuple[list[bool], list[bool], list[bool]]:
    """Per bar, whether the loop must visit it when flat / long / short: the strategy may signal
    there, or (holding MIS) the bar ends at/after the MIS cut-off or is the day's last."""
    act = strategy.active(feats, bar_end)
    square = ((clock_us(bar_end) >= time_us(cutoff)) | last) if strategy.product is Product.MIS else False
    return (np.asarray(act.flat, bool).tolist(), (np.asarray(act.long, bool) | square).tolist(),
            (np.asarray(act.short, bool) | square).tolist())


class _Run:
    def __init__(self, strategy: Strategy, syms: list[_Sym], config: BacktestConfig, start: datetime) -> None:
        self.s = strategy
        self.syms = syms
        self.cfg = config
        self.bcfg = BrokerConfig(slippage_bps=config.slippage_bps, schedules=config.schedules)
        # depth levels a tick needs: the best bid/ask is all a fill reads without partial fills
        self.levels = 5 if self.bcfg.partial_fills else 1
        self.pf: Portfolio = new_portfolio(opened_at=start, capital=config.capital, mis_leverage=config.mis_leverage,
                                            margins=config.margins)
        self.book = BrokerState()
        self.fills: list = []
        self.rejections: list[dict] = []
        self.pos: dict[int, int] = {}  # token → signed MIS shares
        self.close_tl = {sym.token: sym.close_tl for sym in syms}
        self.step = 0  # the timeline step being run (marks are the closes as of this step)
        self.marked = -1  # the last timeline step whose equity is recorded
        self._circuits: dict[tuple[int, float, float], CircuitBand | None] = {}
        self._session: TradingSession | None = None
        self._risk_pf: Portfolio | None = None  # risk_state's cache: the portfolio and step it was made for
        self._risk_step = -1
        self._risk: tuple = ()
        self._risk_key: tuple = ()  # risk_state's RiskState cache: (portfolio, step, seq, fills, loss streak)
        self._risk_state: RiskState | None = None
        self._rules_key: tuple = ()  # margin_rules' cache: (the portfolio's margins, its MIS leverage)
        self._rules: MarginRules | None = None
        self.cash = float(config.capital)
        self.seq = 0
        self.day: date | None = None
        self.orders_today: dict[str, int] = {}
        self.last_fills: dict[str, LastFill] = {}
        self.loss_streak = 0
        self.last_loss_at: datetime | None = None
        self.peak = config.capital
        self.fees: list[dict] = []
        self.span = _span(strategy)  # bar length
        self.mis = strategy.product is Product.MIS
        self.settles: dict[date, date] = {}  # CNC: trading day → its T+1 settlement day
        self.exits = ExitDriver(self, BacktestExits(config.exits)) if config.exits is not None else None
        self.last_order_id = self.last_refusal = ""  # of the latest place() (the exits read them)
        self.alerts: BacktestAlerts | None = None  # run_backtest sets it when there are alerts

    # ---------------------------------------------------------------- days
    def new_day(self, day: date, at: datetime) -> None:
        if self.day is not None:
            for o in self.book.open_orders():  # a daily decision placed for today's open stays
                if o.placed_at.astimezone(IST).date() < day:
                    self.book, _ = broker.cancel(self.book, o.order_id, now=at, message="day ended")
            self.prune()
            cash = self.pf.cash
            pf = roll_day(self.pf, day)
            # compact the ledger (cash carried forward) so per-day bookkeeping stays O(day)
            carry = LedgerEntry(f"carry-{day.isoformat()}", at, LedgerKind.CAPITAL, cash, memo="carried balance")
            self.pf = replace(pf, ledger=(carry,), applied_fills=frozenset())
        else:
            self.pf = replace(self.pf, trading_day=day)
        self.day = day
        self._circuits = {}
        self.orders_today = {}
        self.last_fills = {}

    # ---------------------------------------------------------------- fills
    def fill_on_bar(self, sym: _Sym, i: int, bar_ticks: Callable[[], BarTicks]) -> None:
        if not self.book.open_orders(sym.token):
            return
        if self.exits is not None and self.exits.quiet(sym, i):
            return  # only working exits the bar's range cannot reach (core.backtest.exits)
        bt = bar_ticks()
        circuit = self.circuit(sym, i)  # the bar's band: one for all its ticks
        for j in range(bt.k):
            now = bt.time(j)
            tick = bt.tick(j, levels=self.levels)
            self.book, events = broker.process_tick(self.book, tick, now=now,
                                                    phase=self.phase(now), circuit=circuit, config=self.bcfg)
            for ev in events:
                if isinstance(ev, OrderFilled):
                    self.book_fill(ev.fill)
            if self.exits is not None:  # the exit rules on this tick's events, then trailing (core.backtest.exits)
                self.exits.after_events(sym, i, events, tick, now)
            if events:
                self.prune()
                if not self.book.open_orders(sym.token):
                    break

    def prune(self) -> None:
        """Keep only open orders in the book (filled ones live on as fills), so per-bar
        look-ups cost O(open orders), not O(every order of the run); and fold a long ledger into
        one carried balance (the cash is its exact sum; fill ids never repeat in a run), so
        booking a fill stays O(1) on a busy day."""
        self.book = BrokerState(FrozenMap({k: o for k, o in self.book.orders.items() if o.is_open}))
        if len(self.pf.ledger) > _LEDGER_FOLD:
            last = self.pf.ledger[-1]
            carry = LedgerEntry(f"carry-{self.seq}-{len(self.fills)}", last.at, LedgerKind.CAPITAL, self.pf.cash,
                                memo="carried balance")
            self.pf = replace(self.pf, ledger=(carry,), applied_fills=frozenset())

    def book_fill(self, fill) -> None:
        before = self.pf.positions.get((fill.instrument_token, fill.product))
        realized_before = before.realized_pnl if before else _ZERO
        # STT per scrip-day to the rupee, restated by the ledger exactly as the desk does
        day = fill.filled_at.astimezone(IST).date()
        schedule = schedule_for(day, self.cfg.schedules)
        cnc = fill.product is Product.CNC
        booked = len(self.pf.ledger)
        applied = apply_fill(self.pf, fill, schedule=schedule,
                             settles_on=self.settles.get(day) if cnc and fill.side is Side.BUY else None,
                             dp_charge=dp_charge(schedule).total if cnc else _ZERO)
        self.pf, fill = applied.portfolio, applied.fill
        after = self.pf.positions[(fill.instrument_token, fill.product)]
        self.pos[fill.instrument_token] = after.quantity
        entries = self.pf.ledger[booked:]  # trade and charges; CNC: DP charge, same-day netting
        self.cash += float(sum((e.amount for e in entries), _ZERO))
        for e in entries:
            if e.kind is LedgerKind.DP_CHARGE or e.entry_id.endswith("/netting"):
                self.fees.append(dict(at=e.at, tradingsymbol=fill.tradingsymbol, amount=float(-e.amount)))
        self.fills.append(fill)
        self.last_fills[fill.tradingsymbol] = LastFill(fill.side, fill.filled_at)
        realized = after.realized_pnl - realized_before
        if before is not None and before.quantity and abs(after.quantity) < abs(before.quantity):
            if realized < 0:
                self.loss_streak += 1
                self.last_loss_at = fill.filled_at
            else:
                self.loss_streak = 0

    def phase(self, now: datetime):
        """``core.orders.session_phase(now)``: the regular session of ``now``'s day (made once
        a day) at ``now``."""
        day = now.astimezone(IST).date()
        if self._session is None or self._session.date != day:
            self._session = regular_session(day)
        return self._session.phase(now)

    def circuit(self, sym: _Sym, i: int) -> CircuitBand | None:
        """The band of bar ``i`` by the desk's fallback rule (``core.risk.price_bands``): the
        stock's fixed band in force that day, else the F&O dynamic range from the previous
        close flexed by the day's high/low through bar ``i``. None on the first day.
        Remembered for the day per symbol and the day's high and low so far (its only inputs
        that change within a day)."""
        key = (sym.k, sym.day_high[i], sym.day_low[i])
        if key not in self._circuits:
            self._circuits[key] = self._circuit(sym, i)
        return self._circuits[key]

    def _circuit(self, sym: _Sym, i: int) -> CircuitBand | None:
        prev = sym.prev_close[i]
        tick = sym.inst_at(i).tick_size
        if not prev == prev or tick <= 0:  # NaN: first day, no previous close
            return None
        base = price_from_float(float(prev))
        day = sym.days[i]
        row = fixed_band_for(sym.symbol, day, self.cfg.fixed_bands) if self.cfg.fixed_bands else None
        if row is not None:
            return fixed_band(base, row.band_pct, tick)
        high = price_from_float(float(sym.day_high[i]))
        low = price_from_float(float(sym.day_low[i]))
        return dynamic_range(base, high, low, tick, dynamic_rule_for(day))

    # ---------------------------------------------------------------- orders
    def risk_state(self) -> RiskState:
        """The account as the gatekeeper sees it now. Funds, P&L and positions depend only on
        the portfolio (immutable: any fill or fee makes a new one) and the step's marks, so they
        are computed once per (step, portfolio) — a step with many refused entries pays once.
        The whole RiskState is kept while (portfolio, step, orders placed, fills, loss streak)
        is unchanged: a refusal changes none of them (the day's order counts change only with
        an accepted order, the last fills and the loss streak only with a fill)."""
        key = (id(self.pf), self.step, self.seq, len(self.fills), self.loss_streak)
        if self._risk_state is not None and key == self._risk_key and self._risk_pf is self.pf:
            return self._risk_state
        if self._risk_pf is not self.pf or self._risk_step != self.step:
            marks = _paise_marks([t for t, q in self.pos.items() if q], self.close_tl, self.step)
            f = funds(self.pf, marks)
            positions = FrozenMap({(q.instrument_token, q.product): q.quantity for q in self.pf.open_positions()})
            self._risk = (f, pnl(self.pf, marks), positions)
            self._risk_pf, self._risk_step = self.pf, self.step
            self.peak = max(self.peak, f.equity)
        f, p, positions = self._risk
        self._risk_key = key
        self._risk_state = RiskState(
            capital=self.pf.capital, equity=f.equity, equity_peak=self.peak, day_pnl=p.day,
            orders_today=sum(self.orders_today.values()), orders_today_by_symbol=FrozenMap(self.orders_today),
            positions=positions,
            consecutive_losses=self.loss_streak, last_loss_at=self.last_loss_at,
            last_fills=FrozenMap(self.last_fills), available_margin=f.available_margin,
            mis_leverage=self.pf.mis_leverage)
        return self._risk_state

    def margin_rules(self) -> MarginRules:
        """``self.pf.margin_rules``, made once while the portfolio's margins and MIS leverage
        stay the same (a new portfolio per fill carries the same ones)."""
        key = (self.pf.margins, self.pf.mis_leverage)
        if self._rules is None or key[0] is not self._rules_key[0] or key[1] != self._rules_key[1]:
            self._rules, self._rules_key = self.pf.margin_rules, key
        return self._rules

    def place(self, sym: _Sym, i: int, intent: OrderIntent, at: datetime, reason: str,
              ltp: Decimal | None = None) -> bool:
        """Submit ``intent`` at ``at`` through the gatekeeper (its LTP ``ltp`` ₹, default the
        bar's close) and the broker; True when accepted (order id ``last_order_id``), else the
        refusal is recorded (``last_refusal``)."""
        phase = self.phase(at)
        circuit = self.circuit(sym, i)
        held = max(0, self.pos.get(sym.token, 0)) if intent.product is Product.CNC else 0  # sellable CNC
        if self.cfg.use_risk and intent.tag not in _SYSTEM_TAGS:
            price = ltp if ltp is not None else price_from_float(float(sym.c[i]))  # the bar's close
            state = self.risk_state()
            dec = check(OrderChange(ChangeKind.PROPOSE, intent), GateContext(
                sym.inst_at(i), at, phase, ltp=price, circuit=circuit, square_off_cutoff=self.cfg.limits.square_off_cutoff,
                holding_quantity=held,
                position_quantity=state.positions.get((intent.instrument_token, intent.product), 0),
                state=state, limits=self.cfg.limits, margin_rules=self.margin_rules()))
            if not dec.approved:
                self._reject(at, intent, [str(r) for r in dec.reasons], reason)
                self.last_refusal = "; ".join(dec.messages)
                return False
        self.seq += 1
        cutoff = self.cfg.limits.square_off_cutoff if intent.tag not in _SYSTEM_TAGS else time.max
        self.book, events = broker.submit(
            self.book, intent, sym.inst_at(i), order_id=f"BT-{self.seq:06d}", now=at, phase=phase, circuit=circuit,
            position_quantity=self.pos.get(sym.token, 0), square_off_cutoff=cutoff, holding_quantity=held,
            exempt=Exemption.MIS_SQUARE_OFF if intent.tag in _SYSTEM_TAGS else None)
        ev = events[0]
        if isinstance(ev, OrderRejected):
            self._reject(at, intent, [str(r) for r in ev.reasons], reason)
            self.last_refusal = "; ".join(ev.messages)
            return False
        self.last_order_id = f"BT-{self.seq:06d}"
        if intent.tag not in _SYSTEM_TAGS:
            self.orders_today[sym.symbol] = self.orders_today.get(sym.symbol, 0) + 1
        return True

    def entry(self, sym: _Sym, i: int, intent: OrderIntent, at: datetime, reason: str) -> bool:
        """Place an entry (a strategy's or an ATO alert's) as :meth:`place`; when flat it carries
        ``BacktestConfig.exits``' stop/target from the bar's close (``core.backtest.exits``)."""
        if self.cfg.exits is not None and not self.pos.get(sym.token, 0):
            intent = self.cfg.exits.attach(intent, price_from_float(float(sym.c[i])), sym.inst_at(i).tick_size)
        return self.place(sym, i, intent, at, reason)

    def _reject(self, at: datetime, intent: OrderIntent, reasons: list[str], why: str) -> None:
        self.rejections.append(dict(at=at, tradingsymbol=intent.tradingsymbol, side=str(intent.side),
                                    quantity=intent.quantity, reasons=",".join(reasons), signal=why))

    def square_off(self, sym: _Sym, i: int, end: datetime, last_bar: BarTicks | None) -> None:
        """Close an open MIS position at MARKET. At/after the cut-off the order is placed at the
        bar's close and fills on the next bar's first tick; on the instrument's last bar of the
        day (no next bar) it is placed and filled on that bar's last tick. The position's exits are
        cancelled first (as the desk's square-off)."""
        qty = self.pos.get(sym.token, 0)
        if qty and self.exits is not None:
            self.exits.cancel(sym, i, "MIS auto square-off", end)
        if qty and last_bar is not None:  # no next bar today: an exit waiting for it never fills
            for o in self.book.open_orders(sym.token):
                self.book, _ = broker.cancel(self.book, o.order_id, now=end, message="no more bars today")
        if not qty or self.book.open_orders(sym.token):
            return
        at = last_bar.time(last_bar.k - 1) if last_bar is not None else end
        side = Side.SELL if qty > 0 else Side.BUY
        intent = OrderIntent(sym.token, sym.symbol, side, abs(qty), Product.MIS, OrderType.MARKET,
                             tag="SQUAREOFF", strategy=self.s.name)
        if not self.place(sym, i, intent, at, "auto square-off"):
            return
        if self.cfg.square_off_fee:
            # one ₹50 + GST fee per Zerodha square-off order of at most 30,000 shares
            fee = square_off_charge(schedule_for(at.astimezone(IST).date(), self.cfg.schedules), abs(qty))
            self.pf = replace(self.pf, ledger=(*self.pf.ledger, LedgerEntry(
                f"fee-{self.seq}", at, LedgerKind.SQUARE_OFF_CHARGE, -fee.total, memo="auto square-off ₹50 + GST")),
                charges_today=self.pf.charges_today + fee.total)
            self.cash -= float(fee.total)
            self.fees.append(dict(at=at, tradingsymbol=sym.symbol, amount=float(fee.total)))
        if last_bar is not None:
            self.book, events = broker.process_tick(self.book, last_bar.tick(last_bar.k - 1, self.levels), now=at,
                                               phase=self.phase(at), circuit=self.circuit(sym, i),
                                               config=self.bcfg)
            for ev in events:
                if isinstance(ev, OrderFilled):
                    self.book_fill(ev.fill)
            self.prune()


_MINUTE = timedelta(minutes=1)
_LEDGER_FOLD = 64  # ledger rows kept before :meth:`_Run.prune` folds them into a carried balance


def _span(strategy: Strategy) -> timedelta:
    """A bar's length: one session for a daily strategy (``core.backtest.daily``), else a minute."""
    return DAY_SPAN if strategy.interval == "day" else _MINUTE


def run_backtest(strategy: Strategy, universe: Sequence[InstrumentBars], config: BacktestConfig | None = None,
                 *, progress: ProgressFn | None = None) -> BacktestResult:
    """Run ``strategy`` over ``universe`` (see module docstring).

    ``progress(fraction, message)`` is called at most once per 2 % of the timeline (on the
    first step visited in each 2 %), and with 1.0 at the end.
    Raises ``ValidationError`` for an empty universe, an instrument without bars, or bars
    without a tz-aware index.
    """
    cfg = config or BacktestConfig()
    if cfg.exits is not None and strategy.product is not Product.MIS:
        raise ValidationError(f"exits in backtests are MIS OCO groups; {strategy.name} trades {strategy.product} "
                              "(CNC GTTs run on the desk only)")
    span = _span(strategy)
    alerts = check_alerts(cfg.alerts, {int(u.instrument.instrument_token) for u in universe}, strategy.product)
    syms, all_ts = _timeline(strategy, universe, cfg.limits.square_off_cutoff, span)
    times = pd.DatetimeIndex(all_ts, tz="UTC").tz_convert(IST).to_pydatetime()
    run = _Run(strategy, syms, cfg, times[0])
    run.alerts = BacktestAlerts(alerts, syms) if alerts else None
    if strategy.product is Product.CNC or strategy.interval == "day":  # T+1 dates; a daily order's next session
        run.settles = settlement_days(sorted({t.date() for t in times}))
    equity = np.empty(len(all_ts))
    gross = np.empty(len(all_ts))
    counts = np.zeros(len(all_ts), dtype=np.int64)
    for sym in syms:
        counts[sym.steps] += 1
    bars_done = np.cumsum(counts).tolist()
    first_of_day = [True] + [a.date() != b.date() for a, b in zip(times[1:], times[:-1], strict=True)]
    n_steps = len(all_ts)
    report_every = max(1, n_steps // 50)
    next_report = 0
    loop = _idle_skipping_loop if cfg.skip_idle else _full_loop
    # The loop makes and drops many small immutable objects (orders, ticks, fills, portfolios)
    # and no reference cycles that must go mid-run: the cyclic GC is paused for it (it only
    # rescanned the survivors, ~4 % of the 1-minute bench run's CPU) and restored, if it was on, at the end.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for step, ts, group in loop(run, syms, first_of_day, times):
            _fill_marks(run, equity, gross, step)
            run.step = step
            if first_of_day[step]:
                run.new_day(ts.date(), ts)
            _run_step(run, strategy, group, ts, cfg)
            equity[step], gross[step] = _marked(run, step)
            run.marked = step
            if progress is not None and step >= next_report:  # steps skipped as idle report nothing
                progress(step / n_steps, f"{ts:%Y-%m-%d %H:%M} · {bars_done[step]} bars")
                next_report = (step // report_every + 1) * report_every
    finally:
        if gc_was_on:
            gc.enable()
    _fill_marks(run, equity, gross, n_steps)
    return _result(run, cfg, all_ts, equity, gross, bars_done[-1], progress)


def _full_loop(run: _Run, syms: list[_Sym], first_of_day: list[bool], times) -> Iterator[tuple]:
    """Every step with every symbol that has a bar then: ``(step, time, [(symbol, bar index)])``."""
    for step, ts in enumerate(times):
        yield step, ts, [(s, s.step_bar[step]) for s in syms if s.step_bar[step] >= 0]


def _idle_skipping_loop(run: _Run, syms: list[_Sym], first_of_day: list[bool], times) -> Iterator[tuple]:
    """Only the steps and symbols where something can happen (see the module docstring), in the
    full engine's order; marks the skipped steps' equity before each step it yields."""
    flat_at: dict[int, list[_Sym]] = {}
    for s in syms:  # token order, so each step's list is too
        for i in np.flatnonzero(s.wake[0]).tolist():
            flat_at.setdefault(int(s.steps[i]), []).append(s)
    watch: dict[int, _Sym] = {}  # k → symbol holding a position or an open order
    ordered: set[int] = set()  # tokens with an open order (the book changes only on visited steps)
    by_token = {s.token: s for s in syms}
    alerts = run.alerts
    for step, ts in enumerate(times):
        flat = flat_at.get(step)
        alerted = alerts.watched(step) if alerts is not None and alerts.live else None
        if not (flat or watch or alerted or first_of_day[step]):
            continue
        group: dict[int, tuple[_Sym, int]] = {}
        for k, s in watch.items():
            i = s.step_bar[step]
            if i < 0:
                continue
            q = run.pos.get(s.token, 0)
            if (q > 0 and s.wake[1][i]) or (q < 0 and s.wake[2][i]) or s.token in ordered:
                group[k] = (s, i)
        for s in flat or ():
            if s.k not in watch:
                group[s.k] = (s, s.step_bar[step])
        for s, i in alerted or ():  # a bar of an instrument a live alert reads (core.backtest.alerts)
            group[s.k] = (s, i)
        if not group and not first_of_day[step]:
            continue
        yield step, ts, [group[k] for k in sorted(group)]
        for k, (s, _) in group.items():
            watch[k] = s
        ordered = {o.intent.instrument_token for o in run.book.orders.values() if o.is_open}
        for t in ordered:  # an ATO order on an instrument without a bar this step
            watch.setdefault(by_token[t].k, by_token[t])
        watch = {k: s for k, s in watch.items() if run.pos.get(s.token, 0) or s.token in ordered}


def _timeline(strategy: Strategy, universe: Sequence[InstrumentBars],
              cutoff: time, span: timedelta = timedelta(minutes=1)) -> tuple[list[_Sym], np.ndarray]:
    """Prepared symbols (by token) and the union of their bar times; each symbol gets its
    timeline ``steps``, ``step_bar`` and ``close_tl``. Raises ``ValidationError`` (see above)."""
    if not universe:
        raise ValidationError("the universe is empty; pick at least one symbol to backtest")
    empty = [ib.instrument.tradingsymbol for ib in universe if ib.bars is None or not len(ib.bars)]
    if empty:
        raise ValidationError(f"no bars for {empty}; pick a date range with data or drop those symbols")
    ordered = sorted(universe, key=lambda u: u.instrument.instrument_token)
    if strategy.interval == "day":  # one pass over the whole universe (many short series)
        from core.backtest.daily_prepare import prepare_daily

        syms = prepare_daily(strategy, ordered, _Sym)
    else:
        syms = [_prepare(strategy, ib, cutoff, span) for ib in ordered]
    all_ts = np.unique(np.concatenate([s.ts for s in syms]))
    for k, s in enumerate(syms):
        s.k = k
        s.steps = np.searchsorted(all_ts, s.ts)
        at = np.full(len(all_ts), -1, dtype=np.int64)
        at[s.steps] = np.arange(len(s.ts))
        s.step_bar = at.tolist()
        last = np.maximum.accumulate(at)
        s.close_tl = np.where(last >= 0, s.c[np.maximum(last, 0)], np.nan)
        # a fill's ticks, per bar: the previous close (the day's open on the first day), the NSE tick ₹
        s.tick_prev = np.where(np.isnan(s.prev_close), s.day_open, s.prev_close)
        s.tick_size = (np.array([float(inst.tick_size) for inst in s.day_insts])[s.day_id] if s.day_id is not None
                       else np.full(len(s.c), float(s.inst.tick_size)))
    return syms, all_ts


def _tick_maker(sym: _Sym, i: int, ts: datetime, cfg: BacktestConfig,
                span: timedelta = timedelta(minutes=1)) -> Callable[[], BarTicks]:
    """A lazy, cached ``BarTicks`` of bar ``i`` of ``sym`` (built only if an order needs its ticks)."""
    cache: dict[str, BarTicks] = {}

    def make() -> BarTicks:
        if "t" not in cache:
            cache["t"] = BarTicks(sym.token, ts, sym.o[i], sym.h[i], sym.lo[i], sym.c[i], sym.v[i],
                                  k=cfg.ticks_per_bar, tick_size=float(sym.tick_size[i]),
                                  prev_close=float(sym.tick_prev[i]), day_open=float(sym.day_open[i]),
                                  with_depth=cfg.depth, span_s=int(span.total_seconds()))
        return cache["t"]

    return make


def _run_step(run: _Run, strategy: Strategy, group: list[tuple[_Sym, int]], ts: datetime,
              cfg: BacktestConfig) -> None:
    """One timeline step: open orders meet the bar's ticks, then at its close the strategy
    decides and MIS positions past the cut-off (or at the day's last bar) are squared off."""
    makers = {}
    for sym, i in group:
        makers[sym.token] = make = _tick_maker(sym, i, ts, cfg, run.span)
        run.fill_on_bar(sym, i, make)
    end = ts + run.span
    at = pre_open(run.settles[end.date()]) if run.span == DAY_SPAN else end  # a daily order: next pre-open
    cutoff = cfg.limits.square_off_cutoff
    if run.alerts is not None:  # alerts see the bars' closes first; an ATO order is placed at ``at``
        run.alerts.on_bars(run, group, end, at)
    for sym, i in group:
        position = run.pos.get(sym.token, 0)
        f = {c: sym.feats[c][i] for c in sym.cols}
        signal: Signal | None = strategy.decide(end, f, position)
        if signal is not None and not run.book.open_orders(sym.token):  # exits working are open orders
            run.entry(sym, i, strategy.intent(sym.token, sym.symbol, signal), at, signal.reason)
        if run.mis and run.pos.get(sym.token, 0) and (end.time() >= cutoff or sym.last_of_day[i]):
            run.square_off(sym, i, end, makers[sym.token]() if sym.last_of_day[i] else None)


def _marked(run: _Run, step: int) -> tuple[float, float]:
    """``(equity, gross exposure)`` in ₹ at ``step`` with open positions at their last close."""
    value = 0.0
    gv = 0.0
    for tok, q in run.pos.items():
        if q:
            mv = q * float(run.close_tl[tok][step])
            value += mv
            gv += abs(mv)
    return run.cash + value, gv


def _fill_marks(run: _Run, equity: np.ndarray, gross: np.ndarray, upto: int) -> None:
    """Record the steps after ``run.marked`` and before ``upto`` (skipped: nothing happened, so
    cash and positions are as now) — vectorised, the same floats :func:`_marked` gives."""
    a = run.marked + 1
    if a >= upto:
        return
    value = np.zeros(upto - a)
    gv = np.zeros(upto - a)
    for tok, q in run.pos.items():
        if q:
            mv = q * run.close_tl[tok][a:upto]
            value += mv
            gv += np.abs(mv)
    equity[a:upto] = run.cash + value
    gross[a:upto] = gv
    run.marked = upto - 1


def _result(run: _Run, cfg: BacktestConfig, all_ts: np.ndarray, equity: np.ndarray, gross: np.ndarray,
            bars_done: int, progress: ProgressFn | None) -> BacktestResult:
    """The equity curve (stamped at each bar's close), fills, round trips, metrics and rejections."""
    index = pd.DatetimeIndex(all_ts, tz="UTC").tz_convert(IST) + run.span
    eq = pd.DataFrame({"equity": equity, "exposure": gross}, index=index)
    peak = eq["equity"].cummax()
    eq["drawdown_pct"] = (eq["equity"] / peak - 1.0) * 100.0
    fills = fills_frame(run.fills)
    trades = round_trips(fills)
    fees = sum(f["amount"] for f in run.fees)
    metrics = compute_metrics(eq, trades, float(cfg.capital), extra_charges=fees)
    if progress is not None:
        progress(1.0, f"done · {bars_done} bars · {len(trades)} trades")
    rej = pd.DataFrame(run.rejections, columns=["at", "tradingsymbol", "side", "quantity", "reasons", "signal"])
    return BacktestResult(metrics, eq, fills, trades, rej, bars_done,
                          run.alerts.frame() if run.alerts is not None else empty_frame())



FILL_COLUMNS = ["fill_id", "order_id", "filled_at", "tradingsymbol", "instrument_token", "side", "quantity", "price",
                "charges", "tag"]


def fills_frame(fills: Sequence) -> pd.DataFrame:
    """Core ``Fill`` objects → the ``fills`` frame of :class:`BacktestResult`."""
    fills = list(fills)
    if not fills:
        return pd.DataFrame([], columns=FILL_COLUMNS)
    cols = dict(fill_id=[f.fill_id for f in fills], order_id=[f.order_id for f in fills],
                filled_at=[f.filled_at for f in fills], tradingsymbol=[f.tradingsymbol for f in fills],
                instrument_token=[f.instrument_token for f in fills], side=[str(f.side) for f in fills],
                quantity=[f.quantity for f in fills], price=[f.price for f in fills],
                charges=[f.charges.total for f in fills], tag=[f.tag for f in fills])
    return pd.DataFrame(cols, columns=FILL_COLUMNS)
