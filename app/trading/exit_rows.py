"""Exit groups and GTTs (``core.exits``) to and from the JSON ``state`` of a ``trading_exits`` row.

Money travels as strings (exact ``Decimal`` rupees), times as ISO 8601 (UTC), enums as values.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from core.exits import ExitGroup, ExitPlan, GroupStatus, Gtt, GttLeg, GttStatus, GttType, Leg, LegKind, Trailing
from core.exits.plan import TrailKind
from core.orders import OrderType, Product, Side


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def plan_to_json(plan: ExitPlan) -> dict[str, Any]:
    tr = plan.trailing
    return dict(side=str(plan.side), stop=_s(plan.stop), target=_s(plan.target), stop_type=str(plan.stop_type),
                stop_limit=_s(plan.stop_limit), market_protection=_s(plan.market_protection),
                trailing=None if tr is None else dict(kind=str(tr.kind), step=str(tr.step), atr=_s(tr.atr)))


def plan_from_json(data: dict[str, Any]) -> ExitPlan:
    tr = data.get("trailing")
    return ExitPlan(Side(data["side"]), stop=_d(data.get("stop")), target=_d(data.get("target")),
                    stop_type=OrderType(data["stop_type"]), stop_limit=_d(data.get("stop_limit")),
                    market_protection=_d(data.get("market_protection")),
                    trailing=None if not tr else Trailing(TrailKind(tr["kind"]), Decimal(tr["step"]), _d(tr.get("atr"))))


def _leg_json(leg: Leg) -> dict[str, Any]:
    return dict(key=leg.key, quantity=leg.quantity, filled=leg.filled)


def group_to_json(g: ExitGroup) -> dict[str, Any]:
    return dict(group_id=g.group_id, plan=plan_to_json(g.plan), instrument_token=g.instrument_token,
                tradingsymbol=g.tradingsymbol, product=str(g.product), tick_size=str(g.tick_size), trace_id=g.trace_id,
                status=str(g.status), entry_filled=g.entry_filled, stop_trigger=_s(g.stop_trigger),
                stop_limit=_s(g.stop_limit), target=_s(g.target), best=_s(g.best), stop=_leg_json(g.stop),
                take=_leg_json(g.take), message=g.message, closed_elsewhere=g.closed_elsewhere)


def group_from_json(d: dict[str, Any]) -> ExitGroup:
    return ExitGroup(
        d["group_id"], plan_from_json(d["plan"]), int(d["instrument_token"]), d["tradingsymbol"], Product(d["product"]),
        Decimal(d["tick_size"]), d.get("trace_id") or "", GroupStatus(d["status"]), int(d["entry_filled"]),
        _d(d.get("stop_trigger")), _d(d.get("stop_limit")), _d(d.get("target")), _d(d.get("best")),
        Leg(LegKind.STOP, **d["stop"]), Leg(LegKind.TARGET, **d["take"]), d.get("message") or "",
        int(d.get("closed_elsewhere") or 0))


def gtt_to_json(g: Gtt) -> dict[str, Any]:
    return dict(gtt_id=g.gtt_id, kind=str(g.kind), instrument_token=g.instrument_token, tradingsymbol=g.tradingsymbol,
                side=str(g.side), quantity=g.quantity, legs=[dict(trigger=str(x.trigger), price=str(x.price))
                                                             for x in g.legs],
                last_price=str(g.last_price), created_at=g.created_at.isoformat(), expires_at=g.expires_at.isoformat(),
                status=str(g.status), triggered_leg=g.triggered_leg, trace_id=g.trace_id)


def gtt_from_json(d: dict[str, Any]) -> Gtt:
    return Gtt(d["gtt_id"], GttType(d["kind"]), int(d["instrument_token"]), d["tradingsymbol"], Side(d["side"]),
               int(d["quantity"]), tuple(GttLeg(Decimal(x["trigger"]), Decimal(x["price"])) for x in d["legs"]),
               Decimal(d["last_price"]), datetime.fromisoformat(d["created_at"]),
               datetime.fromisoformat(d["expires_at"]), GttStatus(d["status"]), d.get("triggered_leg"),
               d.get("trace_id") or "")
