"""Price bands (issue 13): the replay's circuit limits through the real kiteconnect client,
the desk's band from a quote's limits or NSE's dynamic range, and MIS square-offs that
cannot fill: recorded, notified and retried."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.adapters import tick_cache
from app.adapters.replay.bands import fixed_bands, fno_underlyings
from core import kite_wire
from core.events import EventKind
from core.models import DepthLevel, Tick
from core.orders import CircuitBand, Side
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.fixtures_trading import INFY, T0, desk, intent, later, make_desk  # noqa: F401

CUT = datetime(2016, 8, 17, 15, 20, tzinfo=IST)


def test_bundled_lists_are_labelled_and_split_fno_from_fixed_bands():
    """F&O underlyings from Kite's NFO dump 2025-12; the fixed bands are a derived, labelled list."""
    assert {"RELIANCE", "INFY", "SBIN"} <= fno_underlyings() and "NIFTY" not in fno_underlyings()
    rows = {b.symbol: b for b in fixed_bands()}
    assert not set(rows) & fno_underlyings()
    assert rows["ACC"].band_pct == 10 and rows["IDBI"].band_pct == 20
    assert all(b.source.startswith("derived:") for b in rows.values())


def test_replay_quote_serves_the_dynamic_range_for_an_fno_stock(replay_server):
    """NSE operating range for F&O stocks: previous close ± 10 % while no trade reached 9.90 %
    (tradingqna t/18973). RELIANCE 2016-08-17, previous close 1023.65."""
    q = replay_server.kite().quote(["NSE:RELIANCE", "NSE:NIFTY 50"])
    r = q["NSE:RELIANCE"]
    assert (r["lower_circuit_limit"], r["upper_circuit_limit"]) == (921.3, 1126.0)
    assert (q["NSE:NIFTY 50"]["lower_circuit_limit"], q["NSE:NIFTY 50"]["upper_circuit_limit"]) == (0, 0)


def test_replay_quote_serves_the_fixed_band_for_a_non_fno_stock(replay_factory):
    """NSE fixed price band (2/5/10/20 %) of a non-F&O stock: ACC 10 %, IDBI 20 % (derived list,
    app/data/nse/make_price_bands.py), on 2016-09-09."""
    server = replay_factory("2016-09-09", 60)
    q = server.kite().quote(["NSE:ACC", "NSE:IDBI"])
    for key, pct in (("NSE:ACC", 10), ("NSE:IDBI", 20)):
        close = D(str(q[key]["ohlc"]["close"]))
        lower, upper = D(str(q[key]["lower_circuit_limit"])), D(str(q[key]["upper_circuit_limit"]))
        assert lower == (close * (1 - D(pct) / 100) / D("0.05")).to_integral_value(rounding="ROUND_CEILING") * D("0.05")
        assert upper == (close * (1 + D(pct) / 100) / D("0.05")).to_integral_value(rounding="ROUND_FLOOR") * D("0.05")
        assert lower <= D(str(q[key]["last_price"])) <= upper


def _rally_tick(desk, token: int, ltp: float, *, at: datetime, close: float = 1000.0, high: float | None = None):
    """A full tick after a rally: previous close ``close``, day high ``high`` (default LTP)."""
    tick = Tick(instrument_token=token, last_price=ltp, mode="full", last_traded_quantity=1, volume_traded=5000,
                open=close, high=high or ltp, low=close, close=close, last_trade_time=at, exchange_timestamp=at,
                bids=tuple(DepthLevel(round(ltp - 0.1 * i, 2), 10_000, 3) for i in range(5)))
    desk.ticks.write_frame(decode_frame(kite_wire.encode_frame([kite_wire.encode_packet(tick, "full")])), at)


