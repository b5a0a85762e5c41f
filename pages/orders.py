"""Orders & Positions: the order ticket (with its preview, market depth and the day's band),
order book (modify/cancel), trade book, positions, funds.

The ticket and the Modify form are ``st.form``s: Enter reviews the ticket (the first submit
button), Place/Modify send only the ticket the preview showed, and are disabled with the reason
beside them while any field is invalid (``app.ui.order_ticket.check_ticket``).
"""

from decimal import Decimal

import streamlit as st

from app.ui.state import get_services, get_watch_view
from app.ui.approval_widgets import risk_badges
from app.ui.book_widgets import (
    charges_frame,
    exits_tables,
    funds_metrics,
    orders_frame,
    positions_frame,
    trades_frame,
)
from app.ui.depth_widgets import depth_panel
from app.ui.desk import current_user, desk_clock, ltp_of
from app.ui.feedback import guarded, show_flash, show_outcome
from app.ui.formatting import inr, ist, money, qty, reason_codes_text
from app.ui.order_ticket import (
    ORDER_TYPES,
    PREFILL_KEY,
    PRODUCTS,
    PROTECTION_MODES,
    check_ticket,
    mis_unavailable,
    protection_preview,
    sent_text,
    ticket_tick,
)
from app.ui.square_off_widgets import square_off_refusals
from core.errors import ValidationError
from core.timeutil import to_ist
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

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


def _band(instrument, depth) -> tuple[Decimal, Decimal] | None:
    """The day's band every order is checked against, as exact ₹ (``None`` when unknown)."""
    band = guarded("The day's band", trading.price_band, instrument, depth.tick if depth else None)
    return None if band is None else (Decimal(str(band[0])), Decimal(str(band[1])))


def _preview_lines(preview) -> list[str]:
    """The estimate lines of a ``TradingService.preview_order`` answer."""
    lines = []
    if preview.notional is not None:
        at = f" at {inr(preview.margin_price)}" if preview.margin_price not in (None, preview.expected_price) else ""
        lines.append(f"Order value {money(preview.notional)} · margin blocked {money(preview.required_margin)}{at}")
    if preview.charges is not None:
        c = preview.charges
        lines.append(f"Estimated charges {inr(c.total)} (brokerage {inr(c.brokerage)}, STT {inr(c.stt)}, "
                     f"exchange {inr(c.exchange_txn)}, SEBI {inr(c.sebi)}, stamp {inr(c.stamp)}, GST {inr(c.gst)})")
    if preview.approved:
        lines.append("Risk check now: OK")
    else:
        lines.append(f"Risk check now: would be refused {reason_codes_text(preview.reasons)}: "
                     + "; ".join(preview.messages))
    return lines


st.subheader("Order ticket")
watch_keys = list(guarded("The watchlist", svc.watchlists.keys) or [])
prefill = st.session_state.pop(PREFILL_KEY, None)  # from a watchlist/scanner row: consumed once
if isinstance(prefill, dict) and prefill.get("tradingsymbol"):
    st.session_state["orders_symbol"] = f"{prefill.get('exchange') or 'NSE'}:{prefill['tradingsymbol']}"
    if prefill.get("side") in ("BUY", "SELL"):
        st.session_state["orders_side"] = prefill["side"]
chosen_key = st.session_state.get("orders_symbol")
if chosen_key and chosen_key not in watch_keys:
    watch_keys.append(chosen_key)

