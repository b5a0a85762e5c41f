"""Check an answer's levels against the snapshot it was given.

Rules (each failure is a reason; any reason rejects the answer):

* buy and sell need ``entry``, ``stop`` and ``target``; hold and avoid may omit them;
* every level is a positive ₹ price, rounded to the nearest multiple of the tick size
  (the rounding is reported as a note, not a failure);
* ``entry`` lies within the day's range (low..high) widened by ``entry_tolerance_pct`` % of
  the LTP: an entry the market has not been near today is a hallucinated level;
* every level lies within the day's price band (circuit limits): NSE rejects orders outside it;
* buy: ``stop < entry < target``; sell: ``target < entry < stop``;
* hold and avoid may give levels, and then they must be ordered for the direction of the
  position the snapshot holds: a short (net quantity < 0) like a sell, otherwise (long or
  flat) like a buy; every pair that is given is checked (a hold with its stop above its entry
  while long or flat is refused);
* free text is capped (``core.text_caps``; machine text, so cut with a visible "…" and a note,
  not refused): each of ``reasons`` to ``LLM_REASON_MAX_CHARS`` (500) characters, each of
  ``risks`` to ``LLM_RISK_MAX_CHARS`` (200), at most ``LLM_RISKS_MAX`` risks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.analysis.schema import AnalysisAnswer
from core.analysis.snapshot import Snapshot
from core.text_caps import LLM_REASON_MAX_CHARS, LLM_RISK_MAX_CHARS, LLM_RISKS_MAX, truncate_text

LEVELS = ("entry", "stop", "target")


@dataclass(frozen=True, slots=True)
class Checked:
    """The answer with levels rounded to the tick, the reasons it fails (empty: valid), and notes."""

    answer: AnalysisAnswer
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def round_to_tick_nearest(price: float, tick: Decimal) -> float:
    """``price`` ₹ rounded half-up to the nearest multiple of ``tick`` ₹."""
    steps = (Decimal(str(price)) / tick).to_integral_value(rounding=ROUND_HALF_UP)
    return float(steps * tick)


def check_answer(answer: AnalysisAnswer, snapshot: Snapshot, *, entry_tolerance_pct: float = 1.0) -> Checked:
    """Validate ``answer`` against ``snapshot``; see the module docstring for the rules."""
    problems: list[str] = []
    notes: list[str] = []
    levels: dict[str, float | None] = {}
    for name in LEVELS:
        value = getattr(answer, name)
        if value is None:
            levels[name] = None
            if answer.verdict in ("buy", "sell"):
                problems.append(f"{name} is missing; a {answer.verdict} needs entry, stop and target")
            continue
        if not math.isfinite(value) or value <= 0:
            problems.append(f"{name} {value} is not a positive price in rupees")
            levels[name] = None
            continue
        rounded = round_to_tick_nearest(value, snapshot.tick_size)
        if abs(rounded - value) > 1e-9:
            notes.append(f"{name} {value:g} rounded to the tick ({snapshot.tick_size}): {rounded:.2f}")
        levels[name] = rounded
        if not snapshot.circuit_lower <= rounded <= snapshot.circuit_upper:
            problems.append(f"{name} ₹{rounded:,.2f} is outside today's price band "
                            f"₹{snapshot.circuit_lower:,.2f}-₹{snapshot.circuit_upper:,.2f}")
    entry, stop, target = levels["entry"], levels["stop"], levels["target"]
    if entry is not None:
        tol = snapshot.ltp * entry_tolerance_pct / 100.0
        lo, hi = snapshot.day_low - tol, snapshot.day_high + tol
        if not lo <= entry <= hi:
            problems.append(f"entry ₹{entry:,.2f} is far from today's range ₹{snapshot.day_low:,.2f}-"
                            f"₹{snapshot.day_high:,.2f} (LTP ₹{snapshot.ltp:,.2f}); the market has not been there")
    if None not in (entry, stop, target):
        if answer.verdict == "buy" and not stop < entry < target:
            problems.append(f"a buy needs stop < entry < target, got stop ₹{stop:,.2f}, entry ₹{entry:,.2f}, "
                            f"target ₹{target:,.2f}")
        if answer.verdict == "sell" and not target < entry < stop:
            problems.append(f"a sell needs target < entry < stop, got target ₹{target:,.2f}, entry "
                            f"₹{entry:,.2f}, stop ₹{stop:,.2f}")
    if answer.verdict in ("hold", "avoid"):
        problems += _hold_order(answer.verdict, entry, stop, target, snapshot)
    reasons = [truncate_text(r, LLM_REASON_MAX_CHARS) for r in answer.reasons]
    risks = [truncate_text(r, LLM_RISK_MAX_CHARS) for r in answer.risks[:LLM_RISKS_MAX]]
    if reasons != list(answer.reasons):
        notes.append(f"a reason over {LLM_REASON_MAX_CHARS} characters was cut (…)")
    if risks != list(answer.risks):
        notes.append(f"risks were cut to {LLM_RISKS_MAX} of at most {LLM_RISK_MAX_CHARS} characters each (…)")
    fixed = answer.model_copy(update={**levels, "reasons": reasons, "risks": risks})
    return Checked(fixed, tuple(problems), tuple(notes))


def _hold_order(verdict: str, entry: float | None, stop: float | None, target: float | None,
                snapshot: Snapshot) -> list[str]:
    """The hold/avoid ordering rule of the module docstring: each given pair in the direction
    of the snapshot's net position (short: like a sell; long or flat: like a buy)."""
    short = sum(p.quantity for p in snapshot.positions) < 0
    side, rule = ("short", "target < entry < stop") if short else ("long or flat", "stop < entry < target")
    low, high = ("target", "stop") if short else ("stop", "target")
    given = {"entry": entry, "stop": stop, "target": target}
    order = [n for n in (low, "entry", high) if given[n] is not None]
    values = [given[n] for n in order]
    if all(a < b for a, b in zip(values, values[1:])):
        return []
    shown_levels = ", ".join(f"{n} ₹{given[n]:,.2f}" for n in order)
    return [f"a {verdict} with a {side} position needs {rule} for the levels it gives, got {shown_levels}"]
