"""core.analysis: snapshot (no look-ahead), validation, offline analyst, outcomes, costs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from pydantic import ValidationError as PydanticValidationError

from app.adapters.nse_data import load_daily, minute_bars_for
from core.analysis import (
    OFFLINE_LABEL,
    AnalysisAnswer,
    PositionFact,
    TokenPrices,
    build_prompt,
    build_snapshot,
    call_cost_inr,
    check_answer,
    confidence_band,
    hit_rate_table,
    offline_answer,
    score_outcome,
)
from core.errors import ValidationError
from core.models import Tick
from core.risk.limits import RiskLimits
from core.timeutil import IST
from tests.factories import INFY, NIFTY, equity, ohlcv_frame

D = Decimal
AT = datetime(2016, 8, 17, 11, 0, tzinfo=IST)


def _minutes(symbol: str = "INFY") -> pd.DataFrame:
    return minute_bars_for(symbol)


def _daily(symbol: str = "INFY") -> pd.DataFrame:
    d = load_daily()
    return d[d["symbol"] == symbol].set_index("date")[["open", "high", "low", "close", "volume"]]


def _snap(at: datetime = AT, **kw):
    return build_snapshot(INFY, at, _minutes(), daily=_daily(), limits=RiskLimits(), **kw)


def _answer(**kw) -> AnalysisAnswer:
    base = dict(verdict="buy", confidence=0.6, time_horizon="intraday", reasons=["r"], risks=[])
    return AnalysisAnswer(**{**base, **kw})


# ---- snapshot ----------------------------------------------------------------------------


def test_snapshot_uses_only_bars_closed_by_at_no_lookahead():
    full = _snap()
    truncated = build_snapshot(INFY, AT, _minutes()[_minutes().index < AT], daily=_daily(), limits=RiskLimits())
    assert full.digest == truncated.digest
    day = _minutes()[(_minutes().index.date == AT.date()) & (_minutes().index < AT)]
    assert full.ltp == round(float(day["close"].iloc[-1]), 2)
    assert full.day_high == round(float(day["high"].max()), 2)
    assert full.bars_5m[-1].ts < AT and full.bars_15m[-1].ts < AT


def test_snapshot_prev_close_and_circuit_from_daily_history():
    at = datetime(2016, 8, 24, 11, 0, tzinfo=IST)  # the bundled EOD series start on 22 Aug 2016
    s = _snap(at)
    d = _daily()
    prev = float(d[d.index < at.date()]["close"].iloc[-1])
    assert s.prev_close == round(prev, 2)
    assert s.circuit_lower == pytest.approx(prev * 0.9, abs=0.05) and s.circuit_upper == pytest.approx(prev * 1.1, abs=0.05)
    assert s.indicators["rsi_14_5m"] is not None and s.indicators["vwap"] is not None
    assert s.indicators["high_20_d"] is not None and s.indicators["sma_20_d"] is None  # 2 sessions only


def test_snapshot_without_daily_history_takes_prev_close_from_the_previous_session_minutes():
    s = _snap()  # 17 Aug: no EOD row yet, the 16 Aug session's last minute is the previous close
    m = _minutes()
    assert s.prev_close == round(float(m[m.index.date < AT.date()]["close"].iloc[-1]), 2)


def test_snapshot_uses_tick_only_when_not_after_at():
    tick = Tick(INFY.instrument_token, 1111.0, mode="full", open=1000.0, high=1120.0, low=990.0, close=1005.0,
                volume_traded=5, exchange_timestamp=AT - timedelta(seconds=5))
    s = _snap(tick=tick)
    assert s.ltp == 1111.0 and s.prev_close == 1005.0 and s.day_high >= 1120.0 and "tick" in s.ltp_source
    future = Tick(INFY.instrument_token, 1111.0, exchange_timestamp=AT + timedelta(seconds=5))
    assert _snap(tick=future).ltp != 1111.0


def test_snapshot_with_no_data_today_raises_a_clear_error():
    with pytest.raises(ValidationError, match="no market data for NSE:INFY"):
        _snap(datetime(2016, 8, 17, 9, 10, tzinfo=IST))


def test_snapshot_of_an_index_is_refused():
    with pytest.raises(ValidationError, match="index"):
        build_snapshot(NIFTY, AT, _minutes())


def test_snapshot_digest_changes_with_headlines_and_prompt_marks_them_unverified():
    plain, news = _snap(), _snap(headlines=["Infosys wins a large deal", "  "])
    assert plain.digest != news.digest and news.headlines == ("Infosys wins a large deal",)
    text = build_prompt(news)
    assert "UNVERIFIED HEADLINES" in text and "Infosys wins a large deal" in text
    assert f"LTP {news.ltp:.2f}" in text and "UNVERIFIED HEADLINES (" not in build_prompt(plain)


# ---- validation --------------------------------------------------------------------------


def test_check_valid_buy_passes_and_rounds_to_tick_with_a_note():
    s = _snap()
    c = check_answer(_answer(entry=s.ltp + 0.02, stop=s.ltp - 10, target=s.ltp + 20), s)
    assert c.ok, c.problems
    assert c.answer.entry == pytest.approx(s.ltp) and any("rounded" in n for n in c.notes)


def test_check_hallucinated_entry_is_rejected():
    s = _snap()
    c = check_answer(_answer(entry=s.ltp * 1.5, stop=s.ltp * 1.4, target=s.ltp * 1.6), s)
    assert not c.ok
    assert any("far from today's range" in p for p in c.problems)
    assert any("outside today's price band" in p for p in c.problems)


@pytest.mark.parametrize("verdict, stop_off, target_off", [("buy", +10, +20), ("sell", -10, -20), ("buy", -10, -5)])
def test_check_stop_or_target_on_the_wrong_side_is_rejected(verdict, stop_off, target_off):
    s = _snap()
    c = check_answer(_answer(verdict=verdict, entry=s.ltp, stop=s.ltp + stop_off, target=s.ltp + target_off), s)
    assert not c.ok and any("needs" in p for p in c.problems)


def test_check_buy_without_levels_is_rejected_but_avoid_without_levels_passes():
    s = _snap()
    assert not check_answer(_answer(), s).ok
    assert check_answer(_answer(verdict="avoid"), s).ok


def test_answer_schema_rejects_confidence_above_one_and_unknown_verdict():
    with pytest.raises(PydanticValidationError):
        _answer(confidence=1.5)
    with pytest.raises(PydanticValidationError):
        _answer(verdict="strong buy")


# ---- offline analyst ---------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["INFY", "SBIN", "RELIANCE", "TCS", "ITC"])
@pytest.mark.parametrize("hhmm", [(9, 40), (11, 0), (14, 30)])
def test_offline_analyst_on_bundled_data_is_valid_and_deterministic(symbol, hhmm):
    inst = equity(1, symbol)
    at = datetime(2016, 8, 24, *hhmm, tzinfo=IST)
    s = build_snapshot(inst, at, _minutes(symbol), daily=_daily(symbol), limits=RiskLimits())
    a = offline_answer(s)
    assert check_answer(a, s).ok, (a, check_answer(a, s).problems)
    assert a == offline_answer(s)


def test_offline_analyst_without_history_avoids_and_holds_with_a_position():
    at = datetime(2016, 8, 16, 9, 20, tzinfo=IST)  # first recorded session, 5 minutes in
    s = build_snapshot(INFY, at, _minutes())
    assert offline_answer(s).verdict == "avoid"
    held = build_snapshot(INFY, at, _minutes(), positions=[PositionFact("MIS", 10, 1000.0)])
    assert offline_answer(held).verdict == "hold"
    assert OFFLINE_LABEL == "Offline analyst (rules)"


# ---- outcomes ----------------------------------------------------------------------------


def _bars(rows: list[tuple[float, float, float]], start: datetime = AT) -> pd.DataFrame:
    return ohlcv_frame(rows, start, columns=("high", "low", "close"))


def test_outcome_target_first_is_a_hit_and_stop_first_a_miss():
    kw = dict(at=AT, time_horizon="intraday", now=AT + timedelta(hours=1), stop=95.0, target=110.0)
    assert score_outcome("buy", 100.0, later=_bars([(101, 99, 100), (111, 100, 110)]), **kw).status == "hit"
    assert score_outcome("buy", 100.0, later=_bars([(101, 94, 95), (111, 100, 110)]), **kw).status == "miss"
    both = score_outcome("buy", 100.0, later=_bars([(111, 94, 100)]), **kw)
    assert both.status == "miss" and "counted as the stop" in both.detail
    sell = score_outcome("sell", 100.0, later=_bars([(101, 89, 90)]), **{**kw, "stop": 105.0, "target": 90.0})
    assert sell.status == "hit" and sell.return_pct == 10.0


def test_outcome_is_pending_before_the_horizon_and_ignores_future_bars():
    later = _bars([(101, 99, 100), (200, 50, 100)])
    o = score_outcome("buy", 100.0, at=AT, time_horizon="intraday", later=later, now=AT + timedelta(minutes=1),
                      stop=95.0, target=110.0)
    assert o.status == "pending"


def test_outcome_avoid_is_a_hit_when_the_price_stayed_flat():
    end = datetime(2016, 8, 17, 15, 31, tzinfo=IST)
    flat = score_outcome("avoid", 100.0, at=AT, time_horizon="intraday", later=_bars([(100.3, 99.8, 100.2)]), now=end)
    moved = score_outcome("avoid", 100.0, at=AT, time_horizon="intraday", later=_bars([(103, 99.8, 102.5)]), now=end)
    assert flat.status == "hit" and moved.status == "miss"


def test_hit_rate_table_per_verdict_and_band():
    t = hit_rate_table([("buy", 0.8, "hit"), ("buy", 0.75, "miss"), ("buy", 0.75, "hit"), ("buy", 0.3, "pending"),
                        ("avoid", 0.4, "hit")])
    row = t[(t.verdict == "buy") & (t.band == "0.70-1.00")].iloc[0]
    assert (row.scored, row.hits, row.misses) == (3, 2, 1) and row.hit_rate == pytest.approx(2 / 3)
    assert confidence_band(1.0) == "0.70-1.00" and confidence_band(0.0) == "0.00-0.49"


def test_call_cost_in_rupees_from_token_prices():
    # 1M prompt tokens at $0.30 + 1M output at $2.50 = $2.80 = ₹246.40 at ₹88/$
    assert call_cost_inr(1_000_000, 1_000_000, TokenPrices()) == D("246.4000")
    assert call_cost_inr(1200, 300, TokenPrices()) == D("0.0977")
