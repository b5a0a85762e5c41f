"""Orders & Positions: the order ticket, order book (modify/cancel), trade book, positions, funds."""

import streamlit as st

from app.ui.state import get_services
from app.ui.approval_widgets import risk_badges
from app.ui.book_widgets import (
    charges_frame,
    funds_metrics,
    orders_frame,
    positions_frame,
    trades_frame,
)
from app.ui.desk import current_user, desk_clock, ltp_of
from app.ui.feedback import guarded, show_flash, show_outcome
from app.ui.formatting import inr, ist, reason_codes_text
from app.ui.order_ticket import PROTECTION_MODES, protection_preview, ticket_intent, to_decimal
from app.ui.square_off_widgets import square_off_refusals
from core.errors import ValidationError
from core.timeutil import to_ist
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

ORDER_TYPES = ["MARKET", "LIMIT", "SL", "SL-M"]

svc = get_services()
trading = svc.trading
user = current_user()

st.header("Orders & Positions")
clock = desk_clock(svc)
if clock.error:
    st.warning(f"Tick cache (Redis) unavailable: {clock.error}. Positions cannot be marked to market and "
               "orders will be refused until it is back.", icon=":material/warning:")
st.caption(f"Desk time {ist(clock.now)} · {clock.source} · acting as **{user}**")
show_flash("orders_flash")

# ---- order ticket -------------------------------------------------------------------------------

st.subheader("Order ticket")
watch_keys = guarded("The watchlist", svc.watchlists.keys) or []
with st.container(border=True):
    r1 = st.columns([2, 1, 1, 1])
    symbol = r1[0].selectbox("Symbol", watch_keys, index=None, placeholder="INFY or NSE:INFY",
                             accept_new_options=True, key="orders_symbol")
    side = r1[1].radio("Side", ["BUY", "SELL"], horizontal=True, key="orders_side")
    quantity = r1[2].number_input("Quantity (shares)", min_value=0, value=1, step=1, key="orders_quantity")
    product = r1[3].radio("Product", ["MIS", "CNC"], horizontal=True, key="orders_product")
    r2 = st.columns(4)
    order_type = r2[0].selectbox("Order type", ORDER_TYPES, key="orders_type")
    price = r2[1].number_input("Price (₹)", min_value=0.0, value=0.0, step=0.05, format="%.2f", key="orders_price",
                               disabled=order_type not in ("LIMIT", "SL"))
    trigger = r2[2].number_input("Trigger price (₹)", min_value=0.0, value=0.0, step=0.05, format="%.2f",
                                 key="orders_trigger", disabled=order_type not in ("SL", "SL-M"))
    validity = r2[3].radio("Validity", ["DAY", "IOC"], horizontal=True, key="orders_validity")
    protected = order_type in ("MARKET", "SL-M")
    rp = st.columns([1, 1, 2])
    protection_mode = rp[0].radio("Market protection", PROTECTION_MODES, horizontal=True,
                                  key="orders_protection_mode", disabled=not protected,
                                  help="Kite's market_protection (from 1 Apr 2026): Automatic (-1) uses "
                                       "Zerodha's band (2% below ₹100, 1% ₹100–500, 0.5% above ₹500); "
                                       "Percent sets your own, 0 < p <= 100.")
    protection_pct = rp[1].number_input("Protection (%)", min_value=0.0, max_value=100.0, value=1.0, step=0.25,
                                        format="%.2f", key="orders_protection_pct",
                                        disabled=not protected or protection_mode != "Percent")
    r3 = st.columns([1, 1, 2])
    stop = r3[0].number_input("Stop-loss (₹, optional)", min_value=0.0, value=0.0, step=0.05, format="%.2f",
                              key="orders_stop")
    target = r3[1].number_input("Target (₹, optional)", min_value=0.0, value=0.0, step=0.05, format="%.2f",
                                key="orders_target")
    why = r3[2].text_input("Why (shown on the approval card)", value="manual ticket", key="orders_reason")

    ticket = dict(side=side, quantity=quantity, product=product, order_type=order_type, price=price,
                  trigger_price=trigger, validity=validity, stop_loss=stop, target=target,
                  protection_mode=protection_mode, protection_percent=protection_pct)
    instrument = None
    preview_line = None
    if symbol:
        try:
            instrument = svc.instruments.resolve(symbol)
        except ValidationError as exc:
            st.error(str(exc))
        else:
            ltp = ltp_of(svc, instrument.instrument_token)
            st.caption(f"{instrument.tradingsymbol} · LTP {inr(ltp)} · lot {instrument.lot_size} · "
                       f"tick {inr(instrument.tick_size)}")
            if protected:
                try:
                    preview_line = protection_preview(ticket_intent(instrument, **ticket), instrument, ltp, clock.now)
                except ValidationError as exc:
                    st.error(str(exc))
                if preview_line:
                    st.info(preview_line, icon=":material/shield:")
    b = st.columns([1, 1, 4])
    place = b[0].button("Place", type="primary", key="orders_place")
    propose = b[1].button("Send to approvals", key="orders_propose")
    b[2].caption("Place: straight through the risk gatekeeper. Send to approvals: a pending card on the "
                 "Approvals page.")

    if place or propose:
        try:
            if not symbol:
                raise ValidationError("pick a symbol first (e.g. INFY or NSE:INFY)")
            if instrument is None:
                raise ValidationError(f"unknown symbol {symbol!r}; pick one from the list")
            intent = ticket_intent(instrument, **ticket)
            now = desk_clock(svc).now
            if place:
                outcome = trading.place_manual(intent, user=user, now=now)
                confirm = protection_preview(intent, instrument, outcome.price, now) if outcome.ok else None
                show_outcome(outcome, f"Placed {intent.side} {intent.quantity} {intent.tradingsymbol}: order "
                                      f"{outcome.order_id} at LTP {inr(outcome.price)}"
                                      + (f" · {confirm}" if confirm else ""))
            else:
                signal = intent.price or intent.trigger_price or ltp_of(svc, instrument.instrument_token)
                if signal is None:
                    raise ValidationError(f"no price for {instrument.tradingsymbol} yet (no tick cached); "
                                          "give a LIMIT price or wait for the ticker")
                view = trading.propose(intent, signal_price=signal, reason=why.strip() or "manual ticket",
                                       source="manual", now=now)
                st.success(f"Sent to approvals: {view.side} {view.quantity} {view.tradingsymbol} "
                           f"({view.approval_id}); risk preview {reason_codes_text(view.risk_preview.reasons) or 'OK'}")
                st.markdown(risk_badges(view.risk_preview))
        except ValidationError as exc:
            st.error(str(exc))

