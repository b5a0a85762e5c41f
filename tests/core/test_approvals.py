"""Approvals: the pure PENDING → APPROVED / REJECTED / EXPIRED state machine and shadow P&L."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.approvals import (
    ApprovalReason,
    ApprovalStatus,
    approve,
    drift_bps,
    expire,
    propose,
    reject,
    shadow_pnl,
)
from core.errors import ValidationError
from core.orders import Side
from core.timeutil import IST
from tests.factories import INFY, intent

D = Decimal
T0 = datetime(2025, 1, 6, 10, 0, tzinfo=IST)
TTL = timedelta(minutes=5)
INTENT = intent(INFY, trace_id="tr-9")


def pending(**kw):
    return propose("ap-1", kw.pop("intent", INTENT), signal_price=D("1500.00"), created_at=T0, ttl=TTL, **kw)


def test_propose_takes_trace_id_from_intent():
    a = pending()
    assert (a.status, a.trace_id, a.expires_at) == (ApprovalStatus.PENDING, "tr-9", T0 + TTL)


def test_propose_zero_ttl_raises():
    with pytest.raises(ValidationError, match="ttl"):
        propose("ap-1", INTENT, signal_price=D("1500"), created_at=T0, ttl=timedelta(0))


def test_approve_in_time_within_drift_approves():
    d = approve(pending(), now=T0 + timedelta(minutes=1), current_price=D("1501.50"), max_drift_bps=D("10"))
    assert d.approved and d.approval.status is ApprovalStatus.APPROVED and d.approval.decision_price == D("1501.50")


def test_approve_drift_over_limit_refused_and_stays_pending():
    # |1501.55 − 1500| / 1500 × 10 000 = 10.33 bps > 10
    d = approve(pending(), now=T0, current_price=D("1501.55"), max_drift_bps=D("10"))
    assert d.reasons == (ApprovalReason.PRICE_DRIFT,) and not d.changed
    assert d.approval.status is ApprovalStatus.PENDING


def test_approve_after_ttl_expires_it():
    d = approve(pending(), now=T0 + TTL, current_price=D("1500"), max_drift_bps=D("10"))
    assert d.reasons == (ApprovalReason.EXPIRED,) and d.approval.status is ApprovalStatus.EXPIRED and not d.approved


def test_approve_already_expired_refused_with_expired_reason():
    expired = expire(pending(), now=T0 + TTL).approval
    d = approve(expired, now=T0 + TTL, current_price=D("1500"), max_drift_bps=D("10"))
    assert d.reasons == (ApprovalReason.EXPIRED,) and not d.changed


def test_approve_already_approved_refused():
    a = approve(pending(), now=T0, current_price=D("1500"), max_drift_bps=D("10")).approval
    d = approve(a, now=T0, current_price=D("1500"), max_drift_bps=D("10"))
    assert d.reasons == (ApprovalReason.ALREADY_DECIDED,) and d.approval is a


def test_approve_naive_now_raises():
    with pytest.raises(ValidationError, match="timezone-aware"):
        approve(pending(), now=datetime(2025, 1, 6, 10), current_price=D("1500"), max_drift_bps=D("10"))


def test_reject_records_reason():
    d = reject(pending(), reason=" spread too wide ", now=T0)
    assert d.approval.status is ApprovalStatus.REJECTED and d.approval.note == "spread too wide"


def test_reject_blank_reason_raises():
    with pytest.raises(ValidationError, match="reason"):
        reject(pending(), reason="  ", now=T0)


def test_reject_approved_refused():
    a = approve(pending(), now=T0, current_price=D("1500"), max_drift_bps=D("10")).approval
    assert reject(a, reason="late", now=T0).reasons == (ApprovalReason.ALREADY_DECIDED,)


def test_expire_before_deadline_is_reported_noop():
    d = expire(pending(), now=T0 + TTL - timedelta(seconds=1))
    assert d.reasons == (ApprovalReason.NOT_EXPIRED,) and d.approval.status is ApprovalStatus.PENDING


def test_expire_at_deadline_expires():
    assert expire(pending(), now=T0 + TTL).approval.status is ApprovalStatus.EXPIRED


def test_drift_bps_is_relative_to_signal_price():
    assert drift_bps(D("2000"), D("1990")) == D("50")


def test_shadow_pnl_of_rejected_buy_is_later_minus_signal_times_qty():
    a = reject(pending(), reason="no", now=T0).approval
    assert shadow_pnl(a, D("1512.25")) == D("122.50")


def test_shadow_pnl_of_expired_sell_gains_when_price_falls():
    sell = intent(INFY, side=Side.SELL)
    a = expire(pending(intent=sell), now=T0 + TTL).approval
    assert shadow_pnl(a, D("1490")) == D("100.00")


def test_shadow_pnl_of_pending_raises():
    with pytest.raises(ValidationError, match="REJECTED or EXPIRED"):
        shadow_pnl(pending(), D("1500"))
