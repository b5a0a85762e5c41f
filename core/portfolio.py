"""Positions, funds and the append-only ledger of the paper account. Pure and immutable.

Money is ``Decimal`` rupees; quantities are signed shares (long > 0, short < 0); times tz-aware.

Model
-----
* **Ledger**: append-only :class:`LedgerEntry` rows (credit > 0, debit < 0): the opening
  ``CAPITAL``, each fill's ``BUY`` debit / ``SELL`` credit (full notional, MIS too), its
  ``CHARGES`` debit, ``SQUARE_OFF_CHARGE`` and ``DP_CHARGE`` debits. ``cash`` is the ledger's sum.
* **Positions**: one book per ``(instrument_token, product)`` with signed ``quantity`` and the
  exact signed ``cost`` of the open quantity (weighted average). Reducing a position removes
  ``cost × closed / |quantity|`` rounded half-up to the paisa (the whole cost when it goes
  flat) and realizes ``proceeds − removed cost``, so the identity
  ``cash == capital + realized − charges − Σ cost`` holds exactly (:func:`reconcile`).
* **Funds** (:func:`funds`, rules in ``core.margins``): an open MIS position blocks
  ``|cost| × max(20 %, VaR + ELM + ad hoc)`` of its stock (``Portfolio.margin_rules``); each open
  order blocks its unfilled part (``core.margins.open_orders_margin``, released on fill or
  cancel). Usable funds = ``cash + Σ MIS cost + min(0, MIS unrealized) − max(0, MIS realized
  today)``: unrealized MIS losses reduce it, gains are not credited (pessimistic); the day's
  intraday profit is usable from T+1 (Zerodha support "unsettled balances"), while 100 % of a
  CNC sale's proceeds are usable the same day (since 7 Oct 2024, same article), except a BTST
  sale's, usable from the next trading day (``btst_proceeds_today``, support.zerodha.com "DP
  charges for BTST trades"). Available = usable − blocked. CNC buys pay the full notional.
* **Settlement**: CNC buys are T+1 (NSE, indian-market.md §1): each CNC buy records a lot that
  settles on the date the caller passes; :func:`holdings` splits today's buys, settled and T1
  quantity (T1 on the settlement day itself). A CNC sell may take all three (sells take today's
  buys first, then settled, then T1 = BTST).
* **Same-day CNC**: with a ``schedule``, :func:`apply_fill` nets a scrip-day's matched CNC buy
  and sell quantity as intraday (``core.same_day_cnc``, support.zerodha.com partial-delivery
  article): a ``CHARGES`` entry ``<fill_id>/netting`` makes the day's charges the netted figure.
* **Idempotency**: a fill whose ``fill_id`` was already applied is a reported no-op.
* **Square-off**: :func:`square_off` produces MARKET exits for open MIS positions at/after the
  cut-off (Zerodha 15:20 IST), once per position per day, optionally debiting Zerodha's
  ₹50 + 18 % GST per squared-off order (``core.charges.square_off_charge``).
* **DP charge**: a CNC sell that draws on demat holdings debits the depository charge
  (Zerodha ₹13 + GST per scrip per day from Oct 2024, ``core.charges.dp_charge``), BTST sells
  of T1 shares included, see :func:`dp_due`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from core.broker.events import Fill
from core.charges import (
    NSE_EQUITY_SCHEDULES,
    ChargeSchedule,
    restate_stt,
    schedule_for,
    square_off_charge,
    square_off_orders,
)
from core.errors import ValidationError
from core.margins import MarginRules, MarginTable, open_orders_margin
from core.orders import ZERO, FrozenMap, OrderIntent, OrderType, Product, Side, round_to_paisa
from core.same_day_cnc import NETTING_SOURCE, ScripDayLeg, netting_adjustment
from core.sessions import MIS_SQUARE_OFF
from core.timeutil import require_aware, to_ist

DEFAULT_CAPITAL = Decimal("1000000.00")
DEFAULT_MIS_LEVERAGE = Decimal(5)


class LedgerKind(StrEnum):
    CAPITAL = "CAPITAL"
    BUY = "BUY"
    SELL = "SELL"
    CHARGES = "CHARGES"
    SQUARE_OFF_CHARGE = "SQUARE_OFF_CHARGE"
    DP_CHARGE = "DP_CHARGE"


#: Ledger kinds that are charges (debits that are not trades).
CHARGE_KINDS = (LedgerKind.CHARGES, LedgerKind.SQUARE_OFF_CHARGE, LedgerKind.DP_CHARGE)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row: ``amount`` rupees (credit > 0, debit < 0) at ``at`` (tz-aware)."""

    entry_id: str
    at: datetime
    kind: LedgerKind
    amount: Decimal
    reference: str = ""  # fill_id or order_id
    instrument_token: int = 0
    memo: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one instrument in one product.

    ``quantity`` signed shares; ``cost`` signed rupees of the open quantity; ``realized_pnl``
    rupees (before charges); ``buy_*``/``sell_*`` the day's shares and rupees.
    """

    instrument_token: int
    tradingsymbol: str
    product: Product
    quantity: int = 0
    cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    buy_quantity: int = 0
    buy_value: Decimal = ZERO
    sell_quantity: int = 0
    sell_value: Decimal = ZERO

    @property
    def average_price(self) -> Decimal:
        """Average price of the open quantity, rupees (0 when flat), rounded to the paisa."""
        return round_to_paisa(self.cost / self.quantity) if self.quantity else ZERO

    def unrealized(self, ltp: Decimal) -> Decimal:
        """``quantity × ltp − cost``, rupees."""
        return self.quantity * ltp - self.cost


@dataclass(frozen=True, slots=True)
class SettlementLot:
    """A CNC buy of ``quantity`` shares settling on ``settles_on`` (T+1, the next trading day):
    bought today while ``settles_on`` is later than the day, a T1 holding on ``settles_on``
    itself (credited to the demat account at the end of that day, so selling it is BTST), a
    settled holding after it (NSE T+1; support.zerodha.com, "DP charges for BTST trades")."""

    instrument_token: int
    quantity: int
    settles_on: date


def _frozen(mapping: Mapping) -> Mapping:
    return FrozenMap(mapping)


PositionKey = tuple[int, Product]


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The paper account on ``trading_day`` (IST). Build with :func:`new_portfolio`."""

    capital: Decimal
    mis_leverage: Decimal
    trading_day: date
    ledger: tuple[LedgerEntry, ...]
    positions: Mapping[PositionKey, Position] = field(default_factory=lambda: _frozen({}))
    applied_fills: frozenset[str] = frozenset()
    lots: tuple[SettlementLot, ...] = ()
    realized_today: Decimal = ZERO
    charges_today: Decimal = ZERO
    squared_off: frozenset[PositionKey] = frozenset()
    #: Per-stock margin table and MIS list (``None``: every stock at the floor, all eligible).
    margins: MarginTable | None = None
    #: Realized MIS P&L of ``trading_day``, rupees: a profit is usable from the next trading day.
    mis_realized_today: Decimal = ZERO
    #: Proceeds of today's BTST sells (T1 shares), rupees: usable from the next trading day.
    btst_proceeds_today: Decimal = ZERO
    #: Today's CNC fills as netting legs (``core.same_day_cnc``) with the charges each booked.
    cnc_day_legs: tuple[tuple[ScripDayLeg, Decimal], ...] = ()

    @property
    def margin_rules(self) -> MarginRules:
        """The margin rules of this account: ``margins`` with ``mis_leverage`` as the ceiling."""
        return MarginRules(self.margins, self.mis_leverage)

    @property
    def cash(self) -> Decimal:
        """Ledger balance, rupees."""
        return sum((e.amount for e in self.ledger), ZERO)

    def position(self, instrument_token: int, product: Product) -> Position | None:
        return self.positions.get((instrument_token, product))

    def position_quantity(self, instrument_token: int, product: Product) -> int:
        """Signed open shares of ``(instrument_token, product)``; 0 if none."""
        pos = self.positions.get((instrument_token, product))
        return pos.quantity if pos else 0

    def open_positions(self) -> tuple[Position, ...]:
        return tuple(p for p in self.positions.values() if p.quantity)


