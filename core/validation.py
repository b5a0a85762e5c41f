"""Validators for the service boundaries (issue 16, item 1).

Each helper checks one value a page, an actor or an API client handed to a public service
method and returns it in the type the service works with, or raises
``core.errors.ValidationError`` whose message names the field, quotes the bad value (cut to
``core.text_caps.ERROR_VALUE_MAX_CHARS`` characters) and says what is allowed. Nothing else
escapes them: no ``ValueError`` from an enum, ``OverflowError`` from a huge number or
``TypeError`` from a wrong type. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import TypeVar

from core.errors import ValidationError
from core.text_caps import shown

E = TypeVar("E", bound=Enum)


def require_enum(name: str, value: object, enum: type[E]) -> E:
    """``value`` as a member of ``enum`` (a member, or its value/name as a string, any case).

    Raises ``ValidationError``: "side must be one of BUY, SELL, was 'HOLD'"."""
    if isinstance(value, enum):
        return value
    allowed = ", ".join(str(m.value) for m in enum)
    if isinstance(value, str):
        text = value.strip()
        for member in enum:
            if text == str(member.value) or text.upper() == str(member.value).upper() or text.upper() == member.name:
                return member
    raise ValidationError(f"{name} must be one of {allowed}, was {shown(value)}")


def require_int(name: str, value: object, *, low: int, high: int, unit: str = "") -> int:
    """``value`` as an ``int`` within ``low..high`` inclusive (a bool, float, str or a number out
    of range is refused). ``unit`` ("seconds", "shares") goes into the message."""
    suffix = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number{suffix} from {low} to {high}, was {shown(value)}")
    if not low <= value <= high:
        raise ValidationError(f"{name} must be from {low} to {high}{suffix}, was {shown(value)}")
    return value


def require_number(name: str, value: object, *, low: float, high: float) -> float:
    """``value`` as a finite ``float`` within ``low..high`` inclusive (NaN, ±inf, bool and
    non-numbers refused): "confidence must be a number between 0 and 1, was nan"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number between {low:g} and {high:g}, was {shown(value)}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValidationError(f"{name} must be a number between {low:g} and {high:g}, was {shown(value)}")
    return number


def require_text(name: str, value: object, *, cap: int, required: bool = True) -> str:
    """``value`` stripped, as a ``str`` of at most ``cap`` characters (``core.text_caps``).

    Raises ``ValidationError`` for a non-string, a blank one when ``required``, or one over the
    cap ("reason is 1,048,576 characters; the limit is 500 — shorten it")."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text, was {shown(value)}")
    text = value.strip()
    if required and not text:
        raise ValidationError(f"{name} is required (blank text was given)")
    if len(text) > cap:
        raise ValidationError(f"{name} is {len(text):,} characters; the limit is {cap:,} characters — shorten it")
    return text


def require_date(name: str, value: object) -> date:
    """``value`` as a ``datetime.date`` (a ``datetime`` is refused too: pass ``.date()``; a string
    is refused, pass a date). "start must be a date (datetime.date), was '2016-09-01'"."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(f"{name} must be a date (datetime.date, e.g. date(2016, 9, 1)), was {shown(value)}")
    return value


def require_aware_datetime(name: str, value: object) -> datetime:
    """``value`` as a tz-aware ``datetime`` (a string, a date or a naive datetime refused)."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} must be a tz-aware datetime, was {shown(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be tz-aware (IST or UTC), was naive {shown(value)}")
    return value


def require_date_range(start: object, end: object, *, start_name: str = "start", end_name: str = "end") -> tuple[date, date]:
    """Both dates valid (``require_date``) and ``start <= end``."""
    first, last = require_date(start_name, start), require_date(end_name, end)
    if first > last:
        raise ValidationError(f"{start_name} {first} is after {end_name} {last}; swap them")
    return first, last


def require_str_list(name: str, value: object, *, max_items: int, item_cap: int = 64,
                     allow_empty: bool = False, drop_blank: bool = False) -> list[str]:
    """``value`` as a list of non-blank strings (a list, tuple or set; one string is refused —
    "symbols must be a list of strings such as ['INFY', 'TCS'], was 'INFY,TCS'"). With
    ``drop_blank`` blank strings are dropped (a form's ``"".split(",")``) instead of refused."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(value, dict):
        raise ValidationError(f"{name} must be a list of strings such as ['INFY', 'TCS'], was {shown(value)}")
    items = list(value)
    if drop_blank:
        items = [i for i in items if not (isinstance(i, str) and not i.strip())]
    if len(items) > max_items:
        raise ValidationError(f"{name} has {len(items):,} items; the limit is {max_items:,}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"each of {name} must be non-blank text, was {shown(item)}")
        if len(item.strip()) > item_cap:
            raise ValidationError(f"each of {name} must be at most {item_cap} characters, was {shown(item)}")
        out.append(item.strip())
    if not out and not allow_empty:
        raise ValidationError(f"{name} must not be empty")
    return out


__all__ = [
    "require_aware_datetime", "require_date", "require_date_range", "require_enum", "require_int",
    "require_number", "require_str_list", "require_text",
]