ticket_col, depth_col = st.columns([3, 2])
with ticket_col:
    top = st.columns([2, 1])
    symbol = top[0].selectbox("Symbol", watch_keys, index=None, placeholder="INFY or NSE:INFY",
                              accept_new_options=True, key="orders_symbol")
    order_type = top[1].selectbox("Order type", ORDER_TYPES, key="orders_type",
                                  help="Changes which prices the ticket takes: LIMIT a price, SL a price and a "
                                       "trigger, SL-M a trigger, MARKET none.")
    instrument = depth = None
    if symbol:
        try:
            instrument = svc.instruments.resolve(symbol)
        except ValidationError as exc:
            st.error(str(exc))
    if instrument is not None:
        depth = get_watch_view().depth(instrument.instrument_token)
    band = _band(instrument, depth) if instrument is not None else None
    mis_why = mis_unavailable(instrument.tradingsymbol, trading.config.margin_rules) if instrument else None
    if st.session_state.get("orders_product_for") != symbol:  # a new symbol: a product it allows
        st.session_state["orders_product_for"] = symbol
        st.session_state["orders_product"] = "CNC" if mis_why else "MIS"
    if mis_why:
        st.caption(f"MIS unavailable: {mis_why}. The ticket defaults to CNC.")
    takes_price = order_type in ("LIMIT", "SL")
    takes_trigger = order_type in ("SL", "SL-M")
    protected = order_type in ("MARKET", "SL-M")

    with st.form("orders_ticket_form", border=True, enter_to_submit=True):
        r1 = st.columns([1, 1, 1, 1])
        side = r1[0].radio("Side", ["BUY", "SELL"], horizontal=True, key="orders_side")
        quantity = r1[1].text_input("Quantity (shares)", value="1", key="orders_quantity",
                                    placeholder="whole shares, e.g. 5")
        product = r1[2].radio("Product", list(PRODUCTS), horizontal=True, key="orders_product")
        validity = r1[3].radio("Validity", ["DAY", "IOC"], horizontal=True, key="orders_validity")
        r2 = st.columns([1, 1, 1, 1])
        price = r2[0].text_input("Price (₹)", value="", key="orders_price", disabled=not takes_price,
                                 placeholder="for LIMIT / SL" if not takes_price else "e.g. 1234.50")
        trigger = r2[1].text_input("Trigger price (₹)", value="", key="orders_trigger", disabled=not takes_trigger,
                                   placeholder="for SL / SL-M" if not takes_trigger else "e.g. 1230.00")
        protection_mode = r2[2].radio("Market protection", PROTECTION_MODES, horizontal=True,
                                      key="orders_protection_mode", disabled=not protected,
                                      help="Kite's market_protection (from 1 Apr 2026): Automatic (-1) uses "
                                           "Zerodha's band (2% below ₹100, 1% ₹100–500, 0.5% above ₹500); "
                                           "Percent sets your own, 0 < p <= 100.")
        protection_pct = r2[3].text_input("Protection (%)", value="1.00", key="orders_protection_pct",
                                          disabled=not protected)
        r3 = st.columns([1, 1, 2])
        stop = r3[0].text_input("Stop-loss (₹, optional)", value="", key="orders_stop")
        target = r3[1].text_input("Target (₹, optional)", value="", key="orders_target")
        why = r3[2].text_input("Why (shown on the approval card)", value="manual ticket", key="orders_reason")

        values = dict(side=side, quantity=quantity, product=product, order_type=order_type, price=price,
                      trigger_price=trigger, validity=validity, stop_loss=stop, target=target,
                      protection_mode=protection_mode, protection_percent=protection_pct)
        check = check_ticket(instrument, values, day=to_ist(clock.now).date(), band=band) if instrument else None
        blocked = ("pick a symbol first (e.g. INFY or NSE:INFY)" if not symbol
                   else f"unknown symbol {symbol!r}; pick one from the list" if instrument is None
                   else check.reason())
        b = st.columns([1, 1, 1.4, 2.6], vertical_alignment="center")
        review = b[0].form_submit_button("Review", key="orders_review",
                                         help="Enter in any field reviews the ticket: the preview below shows "
                                              "exactly what Place sends.")
        place = b[1].form_submit_button("Place", type="primary", key="orders_place", disabled=bool(blocked))
        propose = b[2].form_submit_button("Send to approvals", key="orders_propose", disabled=bool(blocked))
        if blocked and not symbol:
            b[3].caption("Place and Send are enabled once a symbol is picked (e.g. INFY or NSE:INFY).")
        elif blocked:
            b[3].error(f"Not ready: {blocked}", icon=":material/block:")
        else:
            b[3].caption("Place: straight through the risk gatekeeper. Send to approvals: a pending card on "
                         "the Approvals page.")

    previewed = st.session_state.get("orders_previewed")
    intent = check.intent if check is not None and check.ok else None
    st.session_state["orders_previewed"] = intent
    if (place or propose) and intent is not None and intent != previewed:
        st.warning("Not sent: the ticket changed since the preview. Check the preview below and press "
                   f"{'Place' if place else 'Send to approvals'} again.", icon=":material/visibility:")
        place = propose = False
    elif (place or propose) and intent is None:
        st.error(f"Not sent: {blocked}")
        place = propose = False

    if intent is not None:
        now = desk_clock(svc).now
        preview = None
        try:
            preview = guarded("The preview", trading.preview_order, intent, now=now)
        except ValidationError as exc:
            st.error(str(exc))
        with st.container(border=True, key="orders_preview"):
            st.markdown(f"**Will send:** {sent_text(intent)}")
            if preview is not None:
                for line in _preview_lines(preview):
                    st.caption(line)
            if protected:
                try:
                    line = protection_preview(intent, instrument, preview.ltp if preview else None, now)
                except ValidationError as exc:
                    st.error(str(exc))
                else:
                    if line:
                        st.info(line, icon=":material/shield:")

    if (place or propose) and intent is not None:
        try:
            now = desk_clock(svc).now
            if place:
                outcome = trading.place_manual(intent, user=user, now=now)
                confirm = protection_preview(intent, instrument, outcome.price, now) if outcome.ok else None
                show_outcome(outcome, f"Placed {sent_text(intent)} · order {outcome.order_id}"
                                      + (f" · {confirm}" if confirm else "")
                                      + f" · LTP {inr(outcome.price)} when placed")
            else:
                signal = intent.price or intent.trigger_price or ltp_of(svc, instrument.instrument_token)
                if signal is None:
                    raise ValidationError(f"no price for {instrument.tradingsymbol} yet (no tick cached); "
                                          "give a LIMIT price or wait for the ticker")
                view = trading.propose(intent, signal_price=signal, reason=why.strip() or "manual ticket",
                                       source="manual", now=now)
                st.success(f"Sent to approvals: {sent_text(intent)} ({view.approval_id}); risk preview "
                           f"{reason_codes_text(view.risk_preview.reasons) or 'OK'}")
                st.markdown(risk_badges(view.risk_preview))
        except ValidationError as exc:
            st.error(str(exc))