# ---- live: positions and funds ------------------------------------------------------------------


@st.fragment(run_every="2s")
def live_positions() -> None:
    now = desk_clock(svc).now
    st.subheader("Positions")
    square_off_refusals(trading, now, key="orders")
    positions = guarded("Positions", trading.positions, now)
    if positions is not None:
        with st.container(key="orders_positions"):  # a stable CSS class for browser tests
            if positions:
                st.dataframe(positions_frame(positions), hide_index=True)
            else:
                st.info("No positions yet.")
    st.subheader("Funds")
    funds = guarded("Funds", trading.funds, now)
    if funds is not None:
        funds_metrics(funds)
    st.caption(f"Marked at {ist(now)} · refreshes every 2 s")


live_positions()

# ---- books --------------------------------------------------------------------------------------

orders = guarded("The order book", trading.order_book)
if orders:
    open_orders = {o.order_id: o for o in orders if o.can_modify}
    if open_orders:
        with st.expander(f"Modify or cancel an open order ({len(open_orders)} open)", expanded=True):
            oid = st.selectbox(
                "Open order", list(open_orders), key="orders_open_id",
                format_func=lambda i: (f"{i} · {open_orders[i].side} {open_orders[i].quantity} "
                                       f"{open_orders[i].tradingsymbol} {open_orders[i].order_type} "
                                       f"({open_orders[i].status})"),
            )
            chosen = open_orders[oid]
            m = st.columns(3)
            new_qty = m[0].number_input("New quantity", min_value=0, value=int(chosen.quantity), step=1,
                                        key="orders_modify_qty")
            new_price = m[1].number_input("New price (₹)", min_value=0.0, value=float(chosen.price or 0),
                                          step=0.05, format="%.2f", key="orders_modify_price")
            new_trigger = m[2].number_input("New trigger (₹)", min_value=0.0, value=float(chosen.trigger_price or 0),
                                            step=0.05, format="%.2f", key="orders_modify_trigger")
            a = st.columns([1, 1, 4])
            try:
                if a[0].button("Modify", key="orders_modify"):
                    outcome = trading.modify_order(
                        oid, quantity=new_qty if new_qty != chosen.quantity else None,
                        price=to_decimal(new_price) if to_decimal(new_price) != chosen.price else None,
                        trigger_price=(to_decimal(new_trigger) if to_decimal(new_trigger) != chosen.trigger_price
                                       else None),
                        user=user, now=desk_clock(svc).now)
                    show_outcome(outcome, f"Modified {oid}")
                if a[1].button("Cancel order", key="orders_cancel"):
                    outcome = trading.cancel_order(oid, user=user, now=desk_clock(svc).now)
                    show_outcome(outcome, f"Cancelled {oid}")
            except ValidationError as exc:
                st.error(str(exc))


@st.fragment(run_every="2s")
def live_books() -> None:
    """Order book, trade book and today's charges, re-read every 2 s: a fill by the worker or
    an order placed elsewhere shows without a reload."""
    now = desk_clock(svc).now
    st.subheader("Order book")
    orders = guarded("The order book", trading.order_book)
    if orders is not None and not orders:
        st.info("No orders yet: place one with the ticket above or approve a proposal.")
    elif orders:
        st.dataframe(orders_frame(orders), hide_index=True, key="orders_book_table")
    st.subheader("Trade book")
    trades = guarded("The trade book", trading.trade_book)
    if trades is not None and not trades:
        st.info("No trades yet.")
    elif trades:
        st.dataframe(trades_frame(trades), hide_index=True, key="orders_trades_table")

    st.subheader("Charges today")
    charges = guarded("Today's charges", trading.charges_today, now)
    netting = guarded("Same-day CNC netting", svc.contract_notes.netting_today, to_ist(now).date())
    if charges is not None:
        if charges.total == 0 and not netting:
            st.caption("No charges today.")
        st.dataframe(charges_frame(charges, netting or ()), hide_index=True, key="orders_charges_table")
    st.caption(f"Books as of {ist(now)} · refresh every 2 s")


live_books()
