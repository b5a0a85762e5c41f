"""The desk books STT per scrip per day to the rupee (support.zerodha.com, "How is the STT
calculated?"): the stored fills, the ledger and the day's charges agree, on a real SQLite store
and a real Redis tick cache."""

from __future__ import annotations

from decimal import Decimal

from core.orders import Side
from tests.fixtures_trading import INFY, desk, intent, later  # noqa: F401  (desk is a fixture)

D = Decimal


def test_three_mis_sells_of_one_scrip_book_the_day_stt_rounded_once(desk):  # noqa: F811
    """Buy 3 INFY MIS, then sell 1 three times at ₹1,000 (best bid). Per order STT is 0.025% ×
    1,000 = 0.25 → ₹0, but the scrip-day sell turnover ₹3,000 × 0.025% = 0.75 → ₹1 (half-up).
    Increments R(1,000)=0; R(2,000)=0.50→1, so +1; R(3,000)=0.75→1, so +0: ₹0, ₹1, ₹0."""
    desk.tick(INFY, 1000.0)
    assert desk.svc.place_manual(intent(qty=3), user="trader", now=later(1)).ok
    for n in range(3):
        out = desk.svc.place_manual(intent(side=Side.SELL, qty=1), user="trader", now=later(2 + n))
        assert out.ok, out
    trades = sorted(desk.svc.trade_book(), key=lambda t: t.filled_at)
    assert [t.charges.stt for t in trades] == [D("0.00"), D("0.00"), D("1.00"), D("0.00")]
    assert desk.svc.charges_today(later(10)).stt == D("1.00")
    charges = -sum((D(r["amount"]) for r in desk.store.ledger_entries() if r["kind"] == "CHARGES"), D(0))
    assert charges == sum((t.charges.total for t in trades), D(0))
    assert desk.svc.funds(later(10)).reconciled

