"""Risk limits from editor input: strict parsing of the values a page, an API or a stored row
sends, into a ``RiskLimits`` inside its bounds (``core.risk.limits.LIMIT_BOUNDS``).

Nothing is guessed: ``"false"`` is False (not a truthy string), ``1.5`` shares is refused (not
rounded), ``NaN``/``Infinity`` are refused, a time must be ``HH:MM``. Every refusal is a
``ValidationError`` whose message names the field, the bad value (cut to 40 characters) and the
allowed range, e.g. ``risk limit risk_per_trade_pct must be >= 0 and <= 100 (% of capital),
was 500``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import ValidationError
from core.risk.limits import CUTOFF_AFTER, CUTOFF_BEFORE, LIMIT_BOUNDS, RiskLimits, check_limit, show_value

#: Keys a saved limits view carries besides the limits; ignored on input.
META_FIELDS = frozenset({"version", "saved_by", "saved_at"})
_PREFIX = "risk limit "
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TIME_FORMAT = f"time must be HH:MM between {CUTOFF_AFTER:%H:%M} and {CUTOFF_BEFORE:%H:%M} (IST)"


def limits_from_input(data: Any) -> RiskLimits:
    """A ``RiskLimits`` from a ``RiskLimits``, a mapping of field → value, or an object with
    every ``RiskLimits`` field as an attribute (a ``LimitsView``). Fields left out take the
    ``RiskLimits`` defaults.

    Accepted values: money and percentages as ``Decimal``, ``int``, finite ``float`` or a numeric
    string (``"50000"``); counts as whole numbers (``10``, ``10.0``, ``"10"``); ``require_stop``
    as a bool or the strings ``"true"``/``"false"``; the cut-off as a ``datetime.time`` or
    ``"HH:MM"``.

    Raises ``ValidationError`` (nothing is built) for input that is not a mapping, an unknown
    field, a value of the wrong type, NaN/Infinity, a fraction where a whole number is due, or
    a value outside its bound (``LIMIT_BOUNDS``).
    """
    if isinstance(data, RiskLimits):
        return data
    names = [f.name for f in fields(RiskLimits)]
    if not isinstance(data, Mapping):
        if isinstance(data, (str, bytes, list, tuple, set)) or not all(hasattr(data, n) for n in names):
            raise ValidationError(f"risk limits must be a mapping of field → value such as "
                                  f"{{'max_order_quantity': 500}}, was a {type(data).__name__}: {show_value(data)}")
        data = {n: getattr(data, n) for n in names}
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ValidationError(f"risk limit field names must be strings, was {show_value(bad_keys[0])}")
    unknown = set(data) - set(names) - META_FIELDS
    if unknown:
        raise ValidationError(f"unknown risk limit fields {show_value(sorted(unknown), 80)}; use {sorted(names)}")
    kw = {name: parse_limit(name, data[name]) for name in names if name in data}
    return RiskLimits(**kw)


def parse_limit(name: str, value: Any) -> Any:
    """One limit's value from input (see ``limits_from_input``), checked against its bound.
    Raises ``ValidationError`` naming ``name``, the value and the allowed range."""
    bound = LIMIT_BOUNDS[name]
    if bound.kind == "bool":
        out: Any = _bool(name, value)
    elif bound.kind == "time":
        out = _time(name, value)
    elif bound.kind in ("money", "percent"):
        out = _decimal(name, value)
    else:
        out = _whole(name, value)
    check_limit(name, out, prefix=_PREFIX)
    return out


def _refuse(name: str, what: str, value: Any) -> ValidationError:
    return ValidationError(f"{_PREFIX}{name} must be {what}; allowed {LIMIT_BOUNDS[name].allowed}; "
                           f"was {show_value(value)}")


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValidationError(f"{_PREFIX}{name} must be true or false (a bool, or the text 'true'/'false'), "
                          f"was {show_value(value)}")


def _time(name: str, value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        m = _HHMM.match(value.strip())
        if m:
            return time(int(m.group(1)), int(m.group(2)))
    raise ValidationError(f"{_PREFIX}{name}: {_TIME_FORMAT}, was {show_value(value)}")


def _number(name: str, value: Any) -> Decimal:
    """A finite ``Decimal`` from a Decimal, int, float or numeric string; bools refused."""
    if isinstance(value, bool):
        raise _refuse(name, "a number, not a bool", value)
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, (int, float)):
        out = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str) and len(value) <= 40 and "_" not in value:
        try:
            out = Decimal(value.strip().replace(",", ""))  # "1,00,000" as the page shows rupees
        except InvalidOperation:
            raise _refuse(name, "a number", value) from None
    else:
        raise _refuse(name, "a number", value)
    if not out.is_finite():
        raise _refuse(name, "a finite number, not NaN or infinity", value)
    return out


def _decimal(name: str, value: Any) -> Decimal:
    return _number(name, value)


def _whole(name: str, value: Any) -> int:
    number = _number(name, value)
    if number.adjusted() > 18:  # far above every bound: do not build a huge int
        raise ValidationError(f"{_PREFIX}{name} must be {LIMIT_BOUNDS[name].allowed}, was {show_value(value)}")
    if number != number.to_integral_value():
        raise _refuse(name, "a whole number (no fraction)", value)
    return int(number)


__all__ = ["META_FIELDS", "limits_from_input", "parse_limit"]
