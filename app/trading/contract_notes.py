"""Charges reconciliation with Kite's virtual contract note, and today's charges breakdown with
the same-day CNC netting line (issue 13).

``ContractNoteService.reconcile(day, now)`` (the ``reconcile_contract_note`` actor, sent by the
clock at 16:05 IST on trading days; the P&L page's button) sends the day's executed orders to
``KiteConnect.get_virtual_contract_note`` (``POST /charges/orders``) and compares, per order
and per component (``core.contract_note.NOTE_CHARGES``), what the desk booked with what Kite
computes. The result is stored whole (``app.adapters.contract_note_store``) and shown on the
P&L page.

What "the desk's figure" is, per order:

* the sum of its fills' booked charges (``trading_fills``: brokerage, STT, exchange txn +
  IPFT, SEBI, stamp, GST less the GST of any square-off fee carried on a fill);
* for a scrip with a CNC buy and a CNC sell that day (same-day netting, ``core.same_day_cnc``)
  the fills were booked at delivery rates and the ledger's ``<fill_id>/netting`` entries
  correct the scrip-day total without itemising it; its orders' figures are the netted
  scrip-day allocated per order (``core.contract_note.allocate_netted``), and one more check
  compares the scrip-day's booked total (fills + netting entries) with that netted total
  (``order_id`` ``"<SYMBOL> scrip-day"``, charge ``booked total``).

Errors: Kite unreachable (``KiteUnavailable``, a ``TemporaryError``) or any other Kite error is
recorded on the day's row (status ``unreachable``, message, attempts; an earlier complete
result is kept) and re-raised so the actor retries; any other failure (an answer of the wrong
shape, a Kite error) likewise as ``failed``; no Kite session (``KiteLoginRequired``) is recorded as
``no_session`` and not raised (the paper desk may run without a real account).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.adapters.contract_note_store import ContractNoteStore
from app.adapters.kite_errors import KiteLoginRequired, funnelled
from app.adapters.trading_store import TradingStore
from core.charges import ChargeSchedule, backfilled_schedules, schedule_for
from core.contract_note import (
    NOTE_CHARGES,
    NoteDifference,
    NoteFigures,
    NoteOrder,
    allocate_netted,
    compare,
    kite_figures,
    netted_scrips,
)
from core.errors import TemporaryError, ValidationError
from core.orders import PAISA, ZERO, Product, Side, round_to_paisa
from core.timeutil import require_aware

log = logging.getLogger(__name__)

_COMPONENTS = [name for name, _ in NOTE_CHARGES]
_LABELS = dict(NOTE_CHARGES) | {"total": "Total", "booked total": "Booked total (fills + netting)"}


@dataclass(frozen=True, slots=True)
class DeskNote:
    """The desk's side of one day's note: orders as sent to Kite, figures per order id,
    symbols per order id, and the booked-vs-netted checks of netted scrip-days."""

    orders: list[NoteOrder]
    figures: dict[str, NoteFigures]
    symbols: dict[str, str]
    booked_checks: list[NoteDifference] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NoteCheck:
    """One day's reconciliation as shown: ``status`` (see ``ContractNoteStore``), every
    comparison row (``order_id``, ``tradingsymbol``, ``charge``, ``desk``, ``kite``,
    ``difference`` as Decimal ₹, ``differs`` bool), totals and the last attempt's message."""

    day: date
    status: str
    checked_at: datetime
    reconciled_at: datetime | None
    orders: int
    desk_total: Decimal
    kite_total: Decimal
    differences: int
    rows: list[dict[str, Any]]
    message: str
    attempts: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> NoteCheck:
        rows = [{**r, "desk": Decimal(r["desk"]), "kite": Decimal(r["kite"]),
                 "difference": Decimal(r["difference"])} for r in row["rows"] or []]
        return cls(day=row["day"], status=row["status"], checked_at=row["checked_at"],
                   reconciled_at=row["reconciled_at"], orders=int(row["orders"]),
                   desk_total=Decimal(row["desk_total"]), kite_total=Decimal(row["kite_total"]),
                   differences=int(row["differences"]), rows=rows, message=row["message"] or "",
                   attempts=int(row["attempts"] or 0))


