"""The ticker's alerts hook on ``TickerService.feed`` with a real Redis tick cache: triggers sent
once per process, a failed send retried on the next frame, a new alert version reloaded, and a
broken hook counted and logged without stopping the ticks."""

from __future__ import annotations

from datetime import UTC, datetime

from app.adapters.tick_cache import TickCache
from app.market.alerts import TickerAlerts
from app.market.ticker_ingest import TickerService
from core import alerts as al
from core.kite_wire import encode_frame, encode_packet
from tests.core.test_alerts import INFY, TCS, alert, tick

NOW = datetime(2016, 8, 17, 4, 0, tzinfo=UTC)


def frame(*ticks) -> bytes:
    return encode_frame([encode_packet(t) for t in ticks])


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_triggers_are_sent_once_retried_after_a_failed_send_and_reloaded_on_a_new_version(rds):
    alerts = [alert("AL-a", value=1000.0), alert("AL-b", token=TCS, symbol="TCS", value=2000.0)]
    version = [1]
    sent, fail = [], [True]

    def send(payload):
        if fail[0]:
            fail[0] = False
            raise ConnectionError("Redis down")
        sent.append(payload)

    clock = Clock()
    hook = TickerAlerts(lambda: list(alerts), lambda: version[0], send, monotonic=clock)
    svc = TickerService(TickCache(rds), alerts=hook)
    assert svc.feed(frame(tick(ltp=1001.0)), NOW).ticks == 1
    assert sent == [] and hook.errors == 1  # the send failed: kept for the next frame
    svc.feed(frame(tick(ltp=1002.0)), NOW)
    assert [p["alert"]["alert_id"] for p in sent] == ["AL-a"] and sent[0]["lhs_value"] == 1001.0
    assert sent[0]["trace_id"] == al.trigger_trace_id("AL-a", 1)
    # the store has not disabled it yet; a reload must not send the same trigger again
    version[0] = 2
    clock.t = 5.0
    svc.feed(frame(tick(ltp=1003.0), tick(TCS, ltp=1999.0)), NOW)
    assert len(sent) == 1 and len(hook.evaluator) == 1
    # re-enabled in the store after the trigger (alert_count 1): trigger #2 is a new one
    alerts[0] = alert("AL-a", value=1000.0, alert_count=1)
    version[0] = 3
    clock.t = 10.0
    svc.feed(frame(tick(ltp=1004.0)), NOW)
    assert [(p["alert"]["alert_id"], p["sequence"]) for p in sent] == [("AL-a", 1), ("AL-a", 2)]
    assert svc.alert_errors == 0


def test_a_broken_hook_is_counted_and_the_ticks_still_land_in_the_cache(rds):
    def broken(batch, received_at):
        raise RuntimeError("bug")

    cache = TickCache(rds)
    svc = TickerService(cache, alerts=broken)
    assert svc.feed(frame(tick(ltp=1001.0)), NOW).ticks == 1
    assert svc.alert_errors == 1 and cache.latest([INFY])[INFY].tick.last_price == 1001.0


def test_the_alerts_instruments_are_subscribed_in_quote_mode_unless_another_source_wants_more():
    from app.market.subscriptions import DeskSubscriptions

    subs = DeskSubscriptions(lambda: [INFY], alert_tokens=lambda: {INFY, TCS})
    wanted = subs.wanted(NOW)
    assert wanted.modes == {INFY: "full", TCS: "quote"}
    assert wanted.sources == {"watchlist": 1, "positions": 0, "approvals": 0, "alerts": 2}
    assert DeskSubscriptions(lambda: [INFY], alert_tokens=set).wanted(NOW).sources == {
        "watchlist": 1, "positions": 0, "approvals": 0}