def new_portfolio(
    *,
    opened_at: datetime,
    capital: Decimal = DEFAULT_CAPITAL,
    mis_leverage: Decimal = DEFAULT_MIS_LEVERAGE,
    margins: MarginTable | None = None,
) -> Portfolio:
    """A fresh account: one CAPITAL ledger credit of ``capital`` rupees at ``opened_at``.

    Raises ``ValidationError`` if ``capital`` is not positive Decimal rupees, ``mis_leverage``
    is below 1, or ``opened_at`` is naive.
    """
    require_aware(opened_at, "opened_at")
    if not isinstance(capital, Decimal) or capital <= 0:
        raise ValidationError(f"capital must be positive Decimal rupees, was {capital!r}")
    if not isinstance(mis_leverage, Decimal) or mis_leverage < 1:
        raise ValidationError(f"mis_leverage must be a Decimal >= 1 (e.g. 5 for 5x), was {mis_leverage!r}")
    entry = LedgerEntry("capital-0", opened_at, LedgerKind.CAPITAL, round_to_paisa(capital), memo="opening capital")
    return Portfolio(capital=round_to_paisa(capital), mis_leverage=mis_leverage, trading_day=to_ist(opened_at).date(),
                     ledger=(entry,), margins=margins)


@dataclass(frozen=True, slots=True)
class Applied:
    """Result of :func:`apply_fill`: the new portfolio, and whether anything changed."""

    portfolio: Portfolio
    applied: bool
    message: str = ""
    fill: Fill | None = None  # the fill as booked (STT restated per scrip-day when a schedule is given)


