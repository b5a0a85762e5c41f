"""Read side of the paper desk: market look-ups, the account snapshot, risk state, books and
analytics. ``TradingEngine`` (the write side) builds on it. Money ``Decimal`` rupees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.adapters.trading_store import TradingStore
from app.trading.config import TradingConfig
from app.trading.rows import (
    CHARGE_FIELDS,
    approval_view,
    order_from_row,
    order_view,
    pending_from_row,
    position_from_row,
    trade_view,
)
from app.trading.views import (
    ApprovalView,
    FundsView,
    LimitsView,
    NoticeView,
    OrderView,
    PositionView,
    RiskStatusView,
    TradeView,
)
from core.approvals import Origin, origin_of, shadow_pnl, went_through_approvals
from core.charges import Charges, backfilled_schedules, schedule_for
from core.errors import ValidationError
from core.margins import open_order_price
from core.models import Instrument, Tick
from core.orders import PAISA, ZERO, CircuitBand, FrozenMap, Product, Side, price_from_float, session_phase
from core.portfolio import CHARGE_KINDS, LedgerEntry, LedgerKind, OpenOrderMargin, Portfolio, funds, pnl
from core.risk import LastFill, RiskLimits, RiskState
from core.risk.limits_input import limits_from_input
from core.risk.price_bands import band_from_limits, dynamic_range, dynamic_rule_for
from core.sessions import SessionPhase
from core.timeutil import IST, require_aware, to_ist

if TYPE_CHECKING:  # pragma: no cover (pandas loads on the first report: issue 16 item 7)
    import pandas as pd

#: Ledger-only charges (fee + GST in one row), not on any fill: Zerodha posts them on the ledger.
_LEDGER_FEE_KINDS = ("SQUARE_OFF_CHARGE", "DP_CHARGE")
#: Orders the desk places itself (tag → strategy label in P&L); not counted against order limits.
_SYSTEM_GROUPS = {"SQUAREOFF": "MIS square-off", "KILLSWITCH": "kill switch"}


class TradingBooks:
    """Market look-ups and every read of the paper account (see ``TradingService``)."""

    #: token -> (lower_circuit_limit, upper_circuit_limit) ₹ from a quote, or None (set by the service)
    circuit_limits: Any = None

    def __init__(self, config: TradingConfig, store: TradingStore, instruments: Any, ticks: Any,
                 calendar: Any = None) -> None:
        self.config = config
        self.store = store
        self.instruments = instruments
        self.ticks = ticks
        self.calendar = calendar
        self._capital_ready = False
        #: (version, RiskLimits) of the last limits row parsed (``risk_limits_obj``)
        self._limits_parsed: tuple[int | None, RiskLimits | None] = (None, None)
        #: Dated charge schedules; replayed 2016 sessions use the earliest one's rates.
        self.schedules = backfilled_schedules()

    # ------------------------------------------------------------------ market

    def instrument(self, token: int) -> Instrument:
        """The instrument ``token``; ``ValidationError`` if unknown or not tradable."""
        inst = self.instruments.by_token(int(token))
        if not inst.tradable:
            raise ValidationError(f"{inst.tradingsymbol} is an index and cannot be traded; pick a stock")
        return inst

    def latest(self, tokens: Iterable[int]) -> dict[int, Any]:
        """``{token: CachedTick}`` of the latest ticks (absent when never ticked)."""
        return self.ticks.latest(list(tokens))

    def ltps(self, tokens: Iterable[int]) -> dict[int, Decimal]:
        return {t: price_from_float(c.tick.last_price) for t, c in self.latest(tokens).items()
                if c.tick.last_price > 0}

    @staticmethod
    def tick_time(cached: Any) -> datetime:
        """The market time of a cached tick: its exchange timestamp, else when it was received."""
        return cached.tick.exchange_timestamp or cached.received_at

    def circuit(self, inst: Instrument, tick: Tick | None) -> CircuitBand | None:
        """The instrument's price band now: the quote's ``lower_circuit_limit``/``upper_circuit_limit``
        when ``circuit_limits`` (token → (lower, upper) ₹ or None) has them, else NSE's dynamic
        price range from the tick (previous close, day high/low; ``core.risk.price_bands``:
        10 % flexed in 5 % steps, NSE/FAOP/64995 from 2024-11-18). None without a previous close."""
        limits = self.circuit_limits(inst.instrument_token) if self.circuit_limits is not None else None
        if limits:
            band = band_from_limits(*limits)
            if band is not None:
                return band
        if tick is None or tick.close <= 0 or inst.tick_size <= 0:
            return None
        at = tick.exchange_timestamp or tick.last_trade_time
        day = to_ist(at).date() if at is not None else date.max  # no timestamp: the rule in force today
        prev = price_from_float(tick.close)
        ltp = price_from_float(tick.last_price) if tick.last_price > 0 else prev
        high = max(price_from_float(tick.high) if tick.high > 0 else ltp, ltp)
        low = min(price_from_float(tick.low) if tick.low > 0 else ltp, ltp)
        return dynamic_range(prev, high, low, inst.tick_size, dynamic_rule_for(day))

    def phase(self, now: datetime) -> SessionPhase:
        if self.calendar is not None:
            return self.calendar.phase(now)
        if to_ist(now).weekday() >= 5:
            return SessionPhase.CLOSED
        return session_phase(now)

    def settles_on(self, day: date) -> date:
        """T+1: the next trading day after ``day``."""
        if self.calendar is not None:
            return self.calendar.next_trading_day(day)
        nxt = day + timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += timedelta(days=1)
        return nxt

    # ------------------------------------------------------------------ account snapshot

    def ensure_capital(self, at: datetime) -> None:
        if self._capital_ready:
            return
        self.store.ensure_capital(dict(
            entry_id="capital-0", at=at, day=to_ist(at).date(), kind="CAPITAL",
            amount=self.config.capital.quantize(PAISA), reference="", instrument_token=0, trace_id="",
            memo="opening capital"))
        self._capital_ready = True

    def portfolio(self, day: date) -> Portfolio:
        """The account as a core ``Portfolio`` on ``day``: ledger summarised one entry per kind
        (so ``cash`` and charges are exact), positions from the store, today's realized and
        charges from fills/ledger of ``day``."""
        sums, today = self.store.ledger_sums_with_day(day)
        epoch = datetime(2000, 1, 1, tzinfo=IST)
        ledger = tuple(LedgerEntry(f"sum-{k}", epoch, LedgerKind(k), v) for k, v in sorted(sums.items()))
        capital = sums.get("CAPITAL", self.config.capital)
        positions = {(int(r["instrument_token"]), Product(r["product"])): position_from_row(r, day=day)
                     for r in self.store.positions()}
        charges_today = -sum((today.get(k, ZERO) for k in CHARGE_KINDS), ZERO)
        fill_sums = self.store.fill_sums(day)  # one aggregate read, not every fill of the day
        return Portfolio(
            capital=capital if capital > 0 else self.config.capital, mis_leverage=self.config.mis_leverage,
            trading_day=day, ledger=ledger, positions=FrozenMap(positions),
            realized_today=fill_sums["realized"], charges_today=charges_today,
            margins=self.config.margins, mis_realized_today=fill_sums["mis_realized"],
            btst_proceeds_today=self._btst_proceeds(day, positions),
        )

    def _btst_proceeds(self, day: date, positions: dict) -> Decimal:
        """₹ proceeds of ``day``'s BTST sells (CNC sells of T1 shares), usable from the next
        trading day (support.zerodha.com, "DP charges for BTST trades"). Derived from the stored
        fills as ``core.portfolio.apply_fill`` does: a sell takes today's buys, then settled
        shares, then T1 ones (buys settling on ``day``)."""
        t1_lots = self.store.t1_cnc_buys(day)
        if not t1_lots:
            return ZERO
        fills = [f for f in self.store.list_fills(day=day)
                 if f["product"] == Product.CNC and int(f["instrument_token"]) in t1_lots]
        total = ZERO
        for token, t1 in t1_lots.items():
            mine = [f for f in fills if int(f["instrument_token"]) == token]
            pos = positions.get((token, Product.CNC))
            net = sum(int(f["quantity"]) * (1 if f["side"] == Side.BUY else -1) for f in mine)
            qty = (pos.quantity if pos is not None else 0) - net  # at the start of the day
            bought = sold = 0
            for f in mine:
                q = int(f["quantity"])
                if f["side"] == Side.SELL:
                    today = min(max(qty, 0), max(0, bought - sold))
                    settled = max(0, max(qty, 0) - today - t1)
                    total += max(0, q - today - settled) * Decimal(f["price"])
                    sold, qty = sold + q, qty - q
                else:
                    bought, qty = bought + q, qty + q
        return total

    def open_order_margins(self, exclude: str | None = None) -> list[OpenOrderMargin]:
        """The open orders other than ``exclude`` as ``(intent of the unfilled part, price)``: the
        price ``core.margins.open_order_price`` gives (limit, else the protection price of a
        protected MARKET/SL-M resting as a LIMIT, else the trigger). An unprotected MARKET order
        fills on the next tick and is left out.
        ``core.margins.open_orders_margin`` turns them into ₹ blocked, for the Funds view and the
        gatekeeper's reserved margin alike."""
        out: list[OpenOrderMargin] = []
        for row in self.store.list_orders(open_only=True):
            if row["order_id"] == exclude:
                continue
            order = order_from_row(row)
            price = open_order_price(order)
            if price is None or order.pending_quantity <= 0:
                continue
            out.append((replace(order.intent, quantity=order.pending_quantity), price))
        return out

    def risk_limits_obj(self) -> RiskLimits:
        """The limits in force: the latest saved version (parsed once per version: a save, by any
        process, is a new version, so an edit takes effect on the next read), else the defaults."""
        row = self.store.latest_limits()
        version, parsed = self._limits_parsed
        if parsed is None or version != (row["version"] if row else 0):
            parsed = (limits_from_json(row["limits"]) if row is not None
                      else RiskLimits(square_off_cutoff=self.config.square_off_cutoff))
            self._limits_parsed = (row["version"] if row else 0, parsed)
        return parsed

    def risk_state(self, now: datetime, portfolio: Portfolio | None = None,
                   ltps: dict[int, Decimal] | None = None) -> RiskState:
        day = to_ist(now).date()
        pf = portfolio or self.portfolio(day)
        open_pos = pf.open_positions()
        marks = ltps if ltps is not None else self.ltps({p.instrument_token for p in open_pos})
        f = funds(pf, marks)
        p = pnl(pf, marks)
        counts = self.store.count_orders(day)
        by_symbol: dict[str, int] = {}
        for r in counts:
            if r["tag"] not in _SYSTEM_GROUPS:
                by_symbol[r["tradingsymbol"]] = by_symbol.get(r["tradingsymbol"], 0) + int(r["n"])
        losses, last_loss = 0, None
        for r in self.store.closing_fills():
            if Decimal(r["realized"]) < 0:
                losses += 1
                last_loss = last_loss or r["filled_at"]
            else:
                break
        last_fills: dict[str, LastFill] = {}
        for r in self.store.last_fills(day):
            last_fills[r["tradingsymbol"]] = LastFill(Side(r["side"]), r["filled_at"])
        desk = self.store.desk_state() or {}
        peak = max(Decimal(desk.get("equity_peak") or 0), pf.capital, f.equity)
        return RiskState(
            capital=pf.capital, equity=f.equity, equity_peak=peak, day_pnl=p.day,
            orders_today=sum(by_symbol.values()), orders_today_by_symbol=FrozenMap(by_symbol),
            positions=FrozenMap({(q.instrument_token, q.product): q.quantity for q in open_pos}),
            consecutive_losses=losses, last_loss_at=last_loss, last_fills=FrozenMap(last_fills),
            halted=bool(desk.get("halted")), safe_mode=bool(desk.get("safe_mode")) and desk.get("safe_mode_day") == day,
            available_margin=f.available_margin, mis_leverage=pf.mis_leverage,
        )

    # ------------------------------------------------------------------ views

    def approval_view(self, approval_id: str, now: datetime | None = None) -> ApprovalView:
        row = self.store.get_approval(approval_id)
        if row is None:
            raise ValidationError(f"unknown approval_id {approval_id!r}; pick one from the Approvals page")
        return self._view(row, now)

    def _view(self, row: dict, now: datetime | None, ltps: dict[int, Decimal] | None = None) -> ApprovalView:
        shadow = None
        if row["status"] in ("REJECTED", "EXPIRED"):
            marks = ltps if ltps is not None else self.ltps([int(row["instrument_token"])])
            ltp = marks.get(int(row["instrument_token"]))
            if ltp is not None and ltp > 0:
                shadow = shadow_pnl(pending_from_row(row), ltp)
        order = self.store.order_for_approval(row["approval_id"]) if row["status"] == "APPROVED" else None
        return approval_view(row, now=now, shadow=shadow, order_id=order["order_id"] if order else None)

    def history(self, limit: int = 100) -> list[ApprovalView]:
        """Decided proposals only: the ticket's direct orders and the desk's exits (recorded as
        APPROVED rows) are left out (``core.approvals.went_through_approvals``)."""
        statuses = ("APPROVED", "REJECTED", "EXPIRED")
        fetch = max(limit, 1) * 4
        while True:  # direct placements are skipped, so read more rows until ``limit`` proposals or the end
            rows = self.store.list_approvals(statuses, limit=fetch, newest_first=True)
            picked = [r for r in rows if went_through_approvals(source=r["source"], approval_id=r["approval_id"],
                                                                tag=r.get("tag"))]
            if len(picked) >= limit or len(rows) < fetch:
                break
            fetch *= 4
        picked = picked[:limit]
        ltps = self.ltps({int(r["instrument_token"]) for r in picked})
        return [self._view(r, None, ltps) for r in picked]

    def notices(self, limit: int = 20) -> list[NoticeView]:
        """Proposals to tell the trader about, newest first, at most ``limit``: the ones that
        expired undecided and the pending ones the gatekeeper refused (at the proposal or at an
        approve). Only proposals (``Origin.APPROVAL``); ``at`` is the market time it happened."""
        out: list[NoticeView] = []
        for r in self.store.list_approvals(("EXPIRED",), limit=limit, newest_first=True):
            if not went_through_approvals(source=r["source"], approval_id=r["approval_id"], tag=r.get("tag")):
                continue
            what = f"{r['side']} {int(r['quantity']):,} {r['tradingsymbol']}"
            out.append(NoticeView(
                notice_id=f"{r['approval_id']}:expired", kind="expired", approval_id=r["approval_id"],
                tradingsymbol=r["tradingsymbol"], at=to_ist(r["decided_at"] or r["expires_at"]),
                text=f"Proposal {what} ({r['source']}) expired undecided at "
                     f"{to_ist(r['expires_at']):%d %b %H:%M} IST: nothing was placed.", level="warning"))
        for r in self.store.list_approvals(("PENDING",)):
            if r["risk_approved"] or not went_through_approvals(source=r["source"], approval_id=r["approval_id"]):
                continue
            what = f"{r['side']} {int(r['quantity']):,} {r['tradingsymbol']}"
            why = "; ".join(r["risk_messages"] or ()) or ", ".join(r["risk_reasons"] or ()) or "risk check failed"
            at = r["risk_at"] or r["created_at"]
            out.append(NoticeView(
                notice_id=f"{r['approval_id']}:refused:{to_ist(at):%Y%m%d%H%M%S}", kind="refused",
                approval_id=r["approval_id"], tradingsymbol=r["tradingsymbol"], at=to_ist(at),
                text=f"Risk refused the proposal {what} ({r['source']}): {why}.", level="error"))
        out.sort(key=lambda n: n.at, reverse=True)
        return out[:limit]

    def order_book(self, day: date | None) -> list[OrderView]:
        return [order_view(r) for r in self.store.list_orders(day=day)]

    def trade_book(self, day: date | None) -> list[TradeView]:
        return [trade_view(r) for r in self.store.list_fills(day=day, newest_first=True)]

    def positions(self, now: datetime) -> list[PositionView]:
        require_aware(now, "now")
        day = to_ist(now).date()
        rows = [r for r in self.store.positions() if int(r["quantity"]) != 0 or r["day"] == day]
        latest = self.latest({int(r["instrument_token"]) for r in rows})
        realized_today: dict[tuple[int, str], Decimal] = {}
        for f in self.store.list_fills(day=day):
            k = (int(f["instrument_token"]), f["product"])
            realized_today[k] = realized_today.get(k, ZERO) + Decimal(f["realized"])
        out = []
        for r in rows:
            pos = position_from_row(r, day=day)
            cached = latest.get(pos.instrument_token)
            ltp = price_from_float(cached.tick.last_price) if cached else None
            unreal = pos.unrealized(ltp) if (ltp is not None and pos.quantity) else ZERO
            out.append(PositionView(
                instrument_token=pos.instrument_token, tradingsymbol=pos.tradingsymbol, product=str(pos.product),
                quantity=pos.quantity, average_price=pos.average_price, ltp=ltp, unrealized=unreal,
                realized=pos.realized_pnl,
                day_pnl=realized_today.get((pos.instrument_token, str(pos.product)), ZERO) + unreal,
                value=(ltp * pos.quantity) if ltp is not None else pos.cost,
                buy_quantity=pos.buy_quantity, buy_value=pos.buy_value, sell_quantity=pos.sell_quantity,
                sell_value=pos.sell_value, ltp_at=to_ist(self.tick_time(cached)) if cached else None,
            ))
        return out

    def funds(self, now: datetime) -> FundsView:
        require_aware(now, "now")
        day = to_ist(now).date()
        self.ensure_capital(now)
        pf = self.portfolio(day)
        marks = self.ltps({p.instrument_token for p in pf.open_positions()})
        f, p = funds(pf, marks, self.open_order_margins()), pnl(pf, marks)
        return FundsView(
            capital=pf.capital, cash=f.cash, available=f.available_margin, margin_used=f.used_margin,
            realized=p.realized, unrealized=p.unrealized, charges_today=p.charges_today, charges_total=p.charges,
            gross_pnl=p.gross, net_pnl=p.net, day_pnl=p.day, equity=f.equity,
            reconciled=f.cash == pf.capital + p.realized - p.charges - sum((q.cost for q in pf.positions.values()), ZERO),
        )

    def charges_today(self, now: datetime) -> Charges:
        day = to_ist(require_aware(now, "now")).date()
        s = self.store.fill_sums(day)
        ledger = self.store.ledger_sums(day)
        gst_rate = schedule_for(day, self.schedules).gst_rate
        fee: dict[str, Decimal] = {}
        gst = s["gst"]
        for kind in _LEDGER_FEE_KINDS:  # each row is fee + GST together: split at the schedule's GST rate
            total = -ledger.get(kind, ZERO)
            fee[kind] = (total / (1 + gst_rate)).quantize(PAISA) if total else ZERO
            gst += total - fee[kind]
        return Charges(**{k: s[k] for k in CHARGE_FIELDS if k not in ("square_off_fee", "gst")},
                       square_off_fee=s["square_off_fee"] + fee["SQUARE_OFF_CHARGE"], dp=fee["DP_CHARGE"], gst=gst)

    def risk_limits(self) -> LimitsView:
        row = self.store.latest_limits()
        lim = self.risk_limits_obj()
        return LimitsView(**{f.name: getattr(lim, f.name) for f in fields(RiskLimits)},
                          version=row["version"] if row else 0, saved_by=row["saved_by"] if row else "",
                          saved_at=to_ist(row["saved_at"]) if row else None)

    def risk_status(self, now: datetime) -> RiskStatusView:
        require_aware(now, "now")
        self.ensure_capital(now)
        st = self.risk_state(now)
        lim = self.risk_limits_obj()
        cooldown = None
        if (lim.max_consecutive_losses and st.consecutive_losses >= lim.max_consecutive_losses
                and st.last_loss_at is not None):
            until = st.last_loss_at + timedelta(minutes=lim.cooldown_minutes)
            cooldown = to_ist(until) if until > now else None
        dd = ((st.equity - st.equity_peak) * 100 / st.equity_peak).quantize(PAISA) if st.equity_peak else ZERO
        desk = self.store.desk_state() or {}
        return RiskStatusView(
            safe_mode=st.safe_mode, halted=st.halted, day_pnl=st.day_pnl.quantize(PAISA), drawdown_pct=dd,
            equity=st.equity.quantize(PAISA), equity_peak=st.equity_peak.quantize(PAISA),
            orders_today=st.orders_today, open_positions=len(st.positions),
            consecutive_losses=st.consecutive_losses, cooldown_until=cooldown, limits=self.risk_limits(),
            halted_by=desk.get("halted_by") or "", halted_at=to_ist(desk["halted_at"]) if desk.get("halted_at") else None,
        )

    # ------------------------------------------------------------------ analytics

    def equity_curve(self, now: datetime | None = None) -> pd.DataFrame:
        import pandas as pd

        realized = {f["fill_id"]: Decimal(f["realized"]) for f in self.store.list_fills()}
        ts, eq = [], []
        equity = ZERO
        for e in self.store.ledger_entries():
            kind = e["kind"]
            if kind in ("CAPITAL", *CHARGE_KINDS):
                equity += Decimal(e["amount"])
            elif e["reference"] in realized:
                equity += realized.pop(e["reference"])
            else:
                continue
            ts.append(e["at"])
            eq.append(float(equity))
        if now is not None and ts:
            require_aware(now, "now")
            f = self.funds(now)
            if f.unrealized:  # open positions: the last point is marked to the latest LTPs
                ts.append(max(now, pd.Timestamp(ts[-1]).to_pydatetime()))
                eq.append(float(f.equity))
        frame = pd.DataFrame({"ts": pd.to_datetime(ts, utc=True).tz_convert(IST) if ts else
                              pd.Series([], dtype="datetime64[ns, Asia/Kolkata]"),
                              "equity": pd.Series(eq, dtype="float64")})
        peak = frame["equity"].cummax()
        frame["drawdown"] = (frame["equity"] - peak).astype("float64")
        frame["drawdown_pct"] = (frame["drawdown"] * 100 / peak.where(peak > 0)).fillna(0.0).astype("float64")
        return frame

    def _fee_entries(self, start: date | None, end: date | None) -> list[dict]:
        """Ledger-only fees (square-off, DP) and the same-day CNC netting corrections
        (``<fill_id>/netting``, issue 13) of IST days ``start``..``end``; amounts < 0 are charges."""
        return [e for e in self.store.ledger_entries() if (e["kind"] in _LEDGER_FEE_KINDS
                or (e["kind"] == "CHARGES" and str(e["entry_id"]).endswith("/netting")))
                and _in_range(e["day"], start, end)]

    def trade_report(self, start: date, end: date, *, until: datetime | None = None) -> pd.DataFrame:
        """Trade-wise P&L report (Zerodha Console's "tradewise"): every fill on IST days
        ``start``..``end`` (inclusive), filled at or before ``until`` (the market time; ``None``:
        no bound), oldest first.

        Columns: ``filled_at`` (datetime64[ns, Asia/Kolkata]), ``tradingsymbol``, ``side``,
        ``product``, ``origin`` (``core.approvals.Origin`` value), ``strategy``, ``order_id``,
        ``fill_id`` (str), ``quantity`` (int64 shares), ``price``, ``value``, ``charges``,
        ``realized`` (float64 ₹; ``realized`` before charges). Raises ``ValidationError`` when
        ``start`` is after ``end`` or ``until`` is naive.
        """
        import pandas as pd

        _check_range(start, end)
        if until is not None:
            require_aware(until, "until")
        rows = [r for r in self.store.list_fills() if _in_range(r["day"], start, end)
                and (until is None or r["filled_at"] <= until)]
        views = [trade_view(r) for r in rows]
        return pd.DataFrame({
            "filled_at": pd.to_datetime([v.filled_at for v in views], utc=True).tz_convert(IST) if views
            else pd.Series([], dtype="datetime64[ns, Asia/Kolkata]"),
            "tradingsymbol": pd.Series([v.tradingsymbol for v in views], dtype="object"),
            "side": pd.Series([v.side for v in views], dtype="object"),
            "product": pd.Series([v.product for v in views], dtype="object"),
            "origin": pd.Series([v.origin for v in views], dtype="object"),
            "strategy": pd.Series([v.strategy for v in views], dtype="object"),
            "order_id": pd.Series([v.order_id for v in views], dtype="object"),
            "fill_id": pd.Series([v.fill_id for v in views], dtype="object"),
            "quantity": pd.Series([v.quantity for v in views], dtype="int64"),
            "price": pd.Series([float(v.price) for v in views], dtype="float64"),
            "value": pd.Series([float(v.value) for v in views], dtype="float64"),
            "charges": pd.Series([float(v.charges.total) for v in views], dtype="float64"),
            "realized": pd.Series([float(v.realized) for v in views], dtype="float64"),
        })

    def symbol_report(self, start: date, end: date, *, until: datetime | None = None) -> pd.DataFrame:
        """Symbol-wise P&L report (Zerodha Console's P&L by scrip) over IST days ``start``..``end``
        up to ``until``: one row per ``tradingsymbol`` (str), sorted by symbol, with
        ``buy_quantity``/``sell_quantity`` (int64 shares), ``buy_value``/``sell_value``,
        ``realized`` (before charges), ``charges`` (the fills' charges plus the ledger's fees of
        those days: MIS square-off, DP, same-day CNC netting) and ``net`` = realized − charges
        (float64 ₹), and ``trades`` (int64 fills). Raises as :meth:`trade_report`."""
        import pandas as pd

        trades = self.trade_report(start, end, until=until)
        cols = ["tradingsymbol", "buy_quantity", "sell_quantity", "buy_value", "sell_value", "realized", "charges",
                "net", "trades"]
        if trades.empty:
            return pd.DataFrame({c: pd.Series([], dtype="object" if c == "tradingsymbol" else
                                              ("int64" if c.endswith("quantity") or c == "trades" else "float64"))
                                 for c in cols})
        buy = trades["side"] == "BUY"
        frame = trades.assign(
            buy_quantity=trades["quantity"].where(buy, 0), sell_quantity=trades["quantity"].where(~buy, 0),
            buy_value=trades["value"].where(buy, 0.0), sell_value=trades["value"].where(~buy, 0.0))
        out = frame.groupby("tradingsymbol", as_index=False).agg(
            buy_quantity=("buy_quantity", "sum"), sell_quantity=("sell_quantity", "sum"),
            buy_value=("buy_value", "sum"), sell_value=("sell_value", "sum"), realized=("realized", "sum"),
            charges=("charges", "sum"), trades=("fill_id", "count"))
        fees: dict[str, float] = {}  # the ledger's fees of those days, per symbol (as ``pnl_by``)
        symbols = {int(r["instrument_token"]): r["tradingsymbol"] for r in self.store.list_fills()}
        for e in self._fee_entries(start, end):
            if until is None or e["at"] <= until:
                sym = symbols.get(int(e["instrument_token"] or 0), str(e["instrument_token"]))
                fees[sym] = fees.get(sym, 0.0) - float(e["amount"])
        out["charges"] = out["charges"] + [fees.get(sym, 0.0) for sym in out["tradingsymbol"]]
        out["net"] = out["realized"] - out["charges"]
        for c in ("buy_quantity", "sell_quantity", "trades"):
            out[c] = out[c].astype("int64")
        return out[cols].sort_values("tradingsymbol", ignore_index=True)

    def pnl_by(self, key: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Realized P&L grouped by ``key`` (``"tradingsymbol"``, or ``"strategy"``: then also by
        ``origin``, the desk's exits and the ticket under their origin with strategy ``""``),
        over fills and ledger fees of IST days ``start``..``end`` (inclusive; ``None`` open)."""
        import pandas as pd

        keys = ["origin", "strategy"] if key == "strategy" else [key]
        every = self.store.list_fills()
        rows = [r for r in every if _in_range(r["day"], start, end)]
        cols = [*keys, "gross", "charges", "net", "charges_pct", "trades"]
        if not rows:
            return pd.DataFrame({c: pd.Series([], dtype="float64" if c not in (*keys, "trades") else
                                              ("object" if c in keys else "int64")) for c in cols})
        symbols = {int(r["instrument_token"]): r["tradingsymbol"] for r in every}
        groups = {r["fill_id"]: _pnl_group(r, key) for r in rows}
        # ledger-only fees, and the same-day CNC netting corrections (``<fill_id>/netting``, issue 13)
        fees = self._fee_entries(start, end)

        def fee_group(e: dict) -> Any:  # a square-off fee references its order, a DP charge its fill
            if key == "tradingsymbol":
                return symbols.get(int(e["instrument_token"] or 0), str(e["instrument_token"]))
            if e["reference"] in groups:
                return groups[e["reference"]]
            ref = str(e["reference"] or "")
            return (str(origin_of(approval_id=ref, tag="SQUAREOFF" if e["kind"] == "SQUARE_OFF_CHARGE" else "")), "")

        labels = [groups[r["fill_id"]] for r in rows] + [fee_group(e) for e in fees]
        df = pd.DataFrame({
            **({"origin": [g[0] for g in labels], "strategy": [g[1] for g in labels]} if key == "strategy"
               else {key: labels}),
            "gross": [float(r["realized"]) for r in rows] + [0.0] * len(fees),
            "charges": [float(r["charges_total"]) for r in rows] + [-float(e["amount"]) for e in fees],
            "fill": [1] * len(rows) + [0] * len(fees),
        })
        out = df.groupby(keys, as_index=False).agg(gross=("gross", "sum"), charges=("charges", "sum"),
                                                   trades=("fill", "sum"))
        out["net"] = out["gross"] - out["charges"]
        out["charges_pct"] = out["charges"] * 100 / out["gross"].abs().where(out["gross"] != 0)
        out["trades"] = out["trades"].astype("int64")
        return out[cols].sort_values("net", ascending=False, ignore_index=True)


def _pnl_group(fill: dict, key: str) -> Any:
    """A fill's group: its ``tradingsymbol``, or for ``"strategy"`` ``(origin, strategy)``: a
    proposal's fill under its strategy (``""`` when it had none, e.g. the ticket's "Send to
    approvals"), the ticket and the desk's exits under their origin with strategy ``""``."""
    if key != "strategy":
        return fill[key]
    origin = origin_of(approval_id=fill["order_id"], tag=fill.get("tag"))
    return (str(origin), (fill["strategy"] or "") if origin is Origin.APPROVAL else "")


def _check_range(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise ValidationError(f"a report needs a start and an end date, was {start!r} – {end!r}")
    if start > end:
        raise ValidationError(f"the start date {start:%d %b %Y} is after the end date {end:%d %b %Y}; swap them")


def _in_range(day: Any, start: date | None, end: date | None) -> bool:
    if isinstance(day, datetime):
        day = day.date()
    return (start is None or day >= start) and (end is None or day <= end)


def limits_to_json(lim: RiskLimits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(RiskLimits):
        v = getattr(lim, f.name)
        out[f.name] = str(v) if isinstance(v, Decimal) else (v.strftime("%H:%M") if isinstance(v, time) else v)
    return out


def limits_from_json(data: dict[str, Any]) -> RiskLimits:
    return coerce_limits(data)


def coerce_limits(data: Any) -> RiskLimits:
    """A ``RiskLimits`` from a ``RiskLimits``, ``LimitsView`` or mapping, parsed strictly and
    checked against the limits' bounds (``core.risk.limits_input.limits_from_input``). Raises
    ``ValidationError`` naming the field, the bad value and the allowed range."""
    return limits_from_input(data)
