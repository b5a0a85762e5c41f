"""The offline analyst: deterministic rules over the same snapshot, same schema.

Used when no ``GEMINI_API_KEY`` is configured or when the trader chooses it; everything it
produces is labelled :data:`OFFLINE_LABEL`. Rules (each adds or subtracts one point):

* LTP above / below session VWAP;
* 5-minute EMA 9 above / below EMA 21;
* 5-minute MACD histogram positive / negative;
* LTP above the 15-minute opening range high / below its low;
* 5-minute RSI >= 70 subtracts a point from a long score (overbought), <= 30 adds one to a
  short score (oversold) — do not chase.

Score >= +2: buy; <= -2: sell; otherwise hold (if a position is open) or avoid. Without
enough history (no 5-minute ATR) the answer is avoid. Entry is the LTP on the tick; the stop
is 1.5 five-minute ATRs away (at least one tick), the target twice the risk; both are kept
inside the price band. Confidence is 0.40 + 0.10 per point beyond one, capped at 0.80.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.analysis.schema import AnalysisAnswer
from core.analysis.snapshot import Snapshot
from core.analysis.validate import round_to_tick_nearest

OFFLINE_LABEL = "Offline analyst (rules)"
OFFLINE_MODEL = "offline-rules-v1"


def _tick_round(price: float, tick: Decimal, up: bool) -> float:
    steps = (Decimal(str(price)) / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return float(steps * tick)


def _score(s: Snapshot) -> tuple[int, list[str]]:
    x = s.indicators
    score, why = 0, []

    def vote(cond_up: bool | None, cond_down: bool | None, up: str, down: str) -> None:
        nonlocal score
        if cond_up:
            score += 1
            why.append(up)
        elif cond_down:
            score -= 1
            why.append(down)

    vwap, fast, slow, hist = x.get("vwap"), x.get("ema_9_5m"), x.get("ema_21_5m"), x.get("macd_hist_5m")
    if vwap is not None:
        vote(s.ltp > vwap, s.ltp < vwap, f"LTP ₹{s.ltp:,.2f} is above session VWAP ₹{vwap:,.2f}",
             f"LTP ₹{s.ltp:,.2f} is below session VWAP ₹{vwap:,.2f}")
    if fast is not None and slow is not None:
        vote(fast > slow, fast < slow, f"5-minute EMA 9 ({fast:,.2f}) is above EMA 21 ({slow:,.2f})",
             f"5-minute EMA 9 ({fast:,.2f}) is below EMA 21 ({slow:,.2f})")
    if hist is not None:
        vote(hist > 0, hist < 0, f"5-minute MACD histogram is positive ({hist:+.4g})",
             f"5-minute MACD histogram is negative ({hist:+.4g})")
    hi, lo = x.get("orb15_high"), x.get("orb15_low")
    if hi is not None and lo is not None:
        vote(s.ltp > hi, s.ltp < lo, f"LTP is above the 15-minute opening-range high ₹{hi:,.2f}",
             f"LTP is below the 15-minute opening-range low ₹{lo:,.2f}")
    rsi = x.get("rsi_14_5m")
    if rsi is not None and rsi >= 70 and score > 0:
        score -= 1
        why.append(f"5-minute RSI {rsi:.1f} is overbought: do not chase")
    elif rsi is not None and rsi <= 30 and score < 0:
        score += 1
        why.append(f"5-minute RSI {rsi:.1f} is oversold: do not chase")
    return score, why


def offline_answer(s: Snapshot) -> AnalysisAnswer:
    """The rules' answer for ``s`` (deterministic; passes :func:`check_answer` by construction)."""
    atr = s.indicators.get("atr_14_5m")
    holding = any(p.quantity for p in s.positions)
    if atr is None or atr <= 0:
        return AnalysisAnswer(
            verdict="hold" if holding else "avoid", confidence=0.3, time_horizon="intraday",
            reasons=["not enough 5-minute history for ATR(14): no levels can be set from the desk's data"],
            risks=["early in the session the opening range and trend are not established"])
    score, why = _score(s)
    risks = [f"5-minute ATR is ₹{atr:,.2f} ({atr * 100 / s.ltp:.2f}% of LTP)"]
    if s.headlines:
        risks.append("pasted headlines are unverified and were not used by the rules")
    if s.news:
        risks.append("news items from the feeds are unverified and were not used by the rules")
    if abs(score) < 2:
        return AnalysisAnswer(
            verdict="hold" if holding else "avoid", confidence=0.4, time_horizon="intraday",
            reasons=why or ["no indicator agrees on a direction"],
            risks=risks + [f"signals are mixed (score {score:+d}; needs ±2)"])
    tick = s.tick_size
    entry = round_to_tick_nearest(s.ltp, tick)
    dist = max(1.5 * atr, float(tick))
    if score > 0:
        stop = max(_tick_round(entry - dist, tick, up=False), s.circuit_lower)
        stop = min(stop, entry - float(tick))
        target = min(_tick_round(entry + 2 * (entry - stop), tick, up=True), s.circuit_upper)
        verdict = "buy"
    else:
        stop = min(_tick_round(entry + dist, tick, up=True), s.circuit_upper)
        stop = max(stop, entry + float(tick))
        target = max(_tick_round(entry - 2 * (stop - entry), tick, up=False), s.circuit_lower)
        verdict = "sell"
    if not (stop < entry < target if verdict == "buy" else target < entry < stop):
        return AnalysisAnswer(
            verdict="hold" if holding else "avoid", confidence=0.3, time_horizon="intraday", reasons=why,
            risks=risks + [f"LTP ₹{entry:,.2f} is at the price band; no room for a stop and target"])
    confidence = min(0.8, 0.4 + 0.1 * (abs(score) - 1))
    risks.append(f"MIS positions are squared off at {s.limits.get('mis_square_off_cutoff_ist', '15:20')} IST")
    return AnalysisAnswer(verdict=verdict, confidence=round(confidence, 2), entry=entry, stop=round(stop, 2),
                          target=round(target, 2), time_horizon="intraday", reasons=why, risks=risks)
