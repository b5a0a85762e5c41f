"""Approvals: propose → approve (single or bulk) / reject / expire, and direct placement
(the manual ticket, the desk's own exits). Every order change here passes the gatekeeper
(``TradingGate.gate`` → ``core.gatekeeper.check``): a proposal (preview), an approve, a place.

An approval becomes an order only through ``execute_approval`` (``app.trading.execution``),
from an APPROVED approval with an approved risk decision row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from app.trading.gate import TradingGate
from app.trading.outcomes import acting_user, outcome
from app.trading.rows import approval_view, audit_row, intent_columns, money, pending_from_row
from app.trading.views import ActionOutcome, ApprovalView
from core import approvals as appr
from core.errors import ValidationError
from core.events import approval_expired, risk_breach
from core.gatekeeper import ChangeKind, Exemption, OrderChange
from core.orders import OrderIntent, price_from_float, validate_intent
from core.risk import ReasonCode
from core.timeutil import require_aware, to_ist, to_utc

#: ``enqueue(approval_id, trace_id=...)``: send an APPROVED approval for execution (its trace id
#: rides along, so the message and the worker's log lines carry it without a re-read).
Enqueue = Callable[..., None]

#: The approval-row ``source`` a direct placement is recorded with (``core.approvals.DIRECT_SOURCES``):
#: the ticket's Place is ``"ticket"``, so a ticket order is never mistaken for a decided proposal
#: (the ticket's "Send to approvals" stays ``"manual"``: it does go through approvals).
_DIRECT_ROW_SOURCE = {"manual": "ticket"}


class ApprovalFlow(TradingGate):
    """Propose, approve, reject, expire and place; see ``app.trading.service`` for the contract."""

    def propose(self, intent: OrderIntent, *, signal_price: Any, reason: str, source: str,
                ttl_seconds: int | None, now: datetime) -> ApprovalView:
        require_aware(now, "now")
        intent = self._checked_intent(intent, now)
        if not reason or not reason.strip():
            raise ValidationError("a proposal needs a reason (why the strategy wants this trade)")
        price = money(signal_price, "signal_price")
        ttl = timedelta(seconds=ttl_seconds if ttl_seconds is not None else self.config.approval_ttl_seconds)
        approval_id = f"A-{uuid.uuid4().hex[:20]}"
        trace = intent.trace_id or f"T-{uuid.uuid4().hex[:20]}"
        intent = replace(intent, trace_id=trace)
        pa = appr.propose(approval_id, intent, signal_price=price, created_at=now, ttl=ttl)
        decision, drow, ltp = self.gate(OrderChange(ChangeKind.PROPOSE, intent), now, approval_id=approval_id,
                                        stage="preview")
        row = dict(
            approval_id=approval_id, trace_id=trace, source=source or "strategy", strategy=intent.strategy,
            reason=reason.strip(), **intent_columns(intent), signal_price=price, created_at=to_utc(now),
            expires_at=to_utc(pa.expires_at), status="PENDING", decided_by=None, decided_at=None,
            decision_price=None, decision_note="", risk_approved=decision.approved,
            risk_reasons=drow["reasons"], risk_messages=drow["messages"], risk_price=ltp, risk_at=to_utc(now),
        )
        self.store.insert_approval(row, drow, audit_row(trace, at=now, actor=source or "strategy",
                                                        action="propose", price=ltp, approval_id=approval_id,
                                                        signal_price=price, reason=reason.strip()))
        view = self._view(row, now)
        if not decision.approved:  # a refused proposal is a notice (Home, the next page's toast) and a notification
            self.notifier.notify(risk_breach(approval_id, intent.tradingsymbol, drow["reasons"], drow["messages"],
                                             trace_id=trace))
        return view

    def _checked_intent(self, intent: OrderIntent, now: datetime) -> OrderIntent:
        if not isinstance(intent, OrderIntent):
            raise ValidationError("intent must be a core.orders.OrderIntent")
        inst = self.instrument(intent.instrument_token)
        if inst.tradingsymbol != intent.tradingsymbol:
            intent = replace(intent, tradingsymbol=inst.tradingsymbol)
        validate_intent(intent, inst, on=to_ist(now).date())  # the date's NSE tick regime
        return intent

    def pending(self, now: datetime) -> list[ApprovalView]:
        """PENDING approvals still inside their TTL at ``now``. A read: nothing is written
        (``expire_approvals`` marks the overdue ones EXPIRED)."""
        require_aware(now, "now")
        rows = self.store.list_approvals(("PENDING",))
        return [approval_view(r, now=now) for r in rows if r["expires_at"] > now]

    def expire_approvals(self, now: datetime) -> int:
        require_aware(now, "now")
        n = 0
        for row in self.store.list_approvals(("PENDING",)):
            dec = appr.expire(pending_from_row(row), now=now)
            if dec.changed and self._mark_expired(row, now):
                n += 1
                self.notifier.notify(approval_expired(approval_view({**row, "status": "EXPIRED", "decided_at": now},
                                                                    now=now)))
        return n

    def _mark_expired(self, row: dict, now: datetime, actor: str = "system") -> bool:
        return self.store.decide_approval(
            row["approval_id"],
            dict(status="EXPIRED", decided_by="system", decided_at=to_utc(now), decision_note="ttl elapsed"),
            audit=[audit_row(row["trace_id"], at=now, actor=actor, action="expire", approval_id=row["approval_id"])],
        )

    def _load(self, approval_id: str) -> dict:
        row = self.store.get_approval(approval_id)
        if row is None:
            raise ValidationError(f"unknown approval_id {approval_id!r}; pick one from the Approvals page")
        return row

    def approve(self, approval_id: str, *, user: str, now: datetime, enqueue: Enqueue) -> ActionOutcome:
        user = acting_user(user)
        require_aware(now, "now")
        row = self._load(approval_id)
        token = int(row["instrument_token"])
        cached = self.latest([token]).get(token)
        ltp = price_from_float(cached.tick.last_price) if cached and cached.tick.last_price > 0 else None

        def refuse(codes, msgs, *, noop=False) -> ActionOutcome:
            self.store.add_audit(audit_row(row["trace_id"], at=now, actor=user, action="approve_refused", price=ltp,
                                           approval_id=approval_id, reasons=[str(c) for c in codes],
                                           messages=list(msgs)))
            return outcome("approve", ok=False, row=row, reasons=codes, messages=msgs, price=ltp, noop=noop)

        pa = pending_from_row(row)
        if pa.status is not appr.ApprovalStatus.PENDING:
            code = "EXPIRED" if pa.status is appr.ApprovalStatus.EXPIRED else "ALREADY_DECIDED"
            return refuse([code], [f"approval {approval_id} is already {pa.status}; nothing was placed"], noop=True)
        if pa.is_expired(now):
            self._mark_expired(row, now, actor=user)
            return refuse(["EXPIRED"], [f"approval expired at {to_ist(pa.expires_at):%H:%M:%S} IST; the signal is stale"])
        if ltp is None:
            return refuse([ReasonCode.NO_MARKET_PRICE],
                          [f"no tick cached for {row['tradingsymbol']}; cannot check drift"])
        age = self.config.stale_tick_age(cached.tick.exchange_timestamp or cached.received_at, now)
        if age is not None:  # DESK_MAX_TICK_AGE_SECONDS
            limit = self.config.max_tick_age_seconds
            return refuse([ReasonCode.NO_MARKET_PRICE], [f"the last tick of {row['tradingsymbol']} is {age:.0f} s "
                                                         f"old (limit {limit:g} s); wait for a fresh price"])
        drift = appr.approve(pa, now=now, current_price=ltp, max_drift_bps=self.config.max_drift_bps)
        if not drift.approved:
            return refuse(drift.reasons, drift.messages)
        return self._approve_checked(row, pa, user=user, now=now, cached=cached, ltp=ltp, enqueue=enqueue,
                                     refuse=refuse)

    def _approve_checked(self, row, pa, *, user, now, cached, ltp, enqueue, refuse) -> ActionOutcome:
        approval_id = row["approval_id"]
        decision, drow, _ = self.gate(OrderChange(ChangeKind.APPROVE, pa.intent), now, approval_id=approval_id,
                                      stage="approval", cached=cached)
        preview = dict(risk_approved=decision.approved, risk_reasons=drow["reasons"],
                       risk_messages=drow["messages"], risk_price=ltp, risk_at=to_utc(now))
        if not decision.approved:
            self.store.update_approval(approval_id, preview, decision=drow, audit=[audit_row(
                row["trace_id"], at=now, actor=user, action="approve_refused", price=ltp, approval_id=approval_id,
                reasons=drow["reasons"], messages=drow["messages"])])
            return outcome("approve", ok=False, row=row, reasons=drow["reasons"], messages=drow["messages"],
                           price=ltp)
        done = self.store.decide_approval(
            approval_id,
            dict(status="APPROVED", decided_by=user, decided_at=to_utc(now), decision_price=ltp, **preview),
            decision=drow,
            audit=[audit_row(row["trace_id"], at=now, actor=user, action="risk", price=ltp, approved=True,
                             decision_id=drow["decision_id"]),
                   audit_row(row["trace_id"], at=now, actor=user, action="approve", price=ltp,
                             approval_id=approval_id)],
        )
        if not done:
            return refuse(["ALREADY_DECIDED"], [f"approval {approval_id} was decided meanwhile; nothing was placed"],
                          noop=True)
        enqueue(approval_id, trace_id=row["trace_id"])
        return outcome("approve", ok=True, row=row, order_id=f"O-{approval_id}", price=ltp)

    def approve_many(self, ids: Sequence[str], *, user: str, now: datetime, enqueue: Enqueue) -> list[ActionOutcome]:
        if not ids:
            raise ValidationError("select at least one approval to approve")
        return [self.approve(i, user=user, now=now, enqueue=enqueue) for i in ids]

    def reject(self, approval_id: str, *, user: str, reason: str, now: datetime) -> ActionOutcome:
        user = acting_user(user)
        if not reason or not str(reason).strip():
            raise ValidationError("a reject needs a reason (e.g. 'spread too wide')")
        require_aware(now, "now")
        row = self._load(approval_id)
        pa = pending_from_row(row)
        if pa.status is appr.ApprovalStatus.PENDING and pa.is_expired(now):
            self._mark_expired(row, now, actor=user)
            return outcome("reject", ok=False, row=row, reasons=["EXPIRED"], messages=["approval had expired"],
                           noop=True)
        dec = appr.reject(pa, reason=reason, now=now)
        if not dec.changed:
            return outcome("reject", ok=False, row=row, reasons=dec.reasons, messages=dec.messages, noop=True)
        ltp = self.ltps([pa.intent.instrument_token]).get(pa.intent.instrument_token)
        ok = self.store.decide_approval(
            approval_id, dict(status="REJECTED", decided_by=user, decided_at=to_utc(now), decision_price=ltp,
                              decision_note=str(reason).strip()),
            audit=[audit_row(row["trace_id"], at=now, actor=user, action="reject", price=ltp, reason=str(reason).strip())])
        if not ok:
            return outcome("reject", ok=False, row=row, reasons=["ALREADY_DECIDED"],
                           messages=["decided meanwhile"], noop=True)
        return outcome("reject", ok=True, row=row, price=ltp)

    # ------------------------------------------------------------------ manual and system orders

    def place_manual(self, intent: OrderIntent, *, user: str, now: datetime, enqueue: Enqueue) -> ActionOutcome:
        user = acting_user(user)
        require_aware(now, "now")
        return self._place_direct(intent, source="manual", user=user, now=now, enqueue=enqueue,
                                  reason="manual order ticket")

    def _place_direct(self, intent: OrderIntent, *, source: str, user: str, now: datetime, enqueue: Enqueue,
                      reason: str, approval_id: str | None = None, exempt: Exemption | None = None) -> ActionOutcome:
        intent = self._checked_intent(intent, now)
        approval_id = approval_id or f"M-{uuid.uuid4().hex[:20]}"
        trace = intent.trace_id or f"T-{uuid.uuid4().hex[:20]}"
        intent = replace(intent, trace_id=trace)
        decision, drow, ltp = self.gate(OrderChange(ChangeKind.PLACE, intent, exempt=exempt), now,
                                        approval_id=approval_id, stage=source)
        base = dict(approval_id=approval_id, trace_id=trace)
        if not decision.approved:
            self.store.add_audit(audit_row(trace, at=now, actor=user, action=f"{source}_refused", price=ltp,
                                           reasons=drow["reasons"], messages=drow["messages"]))
            return outcome(source, ok=False, row=base, reasons=drow["reasons"], messages=drow["messages"], price=ltp)
        row = dict(
            **base, source=_DIRECT_ROW_SOURCE.get(source, source), strategy=intent.strategy, reason=reason, **intent_columns(intent),
            signal_price=ltp, created_at=to_utc(now), expires_at=to_utc(now), status="APPROVED", decided_by=user,
            decided_at=to_utc(now), decision_price=ltp, decision_note="", risk_approved=True, risk_reasons=[],
            risk_messages=list(decision.messages), risk_price=ltp, risk_at=to_utc(now),
        )
        try:
            self.store.insert_approval(row, drow, audit_row(trace, at=now, actor=user, action=source, price=ltp,
                                                            approval_id=approval_id, decision_id=drow["decision_id"],
                                                            exempt=str(exempt) if exempt else None))
        except Exception as exc:  # the deterministic id exists: this system order was placed already
            if self.store.get_approval(approval_id) is not None:
                return outcome(source, ok=False, row=base, reasons=["ALREADY_DECIDED"],
                               messages=[f"{approval_id} already placed"], noop=True)
            raise exc
        enqueue(approval_id, trace_id=trace)
        return outcome(source, ok=True, row=base, order_id=f"O-{approval_id}", price=ltp,
                       messages=decision.messages if exempt else ())
