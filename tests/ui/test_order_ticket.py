"""AppTest of the order ticket that does what it shows (issue 14, item 1, and its keyboard habit).

One test per bug seen: the Modify form keeps another order's values; a negative quantity is
"outlined red" but the previous value is sent; a LIMIT confirmation says "at LTP"; 1234.567 is
rounded before the tick check. Then what the ticket must now show: what is sent with margin and
charges from ``core`` before sending, 5-level depth and the day's band, a product the instrument
allows, and the watchlist's ``ticket_prefill``.

Real parts only (fixtures of ``tests/ui/test_trading_pages.py``): a fresh SQLite store, the
session's real Redis with full-mode ticks written by the ticker's own encoder, the Dramatiq
``StubBroker`` of ``DESK_ENV=test``. The desk clock runs on the ticks' exchange time (Wednesday
17 Aug 2016, 10:00 IST: the ₹0.05 tick regime). The ticket is an ``st.form``: AppTest stages
field values until a submit button is pressed, as a browser does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.container import services
from app.ui.formatting import inr, money
from core import kite_wire
from core.charges import backfilled_schedules, equity_charges, schedule_for
from core.orders import OrderType, Product, Side
from core.tick_batch import decode_frame
from tests.factories import depth_tick
from tests.ui.test_trading_pages import T0, _page, _review, _texts, _ticket, desk  # noqa: F401

D = Decimal
PAGE = "pages/orders.py"


def _limit(desk, symbol: str, quantity: int, price: str) -> str:  # noqa: F811
    """A resting LIMIT BUY placed through the service; returns its order_id."""
    out = desk.svc.place_manual(desk.intent(symbol, quantity, order_type=OrderType.LIMIT, price=D(price)),
                                user="trader", now=T0)
    assert out.ok, out
    desk.execute_queued()
    return out.order_id


# ---- Modify: widgets keyed by the order being modified ----------------------------------------------


def test_modify_switching_the_selected_order_shows_that_orders_values(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    desk.tick("TCS", 2600.0)
    infy = _limit(desk, "INFY", 5, "990.00")
    tcs = _limit(desk, "TCS", 3, "2590.00")
    at = _page(PAGE).run()
    at.selectbox(key="orders_open_id").set_value(tcs).run()
    assert at.text_input(key=f"orders_modify_qty_{tcs}").value == "3"
    assert at.text_input(key=f"orders_modify_price_{tcs}").value == "2590.00"
    at.selectbox(key="orders_open_id").set_value(infy).run()
    assert not at.exception, at.exception
    assert at.text_input(key=f"orders_modify_qty_{infy}").value == "5"  # not TCS's 3
    assert at.text_input(key=f"orders_modify_price_{infy}").value == "990.00"
    # modify INFY's price only: its quantity stays 5
    at.text_input(key=f"orders_modify_price_{infy}").input("995.00")
    at.button(key=f"orders_modify_review_{infy}").click().run()
    at.button(key=f"orders_modify_{infy}").click().run()
    assert not at.exception, at.exception
    book = {o.order_id: o for o in desk.svc.order_book()}
    assert (book[infy].quantity, book[infy].price) == (5, D("995.00"))
    assert (book[tcs].quantity, book[tcs].price) == (3, D("2590.00"))
    assert "Modified" in _texts(at.success) and "BUY 5 INFY MIS LIMIT @ ₹995.00" in _texts(at.success)


def test_modify_offers_the_order_type_and_disables_modify_on_a_negative_quantity(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    infy = _limit(desk, "INFY", 5, "990.00")
    at = _page(PAGE).run()
    assert at.selectbox(key=f"orders_modify_type_{infy}").value == "LIMIT"
    assert set(at.selectbox(key=f"orders_modify_type_{infy}").options) == {"MARKET", "LIMIT", "SL", "SL-M"}
    at.text_input(key=f"orders_modify_qty_{infy}").input("-5")
    at.button(key=f"orders_modify_review_{infy}").click().run()
    assert not at.exception, at.exception
    assert at.button(key=f"orders_modify_{infy}").disabled
    assert "must be a positive whole number of shares, was -5" in _texts(at.error)
    assert desk.svc.order_book()[0].quantity == 5


# ---- invalid fields disable Place and send nothing ----------------------------------------------------


def test_negative_quantity_disables_place_with_the_reason_and_sends_nothing(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), qty="-5"))
    assert not at.exception, at.exception
    assert at.button(key="orders_place").disabled and at.button(key="orders_propose").disabled
    assert "Quantity: must be a positive whole number of shares, was -5" in _texts(at.error)
    assert desk.svc.order_book() == [] and desk.queued() == [] and desk.svc.pending(T0) == []


def test_place_pressed_right_after_typing_a_negative_quantity_sends_nothing(desk):  # noqa: F811
    """The old bug: Place sent the previous value. Now the submitted -5 is judged, not sent."""
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), qty=3))
    assert not at.button(key="orders_place").disabled  # 3 shares is a valid ticket
    at.text_input(key="orders_quantity").input("-5")
    at.button(key="orders_place").click().run()  # pressed without reviewing
    assert not at.exception, at.exception
    assert "Quantity: must be a positive whole number of shares, was -5" in _texts(at.error)
    assert at.button(key="orders_place").disabled
    assert desk.svc.order_book() == [] and desk.queued() == []


def test_place_pressed_after_an_unreviewed_change_sends_nothing_until_pressed_again(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), qty=3))
    at.text_input(key="orders_quantity").input("4")
    at.button(key="orders_place").click().run()
    assert "Not sent: the ticket changed since the preview" in _texts(at.warning)
    assert desk.svc.order_book() == [] and desk.queued() == []
    assert "**Will send:** BUY 4 INFY MIS MARKET" in _texts(at.markdown)
    at.button(key="orders_place").click().run()
    assert "Placed BUY 4 INFY MIS MARKET" in _texts(at.success)
    assert len(desk.queued()) == 1


def test_fractional_quantity_disables_place(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), qty="2.5"))
    assert at.button(key="orders_place").disabled
    assert "Quantity: must be a whole number of shares, was 2.5" in _texts(at.error)
    assert desk.svc.order_book() == []


def test_limit_price_with_three_decimals_is_refused_as_off_tick_not_rounded(desk):  # noqa: F811
    desk.tick("INFY", 1234.5)
    at = _review(_ticket(_page(PAGE).run(), type="LIMIT", qty=5, price="1234.567"))
    assert not at.exception, at.exception
    assert at.button(key="orders_place").disabled
    assert ("Price: 1234.567 is not a multiple of the tick size ₹0.05; use ₹1,234.55 or ₹1,234.60"
            in _texts(at.error))
    assert desk.svc.order_book() == [] and desk.queued() == []


def test_limit_price_outside_the_days_band_disables_place_naming_the_band(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), type="LIMIT", qty=5, price="2000"))
    assert at.button(key="orders_place").disabled
    band = desk.svc.price_band(services().instruments.resolve("NSE:INFY"), depth_tick(desk.token("INFY"), 1000.0))
    assert band is not None and band[1] < 2000
    assert f"Price: ₹2,000.00 is outside the day's band {inr(band[0])} – {inr(band[1])}" in _texts(at.error)
    assert desk.svc.order_book() == []


def test_sl_without_trigger_disables_place(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), type="SL", qty=5, price="1010"))
    assert at.button(key="orders_place").disabled
    assert "Trigger price: enter a trigger price in ₹" in _texts(at.error)


# ---- the preview says exactly what is sent; the confirmation repeats it ------------------------------


def test_limit_preview_and_confirmation_repeat_exactly_what_is_sent(desk):  # noqa: F811
    desk.tick("INFY", 1240.0)
    at = _review(_ticket(_page(PAGE).run(), type="LIMIT", qty=5, price="1234.50", product="CNC"))
    assert not at.exception, at.exception
    assert "**Will send:** BUY 5 INFY CNC LIMIT @ ₹1,234.50" in _texts(at.markdown)
    # margin and charges from core: CNC buys block 100 %; charges of the trade date's schedule
    charges = equity_charges(Side.BUY, Product.CNC, 5, D("1234.50"), schedule_for(T0.date(), backfilled_schedules()))
    captions = _texts(at.caption)
    assert f"Order value {money(D('6172.50'))} · margin blocked {money(D('6172.50'))}" in captions
    assert f"Estimated charges {inr(charges.total)} (brokerage {inr(charges.brokerage)}" in captions
    assert "Risk check now: OK" in captions
    at.button(key="orders_place").click().run()
    assert not at.exception, at.exception
    [success] = [s.value for s in at.success]
    assert success.startswith("Placed BUY 5 INFY CNC LIMIT @ ₹1,234.50 · order O-")
    assert "at LTP" not in success
    desk.execute_queued()
    [order] = desk.svc.order_book()
    assert (order.side, order.quantity, order.product, order.order_type, order.price) == (
        "BUY", 5, "CNC", "LIMIT", D("1234.50"))


def test_preview_shows_a_risk_refusal_before_sending(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _review(_ticket(_page(PAGE).run(), qty=300))  # ₹3,00,000 > the ₹2,00,000 per-order cap
    assert "Risk check now: would be refused [ORDER_NOTIONAL" in _texts(at.caption)
    assert desk.svc.order_book() == [] and desk.queued() == []  # the preview stores nothing


# ---- depth and the day's band beside the ticket ----------------------------------------------------


def test_depth_panel_shows_five_levels_and_the_band(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _ticket(_page(PAGE).run(), qty=1)
    assert not at.exception, at.exception
    [table] = [d.value for d in at.dataframe if "bid qty" in d.value.columns]
    assert len(table) == 6  # 5 levels + the total row
    assert (table.iloc[0]["bid ₹"], table.iloc[0]["ask ₹"]) == ("₹1,000.00", "₹1,000.10")
    assert table.iloc[4]["ask ₹"] == "₹1,000.50" and table.iloc[0]["bid qty"] == "10,000"
    assert "INFY · LTP ₹1,000.00 · lot 1 · tick ₹0.05" in _texts(at.caption)  # 2016's tick, not the dump's
    band = desk.svc.price_band(services().instruments.resolve("NSE:INFY"), depth_tick(desk.token("INFY"), 1000.0))
    assert band is not None
    assert f"Day's band {inr(band[0])} – {inr(band[1])}" in _texts(at.caption)


def test_depth_panel_without_a_full_tick_says_so(desk):  # noqa: F811
    token = desk.token("INFY")
    ltp_only = kite_wire.encode_frame([kite_wire.encode_packet(depth_tick(token, 1000.0, at=T0), "ltp")])
    services().ticks.write_frame(decode_frame(ltp_only), datetime.now(UTC))
    at = _ticket(_page(PAGE).run(), qty=1)
    assert not at.exception, at.exception
    assert "No market depth for this symbol yet: —" in _texts(at.info)
    assert not [d for d in at.dataframe if "bid qty" in d.value.columns]


# ---- a product the instrument allows; the watchlist's prefill ---------------------------------------


def test_ticket_defaults_to_cnc_and_says_why_when_mis_is_not_allowed(desk):  # noqa: F811
    """AARTIIND is not on the bundled MIS list (2026): the first try is not a refusal."""
    desk.tick("INFY", 1000.0)  # a watchlist tick: the desk clock runs on the replayed session
    desk.tick("AARTIIND", 500.0)
    at = _page(PAGE)
    at.session_state["ticket_prefill"] = {"tradingsymbol": "AARTIIND", "exchange": "NSE", "side": "BUY"}
    at.run()  # not on the watchlist: opened from a scanner row
    assert not at.exception, at.exception
    assert at.radio(key="orders_product").value == "CNC"
    assert "MIS unavailable: product MIS is not allowed on AARTIIND" in _texts(at.caption)
    at = _review(at)
    assert "Risk check now: OK" in _texts(at.caption)
    at = _ticket(at, symbol="NSE:INFY", qty=1)
    assert at.radio(key="orders_product").value == "MIS"  # INFY is on the list


def test_ticket_prefill_selects_symbol_and_side_once(desk):  # noqa: F811
    desk.tick("INFY", 1000.0)
    at = _page(PAGE)
    at.session_state["ticket_prefill"] = {"tradingsymbol": "INFY", "exchange": "NSE", "side": "SELL"}
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="orders_symbol").value == "NSE:INFY"
    assert at.radio(key="orders_side").value == "SELL"
    assert "ticket_prefill" not in at.session_state  # consumed
    at = _review(at)
    assert "**Will send:** SELL 1 INFY MIS MARKET" in _texts(at.markdown)


def test_ticket_is_a_form_so_enter_reviews_it(desk):  # noqa: F811
    at = _page(PAGE).run()
    form_buttons = [b for b in at.button if getattr(b, "form_id", "") == "orders_ticket_form"]
    assert [b.key for b in form_buttons] == ["orders_review", "orders_place", "orders_propose"]  # Enter = Review


# ---- the ticket's rules without the page -------------------------------------------------------------


def _inst(tick: str = "0.05"):
    from core.models import Instrument

    return Instrument(instrument_token=408065, exchange_token=1594, tradingsymbol="INFY", name="INFOSYS",
                      exchange="NSE", segment="NSE", instrument_type="EQ", tick_size=D(tick), lot_size=1)


def test_sent_text_names_price_trigger_and_validity_as_sent():
    from app.ui.order_ticket import check_ticket, sent_text

    base = dict(side="SELL", quantity="10", product="MIS", validity="IOC")
    sl = check_ticket(_inst(), {**base, "order_type": "SL", "price": "1,000.00", "trigger_price": "1000.50"},
                      day=T0.date())
    assert sl.ok and sent_text(sl.intent) == "SELL 10 INFY MIS SL @ ₹1,000.00 trigger ₹1,000.50 IOC"
    slm = check_ticket(_inst(), {**base, "order_type": "SL-M", "price": "999", "trigger_price": "1000"},
                       day=T0.date())
    assert slm.ok and slm.intent.price is None  # SL-M takes no price: the stale box is not sent
    assert sent_text(slm.intent) == "SELL 10 INFY MIS SL-M trigger ₹1,000.00 IOC"


def test_check_ticket_collects_one_reason_per_bad_field():
    from app.ui.order_ticket import check_ticket

    bad = check_ticket(_inst(), dict(side="BUY", quantity="abc", product="CNC", order_type="LIMIT",
                                     price="1000.02", validity="DAY", stop_loss="-1"),
                       day=T0.date(), band=(D("900"), D("1100")))
    assert not bad.ok and bad.intent is None
    assert [label for label, _ in bad.problems] == ["Quantity", "Price", "Stop-loss"]
    assert "use ₹1,000.00 or ₹1,000.05" in bad.reason()