def _trade(pos: Position, fill: Fill) -> tuple[Position, Decimal]:
    """Apply ``fill`` (signed shares at its price) to ``pos``: quantity, cost, realized P&L and
    the day's buy or sell stats; return (new position, realized)."""
    dq, price = fill.signed_quantity, fill.price
    qty, cost, realized = pos.quantity, pos.cost, ZERO
    if qty and (qty > 0) != (dq > 0):
        close = min(abs(dq), abs(qty))
        removed = cost if close == abs(qty) else round_to_paisa(cost * close / abs(qty))
        signed_close = close if dq > 0 else -close
        realized = -signed_close * price - removed
        qty, cost, dq = qty + signed_close, cost - removed, dq - signed_close
    qty, cost = qty + dq, cost + dq * price
    buy = fill.side is Side.BUY
    # every field named (a hot path: faster than dataclasses.replace; tests/core/test_hot_constructors.py
    # fails when Position gains a field this does not carry)
    return Position(
        instrument_token=pos.instrument_token,
        tradingsymbol=pos.tradingsymbol,
        product=pos.product,
        quantity=qty,
        cost=cost,
        realized_pnl=pos.realized_pnl + realized,
        buy_quantity=pos.buy_quantity + fill.quantity if buy else pos.buy_quantity,
        buy_value=pos.buy_value + fill.turnover if buy else pos.buy_value,
        sell_quantity=pos.sell_quantity if buy else pos.sell_quantity + fill.quantity,
        sell_value=pos.sell_value if buy else pos.sell_value + fill.turnover,
    ), realized


def dp_due(position: Position, fill: Fill) -> bool:
    """True when ``fill`` is the CNC SELL that first makes the day's sells of this scrip exceed
    the day's buys, i.e. the first one that has to take shares out of the demat account (shares
    bought today are not there yet). ``position`` is the CNC book *before* the fill, with the
    day's ``buy_quantity``/``sell_quantity``.

    Zerodha charges DP once per scrip per day, whatever the quantity (support.zerodha.com,
    "What do DP charges mean?"). Limitation: if, later the same day, buys catch up with the
    sells and a further sell exceeds them again, this rule charges a second time (the day's
    buy and sell counts cannot tell the order they came in).
    """
    if fill.product is not Product.CNC or fill.side is not Side.SELL:
        return False
    return position.sell_quantity <= position.buy_quantity < position.sell_quantity + fill.quantity