class ContractNoteService:
    """See the module docstring. ``kite()`` returns a logged-in ``KiteConnect`` (the
    container's ``SessionKite``; raises ``KiteLoginRequired`` without a session);
    ``tolerance`` ₹ per component (default one paisa: Kite's figures are unrounded)."""

    def __init__(self, store: TradingStore, notes: ContractNoteStore, kite: Callable[[], Any], *,
                 schedules: tuple[ChargeSchedule, ...] | None = None, tolerance: Decimal = PAISA) -> None:
        self.store = store
        self.notes = notes
        self.kite = kite
        self.schedules = schedules or backfilled_schedules()
        self.tolerance = tolerance

    # ------------------------------------------------------------------ the desk's side

    def desk_note(self, day: date) -> DeskNote:
        """The day's executed orders and the desk's figures (module docstring)."""
        schedule = schedule_for(day, self.schedules)
        fills = self.store.list_fills(day=day)
        by_order: dict[str, list[dict]] = {}
        for f in fills:
            by_order.setdefault(f["order_id"], []).append(f)
        orders: list[NoteOrder] = []
        booked: dict[str, NoteFigures] = {}
        symbols: dict[str, str] = {}
        for oid, rows in by_order.items():
            order = self.store.get_order(oid) or {}
            qty = sum(int(r["quantity"]) for r in rows)
            turnover = sum((Decimal(r["price"]) * int(r["quantity"]) for r in rows), ZERO)
            orders.append(NoteOrder(
                order_id=oid, tradingsymbol=rows[0]["tradingsymbol"], side=Side(rows[0]["side"]),
                product=Product(rows[0]["product"]), quantity=qty, average_price=(turnover / qty),
                order_type=str(order.get("order_type") or "MARKET")))
            symbols[oid] = rows[0]["tradingsymbol"]
            booked[oid] = _booked(rows, schedule)
        figures = dict(booked)
        checks: list[NoteDifference] = []
        netting = self._netting_by_fill(day)
        for scrip in netted_scrips(orders):
            mine = [o for o in orders if o.product is Product.CNC and (o.exchange, o.tradingsymbol) == scrip]
            allocated = allocate_netted(mine, schedule)
            figures.update(allocated)
            netted_total = sum((sum(v.values(), ZERO) for v in allocated.values()), ZERO)
            booked_total = sum((sum(booked[o.order_id].values(), ZERO) for o in mine), ZERO)
            booked_total += sum((netting.get(f["fill_id"], ZERO) for o in mine for f in by_order[o.order_id]), ZERO)
            checks.append(NoteDifference(f"{scrip[1]} scrip-day", scrip[1], "booked total", booked_total, netted_total))
        return DeskNote(orders, figures, symbols, checks)

    def _netting_by_fill(self, day: date) -> dict[str, Decimal]:
        """₹ netting charged (> 0) or given back (< 0) per fill id on ``day`` (ledger ``/netting``)."""
        out: dict[str, Decimal] = {}
        for e in self.store.ledger_entries():
            if e["day"] == day and e["kind"] == "CHARGES" and str(e["entry_id"]).endswith("/netting"):
                out[e["reference"]] = out.get(e["reference"], ZERO) - Decimal(e["amount"])
        return out

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self, day: date, now: datetime | None = None) -> NoteCheck:
        """Compare ``day``'s booked charges with Kite's note and store the result (see the
        module docstring for errors). Returns the stored check."""
        at = require_aware(now, "now") if now is not None else datetime.now(UTC)
        desk = self.desk_note(day)
        if not desk.orders:
            self.notes.save_result(_result(day, at, "no_fills", desk, {}, [], "No fills on this day."))
            return self.check(day)
        try:
            kite = funnelled(self.kite())
            answer = kite.get_virtual_contract_note([o.to_kite() for o in desk.orders])
            kite_side = _parse_answer(desk.orders, answer)
        except KiteLoginRequired as exc:
            self.notes.record_failure(day, "no_session", f"Not reconciled: {exc}", at)
            log.info("contract note of %s not reconciled: %s", day, exc)
            return self.check(day)
        except TemporaryError as exc:
            self.notes.record_failure(day, "unreachable", f"Kite's contract note unavailable: {exc}; retrying", at)
            log.warning("contract note of %s: %s (the job retries)", day, exc)
            raise
        except Exception as exc:
            self.notes.record_failure(day, "failed", f"Kite's contract note could not be read: {exc}", at)
            log.warning("contract note of %s: %s (the job retries)", day, exc)
            raise
        diffs = compare(desk.figures, kite_side, desk.symbols, tolerance=self.tolerance)
        diffs += [c for c in desk.booked_checks if abs(c.difference) > self.tolerance]
        status = "differences" if diffs else "matched"
        msg = (f"{len(diffs)} difference(s) between the desk's charges and Kite's contract note" if diffs
               else f"The desk's charges match Kite's contract note for {len(desk.orders)} order(s).")
        self.notes.save_result(_result(day, at, status, desk, kite_side, diffs, msg))
        log.info("contract note of %s: %s", day, msg)
        return self.check(day)

    def check(self, day: date) -> NoteCheck | None:
        """The stored reconciliation of ``day``, or None."""
        row = self.notes.get(day)
        return NoteCheck.from_row(row) if row else None

    def latest(self) -> NoteCheck | None:
        row = self.notes.latest()
        return NoteCheck.from_row(row) if row else None

    # ------------------------------------------------------------------ breakdown

    def netting_today(self, day: date) -> list[dict[str, Any]]:
        """Same-day CNC netting of ``day`` per scrip: ``tradingsymbol``, ``amount`` ₹ (the
        ledger's ``/netting`` entries as a charge: < 0 is a saving against delivery rates)."""
        symbols = {f["fill_id"]: f["tradingsymbol"] for f in self.store.list_fills(day=day)}
        per: dict[str, Decimal] = {}
        for fill_id, amount in self._netting_by_fill(day).items():
            sym = symbols.get(fill_id, fill_id)
            per[sym] = per.get(sym, ZERO) + amount
        return [{"tradingsymbol": s, "amount": a} for s, a in sorted(per.items())]


