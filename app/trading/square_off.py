"""MIS square-off attempts and their refusals: ids, why an attempt did not fill, and the
record the Risk and Orders & Positions pages show.

Each open MIS position gets one square-off *trace* per day, ``SQ-YYYYMMDD-<token>-MIS``; the
first attempt's approval id is the trace itself, retries are ``<trace>-R1``, ``-R2``, ... An
attempt is one order per at most 30,000 shares (Zerodha's auto square-off places orders of at
most ``ChargeSchedule.square_off_max_quantity`` shares, each charged ₹50 + GST:
support.zerodha.com, intraday auto square-off timings): 70,000 shares are three orders of
30,000 + 30,000 + 10,000, approval ids ``<attempt>``, ``<attempt>-P2``, ``<attempt>-P3``. A
new attempt is placed only when the previous one is over without filling (refused by the
gatekeeper, rejected, cancelled); a resting attempt (or one approved and still being placed) is
left to fill, and a new one is placed only while the store's position is still the one the run
read, so two runs that overlap (two workers, a restarted clock) close a position once. Every run that leaves
the position open writes an audit row ``squareoff_failed`` (reason codes, messages,
attempt) on the trace, so an MIS position is never carried overnight silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.timeutil import to_ist

REFUSED_ACTION = "squareoff_failed"  # ("squareoff_refused" is the gate's own row)
#: Order statuses of an attempt still under way: no new attempt while one of its parts has one.
IN_FLIGHT = ("OPEN", "TRIGGER_PENDING", "PLACING")
MAX_ATTEMPTS = 100  # a bound for the id scan; the clock runs every 30 s, far fewer in a day
MAX_PARTS = 1_000  # orders per attempt: 30 million shares at 30,000 a order


@dataclass(frozen=True, slots=True)
class SquareOffRefusal:
    """One recorded square-off refusal: ``at`` IST, ``attempt`` (0 = first), ``reasons`` codes
    (``NO_MARKET_PRICE``, ``OUTSIDE_CIRCUIT``, ``NOT_FILLED``, a gatekeeper code or the order's
    status), ``messages`` one line each, ``price`` the LTP then (₹, None without a tick)."""

    trace_id: str
    instrument_token: int
    tradingsymbol: str
    quantity: int
    at: datetime
    attempt: int
    reasons: tuple[str, ...]
    messages: tuple[str, ...]
    price: Decimal | None


def trace_id(day: date, token: int) -> str:
    return f"{trace_prefix(day)}{int(token)}-MIS"


def trace_prefix(day: date) -> str:
    """The start every square-off trace id of ``day`` shares (``trace_id``)."""
    return f"SQ-{day:%Y%m%d}-"


def attempt_id(trace: str, attempt: int) -> str:
    return trace if attempt == 0 else f"{trace}-R{attempt}"


def part_id(trace: str, attempt: int, part: int) -> str:
    """Approval id of order ``part`` (0 = first) of ``attempt``: the attempt id, then ``-P2``, ``-P3`` ..."""
    base = attempt_id(trace, attempt)
    return base if part == 0 else f"{base}-P{part + 1}"


def first_placed_attempt(trace: str, approvals: dict[str, dict]) -> list[dict]:
    """The approval rows of the parts of ``trace``'s first attempt that placed any order, part 0
    first ([] if none did); ``approvals``: the trace's approval rows by approval id. An attempt's
    parts are placed in order and stop at the first refused, so they are contiguous."""
    for n in range(MAX_ATTEMPTS):
        if attempt_id(trace, n) in approvals:
            parts = []
            for k in range(MAX_PARTS):
                row = approvals.get(part_id(trace, n, k))
                if row is None:
                    break
                parts.append(row)
            return parts
    return []


def placing_row(approval_id: str) -> dict:
    """The stand-in order row of a part approved without an order yet (status ``PLACING``)."""
    return {"order_id": f"O-{approval_id}", "approval_id": approval_id, "status": "PLACING",
            "status_message": "approved; its order is being placed"}


def split_quantity(quantity: int, max_quantity: int) -> list[int]:
    """Shares of each square-off order for a ``quantity``-share position, at most
    ``max_quantity`` (Zerodha: 30,000) each, largest first: 70,000 → [30,000, 30,000, 10,000].
    As many orders as ``core.charges.square_off_orders`` charges for. Raises ``ValueError`` for
    a non-positive ``max_quantity`` or a negative ``quantity``."""
    if max_quantity <= 0:
        raise ValueError(f"max_quantity must be a positive number of shares, was {max_quantity}")
    if quantity < 0:
        raise ValueError(f"quantity must be >= 0 shares, was {quantity}")
    full, rest = divmod(quantity, max_quantity)
    return [max_quantity] * full + ([rest] if rest else [])


def not_filled_reason(ltp: Decimal | None, band, status: str, message: str) -> tuple[str, str]:
    """(code, message) for an attempt that is open or over without a fill."""
    if status in ("REJECTED", "CANCELLED"):
        return status, message or f"square-off order {status.lower()}"
    if ltp is None:
        return "NO_MARKET_PRICE", "no tick for the instrument: a MARKET square-off has no price to fill at"
    if band is not None and not band.contains(ltp):
        return "OUTSIDE_CIRCUIT", (f"LTP {ltp} outside the price band {band.lower}–{band.upper} "
                                   "(NSE price band / dynamic price range): no fill until it is back inside")
    return "NOT_FILLED", f"square-off order {status or 'OPEN'} and not filled yet"


def refusal_from_audit(row: dict, tradingsymbol: str = "") -> SquareOffRefusal:
    d = dict(row.get("details") or {})
    price = row.get("price")
    return SquareOffRefusal(
        trace_id=row["trace_id"], instrument_token=int(d.get("instrument_token", 0)),
        tradingsymbol=str(d.get("tradingsymbol", tradingsymbol)), quantity=int(d.get("quantity", 0)),
        at=to_ist(row["at"]), attempt=int(d.get("attempt", 0)), reasons=tuple(d.get("reasons") or ()),
        messages=tuple(d.get("messages") or ()), price=Decimal(str(price)) if price is not None else None)