def apply_fill(portfolio: Portfolio, fill: Fill, *, settles_on: date | None = None,
               dp_charge: Decimal = ZERO, schedule: ChargeSchedule | None = None) -> Applied:
    """Book ``fill``: position, ledger (trade + charges [+ DP charge]), realized P&L, T+1 lot
    for CNC buys.

    Parameters
    ----------
    settles_on : date
        Required for a CNC BUY: the settlement date (next trading day, from the calendar).
    dp_charge : Decimal
        Rupees (fee + GST, ``core.charges.dp_charge(schedule).total``) debited as a
        ``DP_CHARGE`` entry when :func:`dp_due`; 0 books none.
    schedule : ChargeSchedule
        The trade date's charge schedule. When given, the fill's STT is restated as the
        scrip-day increment (``core.charges.restate_stt``) from the position's turnover of the
        same side earlier that day, so a day's STT per scrip is rounded to the rupee once, as
        Zerodha does (support.zerodha.com, "How is the STT calculated?"); ``None`` books the
        fill's charges as they are.

    Returns
    -------
    Applied
        ``applied=False`` (portfolio unchanged) when ``fill.fill_id`` was already applied;
        ``Applied.fill`` is the fill as booked (store that one).

    Raises
    ------
    ValidationError
        The fill is not on ``trading_day`` (call :func:`roll_day` first), a CNC BUY has no
        ``settles_on`` or it is before the trade date, or a CNC SELL would go short.
    """
    if fill.fill_id in portfolio.applied_fills:
        return Applied(portfolio, False, f"fill {fill.fill_id} already applied")
    day = to_ist(fill.filled_at).date()
    if day != portfolio.trading_day:
        raise ValidationError(
            f"fill {fill.fill_id} is dated {day} but the portfolio is on {portfolio.trading_day}; roll_day first"
        )
    key = (fill.instrument_token, fill.product)
    pos = portfolio.positions.get(key) or Position(fill.instrument_token, fill.tradingsymbol, fill.product)
    if schedule is not None:
        fill = _with_scrip_day_stt(fill, pos, schedule)
    lots = portfolio.lots
    if fill.product is Product.CNC:
        if fill.side is Side.BUY:
            if settles_on is None or settles_on < day:
                raise ValidationError(f"CNC buy {fill.fill_id} needs settles_on on/after {day} (T+1 date)")
            lots = (*lots, SettlementLot(fill.instrument_token, fill.quantity, settles_on))
        elif fill.quantity > pos.quantity:
            raise ValidationError(
                f"CNC sell of {fill.quantity} {fill.tradingsymbol} exceeds the {pos.quantity} shares held"
            )
    dp = dp_charge if dp_charge and dp_due(pos, fill) else ZERO
    btst = _btst_quantity(portfolio, pos, fill) * fill.price
    netting, day_legs = _netting(portfolio, pos, fill, schedule)
    pos, realized = _trade(pos, fill)
    kind = LedgerKind.BUY if fill.side is Side.BUY else LedgerKind.SELL
    entries = [
        LedgerEntry(f"{fill.fill_id}/trade", fill.filled_at, kind, -fill.signed_quantity * fill.price,
                    fill.fill_id, fill.instrument_token, f"{fill.side} {fill.quantity} {fill.tradingsymbol} @ {fill.price}")
    ]
    charges = fill.charges.total
    if charges:
        entries.append(LedgerEntry(f"{fill.fill_id}/charges", fill.filled_at, LedgerKind.CHARGES, -charges,
                                   fill.fill_id, fill.instrument_token, "brokerage and statutory charges"))
    if netting:
        entries.append(LedgerEntry(f"{fill.fill_id}/netting", fill.filled_at, LedgerKind.CHARGES, -netting,
                                   fill.fill_id, fill.instrument_token,
                                   f"same-day CNC buy and sell of {fill.tradingsymbol} charged as intraday "
                                   f"({NETTING_SOURCE})"))
    if dp:
        entries.append(LedgerEntry(f"{fill.fill_id}/dp", fill.filled_at, LedgerKind.DP_CHARGE, -dp, fill.fill_id,
                                   fill.instrument_token, f"DP charge: {fill.tradingsymbol} sold from holdings"))
    # every field named (a hot path: faster than dataclasses.replace; tests/core/test_hot_constructors.py
    # fails when Portfolio gains a field this does not carry)
    new = Portfolio(
        capital=portfolio.capital,
        mis_leverage=portfolio.mis_leverage,
        trading_day=portfolio.trading_day,
        ledger=(*portfolio.ledger, *entries),
        positions=_frozen({**portfolio.positions, key: pos}),
        applied_fills=portfolio.applied_fills | {fill.fill_id},
        lots=lots,
        realized_today=portfolio.realized_today + realized,
        charges_today=portfolio.charges_today + charges + netting + dp,
        squared_off=portfolio.squared_off,
        margins=portfolio.margins,
        mis_realized_today=portfolio.mis_realized_today + (realized if fill.product is Product.MIS else ZERO),
        btst_proceeds_today=portfolio.btst_proceeds_today + btst,
        cnc_day_legs=day_legs,
    )
    return Applied(new, True, fill=fill)


