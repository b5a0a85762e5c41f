"""Kite's ``order_margins`` as the desk's exact margin (issue 13, ``core.margins`` rule 5), end to
end: ``app.trading.kite_margins.KiteOrderMargins`` through the real ``kiteconnect`` client against
the replay server's ``POST /margins/orders`` (whose figure is the desk's own rules over the bundled
table, so these tests check the plumbing and the fallback, not Zerodha's figures)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.adapters.bundled_market import margin_table
from app.adapters.kite_errors import KiteLoginRequired, connect
from app.trading.config import TradingConfig
from app.trading.kite_margins import KiteOrderMargins, order_margin_params
from core.margins import MarginRules
from core.orders import OrderType, Product, Side
from core.risk.reasons import ReasonCode
from tests.fixtures_trading import INFY, D, intent, later, make_desk
from tests.kite_fixtures import inject_failures, kite_replay, requests_log  # noqa: F401


@pytest.fixture(scope="module")
def kite(kite_replay):  # noqa: F811
    return connect(kite_replay.api_key, access_token=kite_replay.login(), root=kite_replay.rest_root)


def test_the_answer_is_the_total_of_kites_order_margins(kite, kite_replay):  # noqa: F811
    """MIS and CNC buys: the adapter's rupees are the replay's total, which is the desk's own
    rule over the bundled table (so the request reached Kite's endpoint with the right fields)."""
    exact = KiteOrderMargins(lambda: kite)
    rules = MarginRules(margin_table())
    mis = intent(INFY, "INFY", Side.BUY, 100, Product.MIS, OrderType.LIMIT, price=D("1000.00"))
    cnc = intent(INFY, "INFY", Side.BUY, 7, Product.CNC, OrderType.LIMIT, price=D("1000.10"))
    assert exact(mis, D("1000.00")) == rules.required(mis, D("1000.00")) == D("20000.00")
    assert exact(cnc, D("1000.10")) == D("7000.70")
    # a MARKET order is asked at the price the desk judges it at (its protection price)
    market = intent(INFY, "INFY", Side.SELL, 10, Product.MIS)
    assert exact(market, D("1005.00")) == D("2010.00")
    sent = [p for p, _ in requests_log(kite_replay, "/margins/orders")]
    assert len(sent) >= 3


def test_order_params_are_kites_fields():
    sl = intent(INFY, "INFY", Side.SELL, 5, Product.MIS, OrderType.SL, price=D("990.00"), trigger_price=D("991.00"))
    assert order_margin_params(sl, D("990.00")) == {
        "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "SELL", "variety": "regular",
        "product": "MIS", "order_type": "SL", "quantity": 5, "price": 990.0, "trigger_price": 991.0}


def test_any_kite_failure_answers_none_so_the_table_is_used(kite, kite_replay, caplog):  # noqa: F811
    """Kite down (503), Kite refusing (InputException), or nobody logged in: ``None``, logged; and
    ``MarginRules.required`` then gives the table's figure."""
    mis = intent(INFY, "INFY", Side.BUY, 100, Product.MIS, OrderType.LIMIT, price=D("1000.00"))
    exact = KiteOrderMargins(lambda: kite)
    inject_failures(kite_replay, "/margins/orders", 503, error_type="NetworkException")
    assert exact(mis, D("1000.00")) is None
    unknown = intent(INFY, "NOSUCHSTOCK", Side.BUY, 1, Product.MIS, OrderType.LIMIT, price=D("10.00"))
    assert exact(unknown, D("10.00")) is None

    def logged_out():
        raise KiteLoginRequired("log in to Kite from the Settings page")

    assert KiteOrderMargins(logged_out)(mis, D("1000.00")) is None
    assert "the desk's margin table is used" in caplog.text
    rules = MarginRules(margin_table(), Decimal(2), exact)
    inject_failures(kite_replay, "/margins/orders", 503, error_type="NetworkException")
    assert rules.required(mis, D("1000.00")) == D("50000.00")  # the table at 2x leverage: 50 %
    assert rules.required(mis, D("1000.00")) == D("20000.00")  # Kite answers again: its 20 %


def test_the_gatekeeper_judges_a_new_order_with_kites_figure(tmp_path, redis_url, kite):  # noqa: F811
    """A desk whose own rule asks 50 % (leverage 2) and ₹30,000 capital: a ₹1,00,000 MIS buy is
    refused on its table, and allowed when Kite's 20 % is wired as ``exact_margin``."""
    order = intent(INFY, "INFY", Side.BUY, 100, Product.MIS, OrderType.LIMIT, price=D("1000.00"))
    outcomes = {}
    for name, exact in (("table", None), ("kite", KiteOrderMargins(lambda: kite))):
        cfg = TradingConfig(capital=D("30000.00"), mis_leverage=D(2), slippage_bps=D(0), exact_margin=exact)
        desk = make_desk(f"sqlite:///{tmp_path / f'{name}.db'}", redis_url, config=cfg)
        try:
            desk.tick(INFY, 1000.0)
            outcomes[name] = desk.svc.place_manual(order, user="trader", now=later(1))
        finally:
            desk.sql.dispose()
    assert not outcomes["table"].ok and ReasonCode.INSUFFICIENT_MARGIN in outcomes["table"].reasons
    assert outcomes["kite"].ok, outcomes["kite"].reasons


@pytest.mark.parametrize("api_key", [None, "kite-app-key"])
def test_the_container_wires_kites_margins_only_with_a_real_kite_account(tmp_path, monkeypatch, redis_url, api_key):
    """``settings.market == "kite"`` (a Kite API key): the desk's config carries
    ``KiteOrderMargins`` over the session's client; the replay market keeps the table alone."""
    from app.container import reset_services, services

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in ("DESK_NOTIFY_URLS", "SUPABASE_URL", "SUPABASE_KEY", "KITE_API_KEY", "KITE_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    if api_key:
        monkeypatch.setenv("KITE_API_KEY", api_key)
        monkeypatch.setenv("KITE_API_SECRET", "kite-app-secret")
    reset_services()
    try:
        svc = services()
        assert svc.settings.market == ("kite" if api_key else "replay")
        exact = svc.trading.config.exact_margin
        if api_key:
            assert isinstance(exact, KiteOrderMargins) and exact._kite is svc.kite
            assert svc.trading.config.margin_rules.exact is exact
        else:
            assert exact is None
    finally:
        if "sql" in vars(services()):
            services().sql.dispose()
        reset_services()