def test_fno_fifteen_percent_rally_exit_and_square_off_are_not_refused_by_a_synthetic_band(desk):
    """F&O stock up 15 % in the afternoon: NSE's dynamic range has flexed to 20 % (9.90 % and
    14.90 % reached; NSE operating range, tradingqna t/18973), so the strategy's exit and the
    15:20 square-off both fill. (The old synthetic ±10 % band refused both.)"""
    desk.tick(INFY, 1000.0, close=1000.0)
    assert desk.svc.place_manual(intent(qty=20), user="trader", now=later(1)).ok
    _rally_tick(desk, INFY, 1150.0, at=T0 + timedelta(hours=4))
    band = desk.svc._engine.circuit(desk.svc._engine.instrument(INFY), desk.ticks.latest([INFY])[INFY].tick)
    assert band == CircuitBand(D("900.00"), D("1200.00"))
    exit_ = desk.svc.place_manual(intent(side=Side.SELL, qty=5), user="trader", now=T0 + timedelta(hours=4, seconds=1))
    assert exit_.ok, exit_.messages
    _rally_tick(desk, INFY, 1150.0, at=CUT)
    assert desk.svc.square_off_mis(CUT) == 1
    assert {p.product: p.quantity for p in desk.svc.positions(CUT)} == {"MIS": 0}
    assert desk.svc.square_off_refusals(CUT.date()) == []


def test_quote_limits_win_over_the_dynamic_range(desk):
    """Kite /quote lower_circuit_limit/upper_circuit_limit are the band when present."""
    desk.tick(INFY, 1000.0, close=1000.0)
    eng = desk.svc._engine
    eng.circuit_limits = lambda token: (950.0, 1050.0) if token == INFY else None
    tick = desk.ticks.latest([INFY])[INFY].tick
    assert eng.circuit(eng.instrument(INFY), tick) == CircuitBand(D("950.0"), D("1050.0"))
    eng.circuit_limits = lambda token: None
    assert eng.circuit(eng.instrument(INFY), tick) == CircuitBand(D("900.00"), D("1100.00"))


class _Recorder:
    def __init__(self) -> None:
        self.events = []

    def notify(self, event) -> int:
        self.events.append(event)
        return 1


def test_square_off_without_a_price_is_recorded_notified_and_retried(desk):
    """A square-off that cannot fill (no tick: NO_MARKET_PRICE) is recorded with its reason,
    notified, and the next run retries; once a price is back it fills and the record stays."""
    desk.tick(INFY, 1000.0, close=1000.0)
    assert desk.svc.place_manual(intent(qty=10), user="trader", now=later(1)).ok
    rec = _Recorder()
    desk.svc._engine.notifier = rec
    desk.ticks.client.hdel(tick_cache.LATEST_KEY, INFY)  # the ticker lost the instrument
    before = desk.ledger_snapshot()
    desk.svc.square_off_mis(CUT)
    [refusal] = desk.svc.square_off_refusals(CUT.date())
    assert refusal.tradingsymbol == "INFY" and refusal.quantity == 10 and refusal.attempt == 0
    assert refusal.reasons == ("NO_MARKET_PRICE",) and "no tick" in refusal.messages[0]
    assert [e.kind for e in rec.events] == [EventKind.SQUARE_OFF_REFUSED]
    assert "INFY" in rec.events[0].title
    assert {p.product: p.quantity for p in desk.svc.positions(CUT)} == {"MIS": 10}
    assert desk.ledger_snapshot()[1] == before[1]  # position untouched
    desk.svc.square_off_mis(CUT + timedelta(seconds=30))  # still no price: recorded again
    assert len(desk.svc.square_off_refusals(CUT.date())) == 2
    desk.tick(INFY, 1001.0, at=CUT + timedelta(seconds=60), close=1000.0)
    desk.svc.square_off_mis(CUT + timedelta(seconds=60))
    desk.svc.match_open_orders(CUT + timedelta(seconds=61))
    assert {p.product: p.quantity for p in desk.svc.positions(CUT)} == {"MIS": 0}
    assert len(desk.svc.square_off_refusals(CUT.date())) == 2


def test_quote_circuit_limits_come_from_the_replay_through_kiteconnect_and_are_cached(replay_server, redis_url):
    """The desk's band from Kite /quote lower_circuit_limit/upper_circuit_limit (real kiteconnect
    client against the replay); one /quote call per instrument per ttl; indices have none."""
    import redis

    from app.adapters.rate_limit import KITE_QUOTE, RedisRateLimiter
    from app.market.circuit_limits import QuoteCircuitLimits

    kite = replay_server.kite()
    keys = {738561: "NSE:RELIANCE", 256265: "NSE:NIFTY 50"}
    t = [0.0]
    limits = QuoteCircuitLimits(lambda: kite, keys.__getitem__, RedisRateLimiter(redis.Redis.from_url(redis_url),
                                KITE_QUOTE), ttl=60.0, acquire_timeout=5.0, clock=lambda: t[0])
    assert limits(738561) == (921.3, 1126.0)
    assert limits(738561) == (921.3, 1126.0) and limits.calls == 1
    t[0] = 61.0
    assert limits(738561) == (921.3, 1126.0) and limits.calls == 2
    assert limits(256265) is None
    assert limits(1) is None  # unknown instrument: logged, the desk falls back to the dynamic range