def _btst_quantity(portfolio: Portfolio, pos: Position, fill: Fill) -> int:
    """Shares of a CNC SELL ``fill`` that come out of T1 holdings (BTST): a sell takes today's
    unsold buys first, then settled holdings, then T1 shares. ``pos`` is before the fill."""
    if fill.product is not Product.CNC or fill.side is not Side.SELL:
        return 0
    today, settled, _ = _cnc_split(portfolio, pos, portfolio.trading_day)
    return max(0, fill.quantity - today - settled)


def _netting(portfolio: Portfolio, pos: Position, fill: Fill,
             schedule: ChargeSchedule | None) -> tuple[Decimal, tuple[tuple[ScripDayLeg, Decimal], ...]]:
    """(netting adjustment ₹, today's CNC legs after ``fill``) for a CNC ``fill``
    (``core.same_day_cnc``): the scrip-day's charges become the netted contract-note figure.
    Without ``schedule`` nothing is netted. Legs not recorded on this portfolio (a book rebuilt
    from stored positions) are stood in for by the position's day totals, one leg per side."""
    if fill.product is not Product.CNC or schedule is None:
        return ZERO, portfolio.cnc_day_legs
    token = fill.instrument_token
    prior = [(leg, booked) for leg, booked in portfolio.cnc_day_legs if leg.instrument_token == token]
    if not prior:
        prior = [(ScripDayLeg(f"day-{side}", token, side, qty, value), None)
                 for side, qty, value in ((Side.BUY, pos.buy_quantity, pos.buy_value),
                                          (Side.SELL, pos.sell_quantity, pos.sell_value)) if qty]
    leg = ScripDayLeg(fill.order_id, token, fill.side, fill.quantity, fill.turnover)
    booked = [b for _, b in prior]
    adjust = netting_adjustment([g for g, _ in prior], leg, schedule,
                                booked_prior=None if None in booked else sum(booked, ZERO),
                                booked_now=fill.charges.total)
    recorded = (*portfolio.cnc_day_legs, (leg, fill.charges.total + adjust))
    return adjust, recorded


def _with_scrip_day_stt(fill: Fill, pos: Position, schedule: ChargeSchedule) -> Fill:
    """``fill`` with its STT restated per scrip-day: ``pos`` (before the fill) holds the day's
    turnover of this scrip and product on each side."""
    prior = pos.buy_value if fill.side is Side.BUY else pos.sell_value
    charges = restate_stt(fill.charges, fill.side, fill.product, fill.turnover, schedule, prior)
    return fill if charges == fill.charges else replace(fill, charges=charges)


def roll_day(portfolio: Portfolio, day: date) -> Portfolio:
    """Start trading day ``day`` (IST): reset the day's realized P&L, charges, buy/sell stats and
    square-off marks; drop settled lots. Raises ``ValidationError`` unless ``day`` is later."""
    if day <= portfolio.trading_day:
        raise ValidationError(f"roll_day needs a day after {portfolio.trading_day}, was {day}")
    positions = {  # a position that did not trade yesterday is kept as it is (held CNC lines)
        k: replace(p, buy_quantity=0, buy_value=ZERO, sell_quantity=0, sell_value=ZERO)
        if p.buy_quantity or p.sell_quantity or p.buy_value or p.sell_value else p
        for k, p in portfolio.positions.items()
        if p.quantity
    }
    return replace(
        portfolio,
        trading_day=day,
        positions=_frozen(positions),
        lots=tuple(lot for lot in portfolio.lots if lot.settles_on >= day),
        realized_today=ZERO,
        mis_realized_today=ZERO,
        btst_proceeds_today=ZERO,
        cnc_day_legs=(),
        charges_today=ZERO,
        squared_off=frozenset(),
    )