with depth_col:
    if instrument is not None:
        st.caption(f"{instrument.tradingsymbol} · LTP {inr(depth.ltp if depth else None)} · lot "
                   f"{qty(instrument.lot_size)} · tick {inr(ticket_tick(instrument, to_ist(clock.now).date()))}")
    depth_panel(depth, band, key="orders")

# ---- live: positions and funds ------------------------------------------------------------------


@st.fragment(run_every="1s")
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
    st.subheader("Exits")
    exits_tables(guarded("Exits", trading.exit_book), key="orders")
    st.subheader("Funds")
    funds = guarded("Funds", trading.funds, now)
    if funds is not None:
        funds_metrics(funds)
    st.caption(f"Marked at {ist(now)} · refreshes every second")


live_positions()

# ---- exits: move, trail or cancel a position's stop and target ----------------------------------

live_exits = {e.group_id: e for e in (guarded("Exits", trading.exit_book, live_only=True) or [])}
if live_exits:
    with st.expander(f"Move, trail or cancel exits ({len(live_exits)} working)", expanded=False):
        gid = st.selectbox("Exits of", list(live_exits), key="orders_exit_group",
                           format_func=lambda g: (f"{live_exits[g].tradingsymbol} {live_exits[g].product} · "
                                                  f"{live_exits[g].kind} · stop {inr(live_exits[g].stop)} · "
                                                  f"target {inr(live_exits[g].target)}"))
        chosen_exit = live_exits[gid]
        try:
            if chosen_exit.kind == "OCO":
                with st.form(f"orders_exit_form_{gid}", border=False):
                    e = st.columns(4)
                    new_stop = e[0].text_input("New stop trigger (₹)", value="", key=f"orders_exit_stop_{gid}",
                                               placeholder=f"now {inr(chosen_exit.stop)}")
                    new_target = e[1].text_input("New target (₹)", value="", key=f"orders_exit_target_{gid}",
                                                 placeholder=f"now {inr(chosen_exit.target)}")
                    trail_kind = e[2].selectbox("Trailing", ["off", "RUPEES", "PERCENT", "ATR"],
                                                key=f"orders_exit_trail_{gid}",
                                                help="RUPEES: ₹ behind the best price; PERCENT: % behind it; ATR: "
                                                     "a multiple of the ATR(14) of 1-minute bars measured now. The "
                                                     "stop only moves in your favour.")
                    trail_step = e[3].text_input("Trailing step (₹, % or × ATR)", value="",
                                                 key=f"orders_exit_step_{gid}")
                    b = st.columns(2)
                    move = b[0].form_submit_button("Move exits", type="primary", key=f"orders_exit_move_{gid}")
                    trail = b[1].form_submit_button("Set trailing", key=f"orders_exit_trail_set_{gid}")
                if move:
                    outcome = trading.move_exits(gid, stop=new_stop.strip() or None, target=new_target.strip() or None,
                                                 user=user, now=desk_clock(svc).now)
                    show_outcome(outcome, f"Moved the exits of {chosen_exit.tradingsymbol}")
                if trail:
                    outcome = trading.set_trailing(gid, None if trail_kind == "off" else trail_kind,
                                                   trail_step.strip() or None, user=user, now=desk_clock(svc).now)
                    show_outcome(outcome, f"Trailing {'off' if trail_kind == 'off' else 'set'} for "
                                          f"{chosen_exit.tradingsymbol}")
            else:
                st.caption("A GTT's triggers are fixed: cancel it and place a new exit to change them.")
            if st.button("Cancel these exits", key=f"orders_exit_cancel_{gid}"):
                outcome = trading.cancel_exits(gid, user=user, now=desk_clock(svc).now)
                show_outcome(outcome, f"Cancelled the exits of {chosen_exit.tradingsymbol}")
        except ValidationError as exc:
            st.error(str(exc))