def test_an_order_beyond_the_quote_band_is_refused_naming_the_band_and_books_unchanged(desk):
    """NSE rejects orders outside the price band: a LIMIT above the quote's upper circuit limit
    is refused with OUTSIDE_CIRCUIT and the allowed range; funds, margin and ledger unchanged."""
    from core.orders import OrderType

    desk.tick(INFY, 1000.0, close=1000.0)
    desk.svc._engine.circuit_limits = lambda token: (950.0, 1050.0)
    desk.svc._engine.ensure_capital(T0)
    before = desk.ledger_snapshot()
    out = desk.svc.place_manual(intent(order_type=OrderType.LIMIT, price=D("1060.00")), user="trader", now=later(1))
    assert not out.ok and "OUTSIDE_CIRCUIT" in out.reasons
    assert any("950.0" in m and "1050.0" in m for m in out.messages)
    assert desk.ledger_snapshot() == before and desk.svc.order_book() == []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(qty=st.integers(1, 150), short=st.booleans(), move=st.integers(-25, 25), has_tick=st.booleans(),
       quote_band=st.one_of(st.none(), st.tuples(st.integers(80, 100), st.integers(100, 120))))
def test_no_mis_position_after_the_last_square_off_unless_a_refusal_is_recorded(
        tmp_path_factory, redis_url, qty, short, move, has_tick, quote_band):
    """Property (issue 13): after the day's last square-off run, every MIS position is flat or
    has a recorded refusal (its reason), whatever the price, the band or a missing tick."""
    d = make_desk(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'desk.db'}", redis_url)
    try:
        d.tick(INFY, 1000.0, close=1000.0)
        side = Side.SELL if short else Side.BUY
        assert d.svc.place_manual(intent(side=side, qty=qty), user="trader", now=later(1)).ok
        if quote_band is not None:
            lo, hi = quote_band
            d.svc._engine.circuit_limits = lambda token: (lo * 10.0, hi * 10.0)
        if has_tick:
            _rally_tick(d, INFY, 1000.0 * (100 + move) / 100, at=CUT, high=1000.0 * max(100, 100 + move) / 100)
        else:
            d.ticks.client.hdel(tick_cache.LATEST_KEY, INFY)
        for k in range(3):  # the clock's runs at 15:20:00, :30 and 15:21:00
            d.svc.square_off_mis(CUT + timedelta(seconds=30 * k))
            d.svc.match_open_orders(CUT + timedelta(seconds=30 * k + 1))
        mis = {p.product: p.quantity for p in d.svc.positions(CUT + timedelta(minutes=2))}.get("MIS", 0)
        assert mis == 0 or d.svc.square_off_refusals(CUT.date()), (mis, move, has_tick, quote_band)
    finally:
        d.sql.dispose()


def test_replay_band_rules_flex_an_fno_stock_and_keep_a_fixed_band_fixed():
    """replay.bands: an F&O stock's range flexes with the day's high (15 % rally → 20 % upper,
    trend side only before 2024-11-18; sliding from then, NSE/FAOP/64995); a non-F&O stock's
    fixed band (ACC 10 %, derived list) does not move with the price."""
    from datetime import date

    from app.adapters.replay.bands import limits_paise

    assert limits_paise("INFY", date(2016, 9, 8), 100_000, 100_000, 100_000, 5) == (90_000, 110_000)
    assert limits_paise("INFY", date(2016, 9, 8), 100_000, 115_000, 100_000, 5) == (90_000, 120_000)
    assert limits_paise("INFY", date(2025, 1, 2), 100_000, 115_000, 100_000, 5) == (100_000, 120_000)
    assert limits_paise("ACC", date(2016, 9, 8), 100_000, 109_000, 100_000, 5) == (90_000, 110_000)
    assert limits_paise("NOTLISTED", date(2016, 9, 8), 100_000, 100_000, 100_000, 5) == (80_000, 120_000)
