"""AnalysisService with the real google-genai client against the loopback Gemini fake.

Real parts: a SQLite store file with the bundled instruments, the session's real Redis (rate
limit, historical limiter), and the market: a replay server of 2016-08-25 whose historical
endpoint serves the 2016-08-24 session, read only through ``MarketDataService`` (backfilled
into the store) with the market clock pinned after that session's close.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import redis as redis_lib

from app.adapters import nse_data
from app.market.history import MarketDataService
from app.adapters.analysis_store import AnalysisStore
from app.adapters.gemini import GeminiClient, GeminiRateLimited, GeminiUnavailable
from app.adapters.rate_limit import RateLimit, RateLimitTimeout, RedisRateLimiter
from app.adapters.store import SqlStore
from app.market.instruments import InstrumentService
from app.research.analysis import (
    NO_RATE_LIMIT,
    AnalysisRefused,
    AnalysisService,
    GeminiAnalyst,
    MinuteBars,
    SnapshotBuilder,
)
from app.settings import AnalysisSettings
from core.analysis import OFFLINE_LABEL, call_cost_inr
from core.errors import ValidationError
from core.timeutil import IST, UTC
from tests.fake_gemini import FakeGemini, answer, error, raw_text, slow
from tests.app.replay_market import Pinned, market_on
from tests.fixtures_store import seed_instruments

AT = datetime(2016, 8, 24, 11, 0, tzinfo=IST)
#: The pinned market time: after the 2016-08-24 close (outcomes are scored up to 15:32).
MARKET_NOW = datetime(2016, 8, 24, 15, 45, tzinfo=IST)
SYMBOLS = {"INFY", "SBIN", "TCS", "RELIANCE", "ITC", "NIFTY 50", "NIFTY IT"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    f = FakeGemini().start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def sql(tmp_path_factory) -> Iterator[SqlStore]:
    s = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('an') / 'store.db'}")
    seed_instruments(s, SYMBOLS)
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def later(looping_replay):
    return looping_replay((AT.date() + timedelta(days=1)).isoformat())


@pytest.fixture()
def market(sql, later, redis_url) -> MarketDataService:
    return market_on(sql, later, redis_url, Pinned(MARKET_NOW))


def _wipe(sql: SqlStore) -> None:
    AnalysisStore(sql.engine)
    with sql.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM analyses")
        conn.exec_driver_sql("DELETE FROM analysis_calls")


def make_service(sql, fake, market, redis_url=None, *, key: str | None = "test-key", **config) -> AnalysisService:
    """Wired as ``app.container`` wires it, from real parts: SQLite store, the market-data
    service on the replay server, the fake Gemini server and (with ``redis_url``) the Redis
    rate limiter."""
    cfg = AnalysisSettings(**{"base_url": fake.url, "timeout_s": 5.0, "rate_per_minute": 1000,
                            "daily_budget_inr": Decimal("50"), **config})
    store, wall = AnalysisStore(sql.engine), (lambda: datetime(2026, 11, 21, 10, 0, tzinfo=UTC))
    instruments = InstrumentService(sql)
    snapshots = SnapshotBuilder(instruments, MinuteBars(market), industries=nse_data.nifty500_industries)
    gemini = None
    if key:
        limiter = NO_RATE_LIMIT
        if redis_url:
            limiter = RedisRateLimiter(redis_lib.Redis.from_url(redis_url),
                                       RateLimit("gemini:generate", cfg.rate_per_minute, 60.0))
        client = GeminiClient(key, base_url=cfg.base_url, api_version=cfg.api_version, timeout_s=cfg.timeout_s)
        gemini = GeminiAnalyst(store, client, cfg, limiter=limiter, wall_clock=wall)
    return AnalysisService(store, snapshots, cfg, gemini=gemini, wall_clock=wall)


@pytest.fixture()
def svc(sql, fake, redis_url, market) -> AnalysisService:
    _wipe(sql)
    fake.clear()
    return make_service(sql, fake, market, redis_url)


def good(snap, **over) -> dict:
    ltp, tick = snap.ltp, float(snap.tick_size)
    base = {"verdict": "buy", "confidence": 0.72, "entry": ltp, "stop": round(ltp - 20 * tick, 2),
            "target": round(ltp + 40 * tick, 2), "time_horizon": "intraday",
            "reasons": [f"LTP {ltp} above VWAP"], "risks": ["index weakness"]}
    return {**base, **over}


# ---- valid answer ------------------------------------------------------------------------


def test_valid_answer_is_stored_with_tokens_cost_and_label(svc, fake):
    snap = svc.snapshot("INFY", AT)
    fake.push(answer(good(snap), prompt_tokens=2000, output_tokens=500))
    a = svc.analyse("INFY", AT)
    assert a.verdict == "buy" and a.label == "Gemini (gemini-2.5-flash)" and not a.cached
    assert a.entry == Decimal(str(snap.ltp)).quantize(Decimal("0.01"))
    assert (a.prompt_tokens, a.output_tokens) == (2000, 500)
    assert a.cost_inr == Decimal("0.1628")  # (2000 × 0.30 + 500 × 2.50) / 1e6 $ × ₹88
    path, headers, body = fake.requests[-1]
    assert path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert headers.get("x-goog-api-key") == "test-key"
    gen = body["generationConfig"]
    assert gen["responseMimeType"] == "application/json" and "verdict" in gen["responseSchema"]["properties"]
    assert f"LTP {snap.ltp:.2f}" in body["contents"][0]["parts"][0]["text"]
    assert [c["status"] for c in svc.store.calls()] == ["ok"]


def test_headlines_reach_the_prompt_marked_unverified(svc, fake):
    snap = svc.snapshot("INFY", AT)
    fake.push(answer(good(snap)))
    svc.analyse("INFY", AT, headlines="Infosys bags $1bn deal\n\n")
    text = fake.requests[-1][2]["contents"][0]["parts"][0]["text"]
    assert "UNVERIFIED HEADLINES" in text and "⟦UNTRUSTED⟧\n  - Infosys bags $1bn deal\n⟦/UNTRUSTED⟧" in text


def _change_pct(frame, at) -> float:
    today, before = frame[frame.index.date == at.date()], frame[frame.index.date < at.date()]
    prev = before["close"].iloc[-1]
    return round(float((today["close"].iloc[-1] - prev) * 100 / prev), 2)


def test_snapshot_context_is_read_through_the_market_as_of_the_analysis_time(svc, market):
    snap = svc.snapshot("INFY", AT)
    it = market.ohlcv("NSE:NIFTY IT", "minute", start=AT - timedelta(days=7), as_of=AT, fill=False)
    nifty = market.ohlcv("NSE:NIFTY 50", "minute", start=AT - timedelta(days=7), as_of=AT, fill=False)
    assert it.index[-1] == nifty.index[-1] == pd.Timestamp(AT - timedelta(minutes=1))  # backfilled, bounded
    assert snap.market == {"nifty50_change_pct": _change_pct(nifty, AT), "nifty_it_change_pct": _change_pct(it, AT)}
    # the whole day is backfilled into the store (the clock is at 15:45): the bars after ``at`` are unused
    minutes = market.ohlcv("NSE:INFY", "minute", start=AT.date())
    assert minutes.index[-1] == pd.Timestamp(MARKET_NOW.replace(hour=15, minute=29))
    later = minutes[minutes.index >= pd.Timestamp(AT)]
    assert later["high"].max() > minutes[minutes.index < pd.Timestamp(AT)]["high"].max()  # the rest of the day rose
    again = svc.snapshot("INFY", AT)
    assert again.digest == snap.digest and again.day_high == snap.day_high
    upto = minutes[minutes.index < pd.Timestamp(AT)]
    assert snap.ltp == round(float(upto["close"].iloc[-1]), 2) and snap.day_high == round(float(upto["high"].max()), 2)
    daily = market.ohlcv("NSE:INFY", "day", as_of=AT, bars=5, fill=False)
    assert snap.prev_close == round(float(daily["close"].iloc[-1]), 2) and daily.index[-1].date() < AT.date()


# ---- answers in the wrong shape: refused, nothing stored ---------------------------------


@pytest.mark.parametrize("reply, needle", [
    (raw_text('{"verdict": "buy", "confidence": 0.7,'), "not valid JSON"),
    (answer({"verdict": "strong buy", "confidence": 1.7, "time_horizon": "intraday", "reasons": ["x"]}),
     "wrong shape"),
    (answer({"mood": "bullish"}), "wrong shape"),
], ids=["malformed-json", "schema-violation", "wrong-object"])
def test_wrong_shape_answers_are_refused_and_not_stored(svc, fake, reply, needle):
    fake.push(reply)
    with pytest.raises(AnalysisRefused, match=needle) as info:
        svc.analyse("INFY", AT)
    assert info.value.code == "INVALID_ANSWER"
    assert svc.history() == []
    [call] = svc.store.calls()
    assert call["status"] == "invalid" and call["prompt_tokens"] == 1200
    # a refused answer is still paid for: its cost is the token price, exactly
    assert Decimal(str(call["cost_inr"])) == call_cost_inr(1200, 300, svc.config.prices)


def test_hallucinated_levels_are_refused_with_reasons_and_not_stored(svc, fake):
    snap = svc.snapshot("INFY", AT)
    fake.push(answer(good(snap, entry=snap.ltp * 2, stop=snap.ltp * 1.9, target=snap.ltp * 2.2)))
    with pytest.raises(AnalysisRefused) as info:
        svc.analyse("INFY", AT)
    assert "far from today's range" in str(info.value) and "price band" in str(info.value)
    assert svc.history() == []


def test_stop_on_the_wrong_side_is_refused(svc, fake):
    snap = svc.snapshot("INFY", AT)
    fake.push(answer(good(snap, stop=round(snap.ltp + 2, 1))))
    with pytest.raises(AnalysisRefused, match="stop < entry < target"):
        svc.analyse("INFY", AT)
    assert svc.history() == []


# ---- transport errors --------------------------------------------------------------------


def test_429_then_success(svc, fake):
    snap = svc.snapshot("INFY", AT)
    fake.push(error(429), answer(good(snap)))
    with pytest.raises(GeminiRateLimited):
        svc.analyse("INFY", AT)
    assert svc.history() == []
    a = svc.analyse("INFY", AT)
    assert a.verdict == "buy" and fake.calls == 2
    assert [c["status"] for c in svc.store.calls()] == ["ok", "error"]


def test_500_is_transient_and_nothing_is_stored(svc, fake):
    fake.push(error(500))
    with pytest.raises(GeminiUnavailable, match="server error 500"):
        svc.analyse("INFY", AT)
    assert svc.history() == []


def test_slow_answer_times_out(sql, fake, redis_url, market):
    _wipe(sql)
    fake.clear()
    s = make_service(sql, fake, market, redis_url, timeout_s=1.0)
    fake.push(slow(2.5, answer({"verdict": "avoid"})))
    with pytest.raises(GeminiUnavailable, match="did not answer within 1s"):
        s.analyse("INFY", AT)
    assert s.history() == []


def test_unknown_model_is_refused_clearly(svc, fake):
    with pytest.raises(AnalysisRefused, match="rejected the model 'gemini-0.1-imaginary'") as info:
        svc.analyse("INFY", AT, model="gemini-0.1-imaginary")
    assert info.value.code == "MODEL_REJECTED" and svc.history() == []


def test_model_name_that_is_not_a_name_is_bad_input(svc, fake):
    with pytest.raises(ValidationError, match="model name"):
        svc.analyse("INFY", AT, model="../../etc passwd")
    assert fake.calls == 0


def test_invalid_key_is_refused_and_offline_is_offered(sql, fake, redis_url, market):
    _wipe(sql)
    fake.clear()
    s = make_service(sql, fake, market, redis_url, key="wrong-key")
    with pytest.raises(AnalysisRefused, match="API key") as info:
        s.analyse("INFY", AT)
    assert info.value.code == "BAD_KEY" and info.value.offline_available
    assert "wrong-key" not in str(info.value)
    assert s.history() == []
    assert s.analyse("INFY", AT, analyst="offline").label == OFFLINE_LABEL


def test_missing_key_uses_the_offline_analyst_and_refuses_gemini(sql, fake, market):
    _wipe(sql)
    fake.clear()
    s = make_service(sql, fake, market, key=None)
    assert s.default_analyst() == "offline"
    a = s.analyse("INFY", AT)
    assert a.label == OFFLINE_LABEL and a.analyst == "offline" and a.cost_inr == 0
    with pytest.raises(AnalysisRefused, match="No GEMINI_API_KEY") as info:
        s.analyse("INFY", AT, analyst="gemini")
    assert info.value.code == "NO_KEY" and fake.calls == 0


# ---- bad input ---------------------------------------------------------------------------


def test_unknown_symbol_is_bad_input(svc, fake):
    with pytest.raises(ValidationError, match="unknown instrument 'NSE:INFOSIS'"):
        svc.analyse("INFOSIS", AT)
    assert fake.calls == 0


def test_symbol_with_no_data_today_is_bad_input(svc, fake):
    with pytest.raises(ValidationError, match="no market data for NSE:INFY"):
        svc.analyse("INFY", datetime(2016, 8, 24, 9, 5, tzinfo=IST))
    with pytest.raises(ValidationError, match="no market data"):
        svc.analyse("INFY", datetime(2016, 8, 27, 11, 0, tzinfo=IST))  # a Saturday
    assert fake.calls == 0 and svc.history() == []


def test_index_and_too_many_headlines_are_bad_input(svc):
    with pytest.raises(ValidationError, match="index"):
        svc.analyse("NIFTY 50", AT)
    with pytest.raises(ValidationError, match="at most 10 headlines"):
        svc.analyse("INFY", AT, headlines=[f"h{i}" for i in range(11)])


# ---- cache, budget, rate limit -----------------------------------------------------------


def test_same_snapshot_is_a_cache_hit_without_a_call(svc, fake):
    snap = svc.snapshot("INFY", AT)
    fake.default = answer(good(snap))
    first = svc.analyse("INFY", AT)
    again = svc.analyse("INFY", AT)
    assert again.cached and again.id == first.id and fake.calls == 1
    svc.analyse("INFY", AT, headlines=["results next week"])  # another snapshot: a new call
    assert fake.calls == 2 and len(svc.history("INFY")) == 2


def test_daily_budget_stops_new_calls_with_a_clear_message(sql, fake, redis_url, market):
    _wipe(sql)
    fake.clear()
    s = make_service(sql, fake, market, redis_url, daily_budget_inr=Decimal("0.15"))
    for minute in (0, 1):  # ₹0.0977 each: the second starts under budget and takes it over
        at = AT + timedelta(minutes=minute)
        fake.push(answer(good(s.snapshot("INFY", at))))
        s.analyse("INFY", at)
    assert s.budget().exhausted and s.budget().spent == Decimal("0.1954")
    with pytest.raises(AnalysisRefused, match="Today's Gemini budget is spent") as info:
        s.analyse("INFY", AT + timedelta(minutes=2))
    assert info.value.code == "BUDGET" and fake.calls == 2
    cached = s.analyse("INFY", AT)  # cache hits cost nothing and still work
    assert cached.cached
    assert s.analyse("INFY", AT + timedelta(minutes=2), analyst="offline").label == OFFLINE_LABEL


def test_rate_limit_is_shared_through_redis(sql, fake, redis_url, market):
    _wipe(sql)
    fake.clear()
    one = make_service(sql, fake, market, redis_url, rate_per_minute=1, rate_wait_s=0.0)
    two = make_service(sql, fake, market, redis_url, rate_per_minute=1, rate_wait_s=0.0)  # another worker
    fake.default = answer(good(one.snapshot("INFY", AT)))
    one.analyse("INFY", AT)
    with pytest.raises(RateLimitTimeout, match="gemini:generate"):
        two.analyse("INFY", AT + timedelta(minutes=1))
    assert fake.calls == 1


# ---- offline analyst on bundled real data, outcomes --------------------------------------


#: The offline analyst's answers at 11:00 IST on 24 Aug 2016 (deterministic rules on the bundled
#: minute bars): verdict and (entry, stop, target) ₹; a sell's stop is above entry, its target below.
OFFLINE_AT_11 = [
    ("INFY", "avoid", (None, None, None)),
    ("SBIN", "sell", ("253.75", "254.40", "252.45")),
    ("TCS", "sell", ("2576.70", "2582.10", "2565.80")),
    ("RELIANCE", "avoid", (None, None, None)),
    ("ITC", "sell", ("249.70", "250.35", "248.35")),
]


@pytest.mark.parametrize(("symbol", "verdict", "levels"), OFFLINE_AT_11)
def test_offline_analyst_on_bundled_data_stores_labelled_valid_analyses(sql, fake, symbol, verdict, levels, market):
    _wipe(sql)
    s = make_service(sql, fake, market, key=None)
    a = s.analyse(symbol, AT)
    assert a.label == OFFLINE_LABEL and a.verdict == verdict
    assert (a.entry, a.stop, a.target) == tuple(None if x is None else Decimal(x) for x in levels)
    assert a.snapshot["tradingsymbol"] == symbol and a.snapshot["as_of"].startswith("2016-08-24T11:00")
    assert s.analyse(symbol, AT).cached


def test_outcomes_are_scored_against_later_bars_and_tabulated(sql, fake, market):
    _wipe(sql)
    s = make_service(sql, fake, market, key=None)
    for symbol in ("INFY", "SBIN", "TCS", "RELIANCE", "ITC"):
        for hh in (10, 12):
            s.analyse(symbol, AT.replace(hour=hh))
    # at 11:30 only two of the 10:00 calls have reached their stop or target; the rest are pending
    assert s.score_outcomes(AT.replace(hour=11, minute=30)) == 2
    assert s.score_outcomes(datetime(2016, 8, 24, 15, 31, tzinfo=IST)) == 8  # after the close: all the others
    assert s.score_outcomes(datetime(2016, 8, 24, 15, 32, tzinfo=IST)) == 0  # nothing is scored twice
    rows = s.history()
    assert len(rows) == 10 and sorted(r.outcome for r in rows) == ["hit"] * 4 + ["miss"] * 6
    table = s.hit_rates()
    assert table["scored"].sum() == len(rows)
    assert set(s.compare_frame("INFY")["outcome"]) <= {"hit", "miss"}