@dataclass(frozen=True, slots=True)
class Holding:
    """CNC shares of one instrument: ``quantity`` settled, ``t1_quantity`` bought on the previous
    trading day and not yet credited (sellable as BTST), ``today_quantity`` bought today and not
    sold (a position, not yet a holding). All three may be sold under CNC."""

    instrument_token: int
    tradingsymbol: str
    quantity: int
    t1_quantity: int
    average_price: Decimal
    today_quantity: int = 0

    @property
    def sellable(self) -> int:
        """Shares a CNC SELL may take: settled + T1 (BTST) + today's buys (same-day, intraday)."""
        return self.quantity + self.t1_quantity + self.today_quantity


def _cnc_split(portfolio: Portfolio, pos: Position, as_of: date) -> tuple[int, int, int]:
    """(today's unsold buys, settled, T1) shares of the CNC long ``pos`` on ``as_of``. Sells take
    today's buys first, then settled shares, then T1 ones (so T1 is what remains last)."""
    lots = [lot for lot in portfolio.lots if lot.instrument_token == pos.instrument_token]
    if as_of == portfolio.trading_day:
        today = max(0, pos.buy_quantity - pos.sell_quantity)
    else:
        today = sum(lot.quantity for lot in lots if lot.settles_on > as_of)
    today = min(max(pos.quantity, 0), today)
    t1_lots = sum(lot.quantity for lot in lots if lot.settles_on == as_of)
    rest = max(pos.quantity, 0) - today
    settled = max(0, rest - t1_lots)
    return today, settled, rest - settled


def holdings(portfolio: Portfolio, as_of: date) -> tuple[Holding, ...]:
    """CNC holdings on ``as_of``: a lot is today's buy while it settles after ``as_of``, T1 on
    its settlement day, settled after it (:class:`SettlementLot`)."""
    out = []
    for pos in portfolio.positions.values():
        if pos.product is not Product.CNC or pos.quantity <= 0:
            continue
        today, settled, t1 = _cnc_split(portfolio, pos, as_of)
        out.append(Holding(pos.instrument_token, pos.tradingsymbol, settled, t1, pos.average_price, today))
    return tuple(out)


def _mark(pos: Position, ltps: Mapping[int, Decimal]) -> Decimal:
    ltp = ltps.get(pos.instrument_token)
    return pos.unrealized(ltp) if ltp is not None else ZERO


@dataclass(frozen=True, slots=True)
class Funds:
    """Account funds, rupees. ``equity`` = cash + market value of open positions.

    ``used_margin`` = ``position_margin`` (open MIS positions) + ``order_margin`` (open orders);
    ``usable`` = cash + usable credits (see the module docstring); ``held_profit`` the day's
    MIS profit, usable from T+1; ``available_margin`` = ``usable − used_margin``.
    """

    capital: Decimal
    cash: Decimal
    used_margin: Decimal
    available_margin: Decimal
    equity: Decimal
    position_margin: Decimal = ZERO
    order_margin: Decimal = ZERO
    held_profit: Decimal = ZERO
    usable: Decimal = ZERO


OpenOrderMargin = tuple[OrderIntent, Decimal]


def funds(portfolio: Portfolio, ltps: Mapping[int, Decimal], open_orders: Iterable[OpenOrderMargin] = ()) -> Funds:
    """Funds marked to ``ltps`` (token → LTP rupees; a position without an LTP is marked at cost).

    ``open_orders`` are the unfilled parts of the open orders with the price each is judged at
    (``(intent with the pending quantity, limit or trigger price)``); they block margin by
    ``core.margins.open_orders_margin``, the same function the gatekeeper's reserved margin uses.
    """
    rules = portfolio.margin_rules
    cash = portfolio.cash
    mis = [p for p in portfolio.open_positions() if p.product is Product.MIS]
    mis_cost = sum((p.cost for p in mis), ZERO)
    position_margin = sum((rules.position_margin(p.tradingsymbol, p.cost) for p in mis), ZERO)
    order_margin = open_orders_margin(open_orders, portfolio.position_quantity, rules)
    mis_unrealized = sum((_mark(p, ltps) for p in mis), ZERO)
    held = max(ZERO, portfolio.mis_realized_today) + portfolio.btst_proceeds_today  # both usable from T+1
    usable = cash + mis_cost + min(ZERO, mis_unrealized) - held
    used = position_margin + order_margin
    value = sum((p.cost + _mark(p, ltps) for p in portfolio.open_positions()), ZERO)
    return Funds(
        capital=portfolio.capital,
        cash=cash,
        used_margin=used,
        available_margin=usable - used,
        equity=cash + value,
        position_margin=position_margin,
        order_margin=order_margin,
        held_profit=held,
        usable=usable,
    )