# ---- books --------------------------------------------------------------------------------------


def _plain(value) -> str:
    """A Decimal ₹ as the text a field starts with (``"990.00"``; ``""`` for none)."""
    return "" if value is None else f"{value:f}"


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
            m_inst = svc.instruments.resolve(chosen.instrument_token)
            m_band = _band(m_inst, get_watch_view().depth(chosen.instrument_token))
            # every widget is keyed by the order: picking another order shows *its* values
            with st.form(f"orders_modify_form_{oid}", border=False):
                m = st.columns(4)
                new_type = m[0].selectbox("Order type", ORDER_TYPES, index=ORDER_TYPES.index(chosen.order_type),
                                          key=f"orders_modify_type_{oid}")
                new_qty = m[1].text_input("New quantity (shares)", value=str(chosen.quantity),
                                          key=f"orders_modify_qty_{oid}")
                new_price = m[2].text_input("New price (₹)", value=_plain(chosen.price),
                                            key=f"orders_modify_price_{oid}", help="For LIMIT / SL.")
                new_trigger = m[3].text_input("New trigger (₹)", value=_plain(chosen.trigger_price),
                                              key=f"orders_modify_trigger_{oid}", help="For SL / SL-M.")
                m_check = check_ticket(m_inst, dict(side=chosen.side, quantity=new_qty, product=chosen.product,
                                                    order_type=new_type, price=new_price,
                                                    trigger_price=new_trigger, validity=chosen.validity),
                                       day=to_ist(clock.now).date(), band=m_band)
                changes = {}
                if m_check.ok:
                    new = m_check.intent
                    if new.quantity != chosen.quantity:
                        changes["quantity"] = new.quantity
                    if new.order_type != chosen.order_type:
                        changes["order_type"] = str(new.order_type)
                    if new.price is not None and new.price != chosen.price:
                        changes["price"] = new.price
                    if new.trigger_price is not None and new.trigger_price != chosen.trigger_price:
                        changes["trigger_price"] = new.trigger_price
                m_blocked = m_check.reason() or ("" if changes else "nothing to change yet: edit a field first")
                a = st.columns([1, 1, 4], vertical_alignment="center")
                a[0].form_submit_button("Review change", key=f"orders_modify_review_{oid}")
                modify = a[1].form_submit_button("Modify", type="primary", key=f"orders_modify_{oid}",
                                                 disabled=bool(m_blocked))
                if m_blocked:
                    a[2].error(f"Modify disabled: {m_blocked}", icon=":material/block:")
                else:
                    a[2].caption(f"Will modify {oid} to: {sent_text(m_check.intent)}")
            m_previewed = st.session_state.get("orders_modify_previewed")
            m_now = (oid, tuple(sorted(changes.items()))) if not m_blocked else None
            st.session_state["orders_modify_previewed"] = m_now
            try:
                if modify and m_now is None:
                    st.error(f"Not modified: {m_blocked}")
                elif modify and m_now != m_previewed:
                    st.warning("Not modified: the change differs from the preview. Check it and press Modify "
                               "again.", icon=":material/visibility:")
                elif modify:
                    outcome = trading.modify_order(oid, **changes, user=user, now=desk_clock(svc).now)
                    show_outcome(outcome, f"Modified {oid}: now {sent_text(m_check.intent)}")
                if st.button("Cancel order", key=f"orders_cancel_{oid}"):
                    outcome = trading.cancel_order(oid, user=user, now=desk_clock(svc).now)
                    show_outcome(outcome, f"Cancelled {oid}")
            except ValidationError as exc:
                st.error(str(exc))


@st.fragment(run_every="1s")
def live_books() -> None:
    """Order book, trade book and today's charges, re-read every second: a fill by the worker or
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
    st.caption(f"Books as of {ist(now)} · refresh every second")


live_books()
