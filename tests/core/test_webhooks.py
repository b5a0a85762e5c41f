"""core.webhooks: TradingView and Chartink payloads → alert intents, dedupe keys, caps."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.errors import ValidationError
from core.orders import OrderType, Product, Side
from core.webhooks import (
    MAX_BODY_BYTES,
    MAX_SYMBOLS,
    ChartinkDefaults,
    FieldError,
    MalformedPayload,
    PayloadTooLarge,
    decode_body,
    dedupe_key,
    fence,
    parse_chartink,
    parse_chartink_defaults,
    parse_tradingview,
    symbol_candidates,
)

TV = {"symbol": "NSE:INFY", "action": "buy", "quantity": "10", "price": "1234.55", "strategy": "ema-cross",
      "message": "EMA 9 crossed **above** [EMA 21](http://evil)"}
CHARTINK = {
    "stocks": "SEPOWER,ASTEC,EDUCOMP", "trigger_prices": "3.75,541.8,2.1", "triggered_at": "2:34 pm",
    "scan_name": "Short term breakouts", "scan_url": "short-term-breakouts",
    "alert_name": "Alert for Short term breakouts", "webhook_url": "http://desk/api/v1/webhooks/chartink/SECRET",
}


def test_tradingview_template_gives_one_market_intent_with_the_alert_price():
    d = parse_tradingview(TV)
    (i,) = d.intents
    assert d.source == "tradingview"
    assert (i.exchange, i.symbol, i.side, i.quantity) == ("NSE", "INFY", Side.BUY, 10)
    assert (i.product, i.order_type, i.price) == (Product.MIS, OrderType.MARKET, None)
    assert i.signal_price == Decimal("1234.55")
    assert i.strategy == "ema-cross"
    assert i.reason.startswith("TradingView alert: BUY 10 NSE:INFY MARKET @ ₹1234.55 · strategy ema-cross")


def test_tradingview_message_is_fenced_as_one_inline_code_span():
    d = parse_tradingview({**TV, "message": "line one\n`rm` [link](x)"})
    assert d.intents[0].reason.endswith("alert text (untrusted): `line one 'rm' [link](x)`")


def test_tradingview_accepts_ticker_exchange_side_qty_aliases_and_any_case():
    d = parse_tradingview({"ticker": "tcs", "exchange": "NSE", "side": "SELL", "qty": 5.0})
    (i,) = d.intents
    assert (i.key, i.side, i.quantity, i.signal_price, i.strategy) == ("NSE:TCS", Side.SELL, 5, None, "tradingview")


def test_tradingview_limit_uses_price_as_limit_and_needs_it():
    i = parse_tradingview({**TV, "order_type": "limit", "product": "cnc"}).intents[0]
    assert (i.order_type, i.product, i.price) == (OrderType.LIMIT, Product.CNC, Decimal("1234.55"))
    with pytest.raises(FieldError, match="price: a LIMIT alert needs a limit price") as err:
        parse_tradingview({"symbol": "INFY", "action": "buy", "quantity": 1, "order_type": "LIMIT"})
    assert err.value.field == "price"


def test_tradingview_sl_m_needs_a_trigger_price():
    with pytest.raises(FieldError, match="trigger_price") as err:
        parse_tradingview({**TV, "order_type": "SL_M"})
    assert err.value.field == "trigger_price"


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"symbol": None}, "symbol", "is required"),
    ({"action": "long"}, "action", "must be buy or sell"),
    ({"quantity": "0"}, "quantity", "between 1 and"),
    ({"quantity": "2.5"}, "quantity", "whole number"),
    ({"quantity": True}, "quantity", "whole number"),
    ({"price": "-3"}, "price", "positive price"),
    ({"price": "abc"}, "price", "price in ₹"),
    ({"product": "NRML"}, "product", "one of MIS, CNC"),
    ({"symbol": "NSE:IN FY"}, "symbol", "not an exchange symbol"),
    ({"symbol": "MCX:GOLD"}, "symbol", "not one of NSE, BSE"),
    ({"message": "x" * 501}, "message", "at most 500"),
    ({"message": {"a": 1}}, "message", "must be text"),
])
def test_tradingview_bad_field_raises_naming_the_field(change, field, text):
    payload = {k: v for k, v in {**TV, **change}.items() if v is not None}
    with pytest.raises(FieldError, match=text) as err:
        parse_tradingview(payload)
    assert err.value.field == field
    assert isinstance(err.value, ValidationError)


def test_strategy_label_drops_markdown_characters():
    i = parse_tradingview({**TV, "strategy": "My **RSI** (14) [x](y)"}).intents[0]
    assert i.strategy == "My RSI 14 xy"


def test_chartink_gives_one_intent_per_stock_with_trigger_prices():
    d = parse_chartink(CHARTINK, ChartinkDefaults(side=Side.SELL, quantity=3, product=Product.MIS))
    assert [i.key for i in d.intents] == ["NSE:SEPOWER", "NSE:ASTEC", "NSE:EDUCOMP"]
    assert [i.signal_price for i in d.intents] == [Decimal("3.75"), Decimal("541.8"), Decimal("2.1")]
    assert {(i.side, i.quantity, i.order_type) for i in d.intents} == {(Side.SELL, 3, OrderType.MARKET)}
    assert d.intents[0].strategy == "chartink:Short term breakouts"
    assert d.label == "Short term breakouts"
    assert d.intents[1].reason == ("Chartink alert: NSE:ASTEC triggered at ₹541.8 (`2:34 pm`) · untrusted: "
                                   "alert name `Alert for Short term breakouts` · scan name `Short term breakouts`")
    assert "SECRET" not in " ".join(i.reason for i in d.intents)


def test_chartink_without_trigger_prices_leaves_signal_price_to_the_service():
    d = parse_chartink({"stocks": "INFY, TCS"})
    assert [(i.key, i.signal_price, i.side, i.quantity) for i in d.intents] == [
        ("NSE:INFY", None, Side.BUY, 1), ("NSE:TCS", None, Side.BUY, 1)]


@pytest.mark.parametrize(("payload", "field", "text"), [
    ({}, "stocks", "required"),
    ({"stocks": "INFY,,TCS"}, "stocks", "empty entry"),
    ({"stocks": "INFY,INFY"}, "stocks", "twice"),
    ({"stocks": ",".join(f"S{i}" for i in range(MAX_SYMBOLS + 1))}, "stocks", "at most 50"),
    ({"stocks": "INFY,TCS", "trigger_prices": "1.5"}, "trigger_prices", "1 prices for 2 stocks"),
    ({"stocks": "INFY", "trigger_prices": "0"}, "trigger_prices", "positive"),
    ({"stocks": "INFY", "scan_name": "x" * 600}, "scan_name", "at most 500"),
])
def test_chartink_bad_field_raises_naming_the_field(payload, field, text):
    with pytest.raises(FieldError, match=text) as err:
        parse_chartink(payload)
    assert err.value.field == field


def test_chartink_defaults_from_the_query_string():
    assert parse_chartink_defaults({"side": "sell", "quantity": "25", "product": "CNC"}) == ChartinkDefaults(
        Side.SELL, 25, Product.CNC)
    assert parse_chartink_defaults({}) == ChartinkDefaults()
    with pytest.raises(FieldError, match="unknown query parameter") as err:
        parse_chartink_defaults({"qty": "3"})
    assert err.value.field == "qty"


def test_dedupe_key_ignores_key_order_and_webhook_url_but_not_content():
    a = dedupe_key("chartink", CHARTINK)
    reordered = dict(reversed(list(CHARTINK.items())))
    assert dedupe_key("chartink", reordered) == a
    assert dedupe_key("chartink", {**CHARTINK, "webhook_url": "other"}) == a
    assert dedupe_key("chartink", {**CHARTINK, "triggered_at": "2:35 pm"}) != a
    assert dedupe_key("tradingview", CHARTINK) != a
    assert parse_chartink(CHARTINK).dedupe_key == a


def test_decode_body_accepts_a_json_object_and_keeps_prices_exact():
    assert decode_body(json.dumps(TV).encode()) == TV
    assert decode_body(b'{"price": 1234.55}') == {"price": Decimal("1234.55")}


@pytest.mark.parametrize(("body", "text"), [
    (b"", "empty"),
    (b"BUY INFY", "not JSON"),
    (b'{"a": 1', "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"price": NaN}', "not JSON"),
])
def test_decode_body_malformed_raises(body, text):
    with pytest.raises(MalformedPayload, match=text):
        decode_body(body)


def test_decode_body_over_the_cap_is_too_large():
    with pytest.raises(PayloadTooLarge, match="limit is 16,384 bytes"):
        decode_body(b" " * (MAX_BODY_BYTES + 1))
    assert decode_body(b"{}" + b" " * (MAX_BODY_BYTES - 2)) == {}


def test_symbol_candidates_reads_tradingview_underscore_as_hyphen():
    assert symbol_candidates("NSE", "BAJAJ_AUTO") == ("NSE:BAJAJ_AUTO", "NSE:BAJAJ-AUTO")
    assert symbol_candidates("NSE", "INFY") == ("NSE:INFY",)


def test_fence_collapses_whitespace_and_backticks():
    assert fence(" a\n\tb ``c`` ") == "`a b ''c''`"