def required_margin(intent: OrderIntent, price: Decimal, leverage: Decimal, position_quantity: int = 0) -> Decimal:
    """Rupees an order blocks at a flat MIS margin of ``max(20 %, 100 / leverage %)`` (no per-stock
    table): 0 for an exit or a CNC sell, the MIS margin of an MIS entry, ``qty × price`` for a
    CNC buy. ``price`` is the expected fill price, rupees. Per stock: ``MarginRules.required``."""
    return MarginRules(None, leverage).required(intent, price, position_quantity)


@dataclass(frozen=True, slots=True)
class PnL:
    """P&L in rupees. ``gross = realized + unrealized``; ``net = gross − charges``;
    ``day = realized_today + unrealized − charges_today`` (positions carried from earlier days
    are marked against their cost, not the previous close)."""

    realized: Decimal
    realized_today: Decimal
    unrealized: Decimal
    charges: Decimal
    charges_today: Decimal
    gross: Decimal
    net: Decimal
    day: Decimal


def pnl(portfolio: Portfolio, ltps: Mapping[int, Decimal]) -> PnL:
    """P&L marked to ``ltps`` (token → LTP rupees; missing → marked at cost)."""
    realized = sum((p.realized_pnl for p in portfolio.positions.values()), ZERO)
    unrealized = sum((_mark(p, ltps) for p in portfolio.open_positions()), ZERO)
    charges = -sum((e.amount for e in portfolio.ledger if e.kind in CHARGE_KINDS), ZERO)
    return PnL(
        realized=realized,
        realized_today=portfolio.realized_today,
        unrealized=unrealized,
        charges=charges,
        charges_today=portfolio.charges_today,
        gross=realized + unrealized,
        net=realized + unrealized - charges,
        day=portfolio.realized_today + unrealized - portfolio.charges_today,
    )


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One failed reconciliation check: ``expected`` vs ``actual`` rupees (or counts)."""

    check: str
    expected: Decimal
    actual: Decimal


def reconcile(portfolio: Portfolio) -> tuple[Discrepancy, ...]:
    """Check the books; return the discrepancies (empty tuple when everything reconciles).

    Checks: cash (ledger sum) = capital credits + realized − charges − Σ open cost; today's
    charges = today's charge entries; one trade entry per applied fill; unique entry ids.
    """
    out: list[Discrepancy] = []
    ledger = portfolio.ledger
    capital = sum((e.amount for e in ledger if e.kind is LedgerKind.CAPITAL), ZERO)
    charges = -sum((e.amount for e in ledger if e.kind in CHARGE_KINDS), ZERO)
    realized = sum((p.realized_pnl for p in portfolio.positions.values()), ZERO)
    open_cost = sum((p.cost for p in portfolio.positions.values()), ZERO)
    expected_cash = capital + realized - charges - open_cost
    if expected_cash != portfolio.cash:
        out.append(Discrepancy("cash", expected_cash, portfolio.cash))
    today = -sum(
        (e.amount for e in ledger if e.kind in CHARGE_KINDS and to_ist(e.at).date() == portfolio.trading_day),
        ZERO,
    )
    if today != portfolio.charges_today:
        out.append(Discrepancy("charges_today", today, portfolio.charges_today))
    trades = sum(1 for e in ledger if e.kind in (LedgerKind.BUY, LedgerKind.SELL))
    if trades != len(portfolio.applied_fills):
        out.append(Discrepancy("fills", Decimal(len(portfolio.applied_fills)), Decimal(trades)))
    ids = len({e.entry_id for e in ledger})
    if ids != len(ledger):
        out.append(Discrepancy("unique_entry_ids", Decimal(len(ledger)), Decimal(ids)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SquareOffOrder:
    """A closing order: place ``intent`` as ``order_id`` (deterministic). ``reference_price`` is
    the LTP it was generated at (rupees, ``None`` if unknown)."""

    order_id: str
    intent: OrderIntent
    reference_price: Decimal | None


def _square_off_split(day: date, pos: Position, schedule: ChargeSchedule) -> list[tuple[str, int]]:
    """``(order_id, quantity)`` of each square-off order for ``pos``: at most
    ``schedule.square_off_max_quantity`` shares each; the first id is ``SQ-<day>-<token>``,
    later ones add ``-2``, ``-3``…"""
    total, cap = abs(pos.quantity), schedule.square_off_max_quantity
    base = f"SQ-{day:%Y%m%d}-{pos.instrument_token}"
    return [(base if k == 0 else f"{base}-{k + 1}", min(cap, total - k * cap))
            for k in range(square_off_orders(total, schedule))]


@dataclass(frozen=True, slots=True)
class SquareOff:
    portfolio: Portfolio
    orders: tuple[SquareOffOrder, ...]


def square_off(
    portfolio: Portfolio,
    *,
    now: datetime,
    ltps: Mapping[int, Decimal],
    cutoff: time = MIS_SQUARE_OFF,
    charge_fee: bool = False,
    schedules: tuple[ChargeSchedule, ...] = NSE_EQUITY_SCHEDULES,
) -> SquareOff:
    """MARKET exits for every open MIS position at/after ``cutoff`` (IST wall clock).

    Idempotent: each position is squared off once per trading day (a second run returns no
    orders and the same portfolio). Before ``cutoff`` it returns no orders. A position larger
    than the schedule's ``square_off_max_quantity`` (Zerodha: 30,000 shares per order) becomes
    several orders (70,000 → 30,000 + 30,000 + 10,000), and with ``charge_fee`` each generated
    order debits Zerodha's ₹50 + 18 % GST at ``now`` (support.zerodha.com, intraday auto
    square-off timings). If a
    square-off order does not fill, the caller re-places it under a new ``order_id`` (the broker
    treats a repeated ``order_id`` as a no-op).

    Raises ``ValidationError`` if ``now`` is naive or not on ``trading_day``.
    """
    local = to_ist(now)
    if local.date() != portfolio.trading_day:
        raise ValidationError(f"now is {local.date()} but the portfolio is on {portfolio.trading_day}")
    if local.time() < cutoff:
        return SquareOff(portfolio, ())
    orders: list[SquareOffOrder] = []
    entries: list[LedgerEntry] = []
    fee_total = ZERO
    marked = set(portfolio.squared_off)
    for key, pos in sorted(portfolio.positions.items(), key=lambda kv: kv[0][0]):
        if pos.product is not Product.MIS or not pos.quantity or key in marked:
            continue
        schedule = schedule_for(local.date(), schedules)
        for order_id, quantity in _square_off_split(portfolio.trading_day, pos, schedule):
            intent = OrderIntent(
                instrument_token=pos.instrument_token,
                tradingsymbol=pos.tradingsymbol,
                side=Side.SELL if pos.quantity > 0 else Side.BUY,
                quantity=quantity,
                product=Product.MIS,
                order_type=OrderType.MARKET,
                tag="SQUAREOFF",
                trace_id=order_id,
            )
            orders.append(SquareOffOrder(order_id, intent, ltps.get(pos.instrument_token)))
            if charge_fee:
                fee = square_off_charge(schedule).total
                fee_total += fee
                entries.append(LedgerEntry(f"{order_id}/fee", now, LedgerKind.SQUARE_OFF_CHARGE, -fee, order_id,
                                           pos.instrument_token, "auto square-off ₹50 + GST"))
        marked.add(key)
    if not orders:
        return SquareOff(portfolio, ())
    new = replace(
        portfolio,
        ledger=(*portfolio.ledger, *entries),
        charges_today=portfolio.charges_today + fee_total,
        squared_off=frozenset(marked),
    )
    return SquareOff(new, tuple(orders))
