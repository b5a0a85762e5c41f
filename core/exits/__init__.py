"""Exits that manage themselves: the exit plan (``core.exits.plan``), the MIS OCO group with
trailing stops (``core.exits.oco``) and CNC GTT triggers (``core.exits.gtt``). Pure rules, run by
the desk (``app.trading.exits``) through its gatekeeper."""

from core.exits.gtt import GTT_VALIDITY, Gtt, GttLeg, GttStatus, GttType, cancel_gtt, create_gtt, evaluate
from core.exits.oco import (
    EXIT_TAG,
    Action,
    Cancel,
    ExitGroup,
    GroupStatus,
    Leg,
    LegKind,
    Move,
    Place,
    Resize,
    cancel,
    exit_intent,
    leg_key,
    move,
    new_group,
    on_entry_fill,
    on_exit_closed,
    on_exit_fill,
    on_position,
    trail,
)
from core.exits.plan import ExitPlan, TrailKind, Trailing

__all__ = [
    "EXIT_TAG", "GTT_VALIDITY", "Action", "Cancel", "ExitGroup", "ExitPlan", "GroupStatus", "Gtt", "GttLeg",
    "GttStatus", "GttType", "Leg", "LegKind", "Move", "Place", "Resize", "TrailKind", "Trailing", "cancel",
    "cancel_gtt", "create_gtt", "evaluate", "exit_intent", "leg_key", "move", "new_group", "on_entry_fill",
    "on_exit_closed", "on_exit_fill", "on_position", "trail",
]