def _booked(rows: list[dict], schedule: ChargeSchedule) -> NoteFigures:
    out = {k: ZERO for k in _COMPONENTS}
    for r in rows:
        out["brokerage"] += Decimal(r["brokerage"])
        out["stt"] += Decimal(r["stt"])
        out["exchange_txn"] += Decimal(r["exchange_txn"]) + Decimal(r["ipft"])
        out["sebi"] += Decimal(r["sebi"])
        out["stamp"] += Decimal(r["stamp"])
        fee = Decimal(r["square_off_fee"] or 0)
        out["gst"] += Decimal(r["gst"]) - (round_to_paisa(fee * schedule.gst_rate) if fee else ZERO)
    return out


def _parse_answer(orders: list[NoteOrder], answer: Any) -> dict[str, NoteFigures]:
    """Kite's list (same order as sent; an ``order_id`` in an item wins) as figures."""
    if not isinstance(answer, list) or len(answer) != len(orders):
        raise ValidationError(f"Kite's contract note answered {len(answer) if isinstance(answer, list) else answer!r} "
                              f"items for {len(orders)} orders")
    out: dict[str, NoteFigures] = {}
    for o, item in zip(orders, answer, strict=True):
        out[str(item.get("order_id") or o.order_id)] = kite_figures(item.get("charges") or {})
    return out


def _result(day: date, at: datetime, status: str, desk: DeskNote, kite: dict[str, NoteFigures],
            diffs: list[NoteDifference], message: str) -> dict[str, Any]:
    differs = {(d.order_id, d.charge) for d in diffs}
    rows: list[dict[str, Any]] = []
    for o in desk.orders:
        d, k = desk.figures.get(o.order_id, {}), kite.get(o.order_id, {})
        for name in [*_COMPONENTS, "total"]:
            dv = sum(d.values(), ZERO) if name == "total" else d.get(name, ZERO)
            kv = sum(k.values(), ZERO) if name == "total" else k.get(name, ZERO)
            rows.append(_row(o.order_id, o.tradingsymbol, name, dv, kv, (o.order_id, name) in differs))
    for c in desk.booked_checks:
        rows.append(_row(c.order_id, c.tradingsymbol, c.charge, c.desk, c.kite, (c.order_id, c.charge) in differs))
    desk_total = sum((sum(v.values(), ZERO) for v in desk.figures.values()), ZERO)
    kite_total = sum((sum(v.values(), ZERO) for v in kite.values()), ZERO)
    return dict(day=day, status=status, checked_at=at, reconciled_at=at, orders=len(desk.orders),
                desk_total=desk_total, kite_total=kite_total, differences=len(diffs), rows=rows, message=message)


def _row(order_id: str, symbol: str, charge: str, desk: Decimal, kite: Decimal, differs: bool) -> dict[str, Any]:
    return {"order_id": order_id, "tradingsymbol": symbol, "charge": charge, "label": _LABELS.get(charge, charge),
            "desk": str(desk), "kite": str(kite), "difference": str(desk - kite), "differs": differs}


__all__ = ["ContractNoteService", "DeskNote", "NoteCheck"]
