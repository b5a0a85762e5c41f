"""Text formatting for the desk's pages and charts: one module, built on Babel's ``en_IN`` locale.

Every page, widget and figure formats numbers, money, percentages and times through this module
so the desk shows one style everywhere. Grouping comes from Babel (CLDR ``en_IN``: lakhs and
crores), not from hand-rolled code. Formatting only: nothing here computes P&L, risk or charges.

Public functions (names and signatures are stable; other modules call them)
---------------------------------------------------------------------------
Money (``Decimal``/float/int/str rupees; ``None``/NaN/unparseable → ``"—"``; rounds half-up):

- ``inr(amount, *, sign=False, decimals=2)`` → ``"₹3,27,774.00"``, ``"-₹1,234.50"``,
  ``sign=True`` → ``"+₹1,234.50"``. Always shows ``decimals`` places: use it for prices,
  charges, LTP and anything where paise are part of the value.
- ``money(amount, *, sign=False)`` → the *paise rule*: paise are shown only where they matter,
  i.e. when ``|amount| < ₹1,00,000`` **and** the amount is not a whole number of rupees.
  ``money(327774.25)`` → ``"₹3,27,774"``, ``money(1234.5)`` → ``"₹1,234.50"``,
  ``money(500)`` → ``"₹500"``. Use it for equity, capital, P&L totals, notional values.
- ``PAISE_BELOW`` — the ₹1,00,000 threshold of the paise rule; ``RUPEE`` — Babel's ``"₹"``.

Counts and plain numbers:

- ``qty(n)`` → shares/lots, ``"1,23,45,678"``; ``"-5"`` for a short position.
- ``volume(n)`` → traded volume, ``"8,40,069"`` (floats are rounded to whole shares).
- ``number(x, decimals=2, *, sign=False)`` → a grouped plain number, ``"1,234.57"`` (ratios
  such as Sharpe, profit factor).
- ``indian_group(digits)`` → ``"1000000"`` → ``"10,00,000"`` (kept for old callers).

Percentages (the value is already in percent unless it says fraction):

- ``pct(value, decimals=2)`` → ``"12.35 %"`` (no ``"-0.00 %"``).
- ``signed_pct(value, decimals=2)`` → ``"+1.25 %"``, ``"-0.50 %"``, ``"0.00 %"``.
- ``fraction_pct(value, decimals=0)`` → a 0–1 fraction as percent: ``0.4`` → ``"40 %"``
  (confidence, win rate stored as fractions).

Times (tz-aware datetimes, ``pd.Timestamp``, ISO-8601 strings; naive times are taken as UTC;
all shown in IST):

- ``ist(when, with_date=True)`` → ``"16 Aug 2016 09:15:03 IST"`` (with seconds: event logs,
  order and trade times) or ``"09:15:03 IST"``.
- ``ist_time(when)`` → ``"09 Sep 2016 09:23 IST"`` (minutes: the desk's default time).
- ``ist_date(when)`` → ``"09 Sep 2016"`` (a ``date`` is shown as is; a datetime in IST).
- ``bar_time(ts, interval)`` → ``"09 Sep 2016"`` for ``day``/``week`` bars (never "00:00"),
  ``"09 Sep 2016 09:15 IST"`` for intraday bars.
- ``interval_label(interval)`` → ``"5minute"`` → ``"5 min"``, ``"minute"`` → ``"1 min"``,
  ``"60minute"`` → ``"60 min"``, ``"day"`` → ``"Daily"``, ``"week"`` → ``"Weekly"``.
- ``is_daily(interval)`` → ``True`` for ``day``/``week``/``month`` (bars without a time).
- ``countdown(remaining)`` → ``"4:05"``.

Missing values and tables:

- ``MISSING`` (``"—"``), ``is_missing(value)``, ``text(value)`` (``str`` or ``"—"``).
- ``frame_for_display(df, spec, labels=None)`` → a copy of ``df`` whose columns are display
  strings for ``st.dataframe``: ``spec`` maps a column to a kind (``"inr"``, ``"money"``,
  ``"qty"``, ``"volume"``, ``"number"``, ``"pct"``, ``"signed_pct"``, ``"fraction_pct"``,
  ``"ist"``, ``"ist_time"``, ``"date"``, ``"text"``, ``"interval"``) or a callable; every other
  column gets ``text`` (so no ``None``/``nan`` cell survives). ``labels`` renames columns.
  ``KINDS`` maps each kind name to its formatter (also ``"inr_signed"``, ``"money_signed"``).
- ``style_for_display(df, spec, labels=None)`` → the same display text as a pandas ``Styler``
  over the *unchanged* values: ``st.dataframe`` shows the text but still sorts numbers as
  numbers, and AppTest/``.value`` readers still see the numbers. Prefer it for sortable tables.
- ``reason_codes_text(codes)`` → ``"[ORDER_NOTIONAL, MIS_CUTOFF]"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.numbers import format_decimal, get_currency_symbol, get_decimal_symbol, parse_pattern

from core.errors import ValidationError
from core.timeutil import IST, UTC

LOCALE = "en_IN"
#: ``st.date_input(format=...)`` for every date picker: the Indian day-first order.
DATE_INPUT_FORMAT = "DD/MM/YYYY"
MISSING = "—"
#: The paise rule's threshold: ``money`` drops paise at or above ₹1,00,000.
PAISE_BELOW = Decimal(100_000)

_INTEGER_PATTERN = "#,##,##0"
_LOCALE = Locale.parse(LOCALE)
#: ``"₹"``: Babel's symbol for INR in ``en_IN``.
RUPEE = get_currency_symbol("INR", locale=LOCALE)
_DECIMAL = get_decimal_symbol(LOCALE)
_INTRADAY_BAR_FMT = "%d %b %Y %H:%M IST"


# --------------------------------------------------------------------------- parsing helpers
def is_missing(value: Any) -> bool:
    """True for ``None``, NaN, ``pd.NA``/``NaT``, ±inf and the empty string."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, Decimal):
        return not value.is_finite()
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (int, date, timedelta)) and not hasattr(value, "to_pydatetime"):
        return False
    import numpy as np  # here, not at import: the API and the workers format without pandas
    import pandas as pd

    try:
        result = pd.isna(value)
    except (TypeError, ValueError):  # pragma: no cover - exotic objects
        return False
    return bool(result) if isinstance(result, (bool, np.bool_)) else False


def _decimal(value: Any) -> Decimal | None:
    """``value`` as a finite ``Decimal``, or ``None`` when missing/unparseable."""
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError, TypeError):
        return None
    return d if d.is_finite() else None


def _quantize(value: Decimal, decimals: int) -> Decimal:
    quantum = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def _pattern(decimals: int) -> str:
    return _INTEGER_PATTERN + ("." + "0" * decimals if decimals > 0 else "")


@lru_cache(maxsize=16)
def _parsed(decimals: int):
    return parse_pattern(_pattern(decimals))


@lru_cache(maxsize=65536)
def _group_int(whole: int) -> str:
    """Babel ``en_IN`` grouping of a non-negative integer (cached: a Babel call costs ~20-60 µs
    and pages redraw the same rupee amounts on every refresh)."""
    return format_decimal(whole, format=_parsed(0), locale=_LOCALE)


def _grouped(value: Decimal, decimals: int) -> str:
    """Digits of an already-quantized ``value``: the integer part grouped by Babel ``en_IN``,
    then Babel's decimal symbol and ``decimals`` fraction digits."""
    text_ = f"{abs(value):.{decimals}f}"
    whole, _, frac = text_.partition(".")
    body = _group_int(int(whole)) + (_DECIMAL + frac if frac else "")
    return "-" + body if value < 0 else body


def _signed(body: str, value: Decimal, sign: bool) -> str:
    """Prefix ``+`` on a positive value when ``sign``; strip the minus off a rounded zero."""
    if value == 0:
        return body.lstrip("-")
    if sign and value > 0:
        return "+" + body
    return body


# --------------------------------------------------------------------------- money
def indian_group(digits: str) -> str:
    """Group a string of integer digits the Indian way: ``"1000000"`` → ``"10,00,000"``.

    Raises ``ValidationError`` when ``digits`` is not a string of decimal digits.
    """
    if not digits.isdigit():
        raise ValidationError(f"indian_group needs decimal digits only, got {digits!r}")
    return _group_int(int(digits))


def inr(amount: Decimal | float | int | str | None, *, sign: bool = False, decimals: int = 2) -> str:
    """Rupees with Indian grouping: ``inr(Decimal("1000000"))`` → ``"₹10,00,000.00"``.

    Negative amounts are ``"-₹1,234.50"``; ``sign=True`` also prefixes ``+`` on positives
    (for P&L). ``None``/NaN/unparseable → ``"—"``. Rounds half-up to ``decimals`` places.
    """
    value = _decimal(amount)
    if value is None:
        return MISSING
    value = _quantize(value, decimals)
    body = RUPEE + _grouped(abs(value), decimals)
    return _signed(("-" if value < 0 else "") + body, value, sign)


def money(amount: Decimal | float | int | str | None, *, sign: bool = False) -> str:
    """Rupees following the paise rule: paise only where they matter.

    Whole rupees when ``|amount| ≥ ₹1,00,000`` (a paisa is then under 0.001 % of the amount)
    or when the amount rounds to whole rupees; otherwise two decimals.
    ``money(327774.25)`` → ``"₹3,27,774"``; ``money(1234.5)`` → ``"₹1,234.50"``;
    ``money(-500)`` → ``"-₹500"``; ``None`` → ``"—"``.
    """
    value = _decimal(amount)
    if value is None:
        return MISSING
    paise = _quantize(value, 2)
    whole = abs(paise) >= PAISE_BELOW or paise == paise.to_integral_value()
    return inr(value, sign=sign, decimals=0 if whole else 2)


# --------------------------------------------------------------------------- counts, numbers
def qty(n: int | float | Decimal | str | None) -> str:
    """Shares (or lots) with Indian grouping: ``12345678`` → ``"1,23,45,678"``; ``-5`` → ``"-5"``.

    Fractional input is rounded half-up to a whole number; ``None``/NaN → ``"—"``.
    """
    value = _decimal(n)
    if value is None:
        return MISSING
    value = _quantize(value, 0)
    return _signed(_grouped(value, 0), value, False)


def volume(n: int | float | Decimal | str | None) -> str:
    """Traded volume in shares, grouped: ``840069`` → ``"8,40,069"`` (``None``/NaN → ``"—"``)."""
    return qty(n)


def number(x: Decimal | float | int | str | None, decimals: int = 2, *, sign: bool = False) -> str:
    """A plain grouped number: ``1234.567`` → ``"1,234.57"``; ``sign=True`` → ``"+1.25"``."""
    value = _decimal(x)
    if value is None:
        return MISSING
    value = _quantize(value, decimals)
    return _signed(_grouped(value, decimals), value, sign)


# --------------------------------------------------------------------------- percentages
def pct(value: Decimal | float | None, decimals: int = 2) -> str:
    """A value already in percent: ``12.345`` → ``"12.35 %"``; ``None`` → ``"—"``."""
    text_ = number(value, decimals)
    return MISSING if text_ == MISSING else f"{text_} %"


def signed_pct(value: Decimal | float | None, decimals: int = 2) -> str:
    """A change in percent with its sign: ``1.25`` → ``"+1.25 %"``, ``-0.5`` → ``"-0.50 %"``."""
    text_ = number(value, decimals, sign=True)
    return MISSING if text_ == MISSING else f"{text_} %"


def fraction_pct(value: Decimal | float | None, decimals: int = 0) -> str:
    """A 0–1 fraction shown as percent: ``0.4`` → ``"40 %"``; ``None`` → ``"—"``."""
    d = _decimal(value)
    return MISSING if d is None else pct(d * 100, decimals)


# --------------------------------------------------------------------------- times
def _datetime(when: Any) -> datetime | None:
    """``when`` as a tz-aware datetime (naive → UTC), or ``None`` when missing/unparseable."""
    if is_missing(when):
        return None
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if hasattr(when, "to_pydatetime"):
        when = when.to_pydatetime()
    if not isinstance(when, datetime):
        if isinstance(when, date):
            return datetime(when.year, when.month, when.day, tzinfo=IST)
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def ist(when: datetime | str | None, with_date: bool = True) -> str:
    """``"16 Aug 2016 09:15:03 IST"`` (or ``"09:15:03 IST"``; ``"—"`` when missing).

    Naive times are taken as UTC; ISO strings (``"2016-08-16T09:15:03+05:30"``) are parsed.
    """
    aware = _datetime(when)
    if aware is None:
        return MISSING
    return aware.astimezone(IST).strftime("%d %b %Y %H:%M:%S IST" if with_date else "%H:%M:%S IST")


def ist_time(when: datetime | str | None) -> str:
    """The desk's default time: ``"09 Sep 2016 09:23 IST"`` (``"—"`` when missing)."""
    aware = _datetime(when)
    return MISSING if aware is None else aware.astimezone(IST).strftime(_INTRADAY_BAR_FMT)


def ist_date(when: date | datetime | str | None) -> str:
    """A date without a time: ``"09 Sep 2016"``. A ``date`` is shown as is; a datetime in IST."""
    if isinstance(when, date) and not isinstance(when, datetime):
        return when.strftime("%d %b %Y")
    if isinstance(when, str) and len(when.strip()) == 10:
        try:
            return date.fromisoformat(when.strip()).strftime("%d %b %Y")
        except ValueError:
            return MISSING
    aware = _datetime(when)
    return MISSING if aware is None else aware.astimezone(IST).strftime("%d %b %Y")


def is_daily(interval: str | None) -> bool:
    """True for Kite's session-or-longer intervals (``day``, ``week``), whose bars have no time."""
    return interval in ("day", "week", "month")


def bar_time(ts: datetime | str | None, interval: str) -> str:
    """A bar's open time: ``"09 Sep 2016"`` for daily/weekly bars, ``"09 Sep 2016 09:15 IST"`` intraday."""
    return ist_date(ts) if is_daily(interval) else ist_time(ts)


_INTERVAL_WORDS = {"day": "Daily", "week": "Weekly", "month": "Monthly", "minute": "1 min"}


def interval_label(interval: str | None) -> str:
    """Kite interval → words: ``"5minute"`` → ``"5 min"``, ``"day"`` → ``"Daily"``.

    Unknown names are returned unchanged (display only); ``None`` → ``"—"``.
    """
    if interval is None or interval == "":
        return MISSING
    if interval in _INTERVAL_WORDS:
        return _INTERVAL_WORDS[interval]
    head = interval.removesuffix("minute")
    if head != interval and head.isdigit():
        return f"{int(head)} min"
    return interval


def countdown(remaining: timedelta) -> str:
    """``timedelta(minutes=4, seconds=5)`` → ``"4:05"``; ``"1:02:03"`` past an hour; ≤ 0 → ``"expired"``."""
    total = int(remaining.total_seconds())
    if total <= 0:
        return "expired"
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --------------------------------------------------------------------------- text, tables
def text(value: Any) -> str:
    """``str(value)``, or ``"—"`` for ``None``/NaN/NaT/empty; ``Decimal``/float drop no digits."""
    return MISSING if is_missing(value) else str(value)


def reason_codes_text(codes: Sequence[str]) -> str:
    """``("ORDER_NOTIONAL", "MIS_CUTOFF")`` → ``"[ORDER_NOTIONAL, MIS_CUTOFF]"``."""
    return f"[{', '.join(codes)}]" if codes else ""


Formatter = Callable[[Any], str]

KINDS: dict[str, Formatter] = {
    "inr": inr,
    "inr_signed": lambda v: inr(v, sign=True),
    "money": money,
    "money_signed": lambda v: money(v, sign=True),
    "qty": qty,
    "volume": volume,
    "number": number,
    "pct": pct,
    "signed_pct": signed_pct,
    "fraction_pct": fraction_pct,
    "ist": ist,
    "ist_time": ist_time,
    "date": ist_date,
    "text": text,
    "interval": interval_label,
}


def frame_for_display(df: Any, spec: Mapping[str, str | Formatter], labels: Mapping[str, str] | None = None) -> Any:
    """A copy of ``df`` (a ``pd.DataFrame``) with every cell a display string, for ``st.dataframe``.

    Parameters
    ----------
    df : pd.DataFrame
        Any frame; it is not modified.
    spec : mapping column → kind or callable
        A kind is a key of ``KINDS`` (``"inr"``, ``"money"``, ``"qty"``, ``"volume"``,
        ``"number"``, ``"pct"``, ``"signed_pct"``, ``"fraction_pct"``, ``"ist"``, ``"ist_time"``,
        ``"date"``, ``"text"``, ``"interval"``); a callable takes a cell and returns a string.
        Columns in ``spec`` but not in ``df`` are ignored. Unlisted columns are shown with
        ``text``, so no ``None``/``nan`` cell survives.
    labels : mapping column → header, optional
        Renames columns after formatting (e.g. ``{"ltp": "LTP"}``).

    Raises ``ValidationError`` for an unknown kind (the message lists the known ones).
    Cells become strings, so ``st.dataframe`` sorts those columns as text.
    """
    out = df.copy()
    for column in out.columns:
        out[column] = [_formatter(spec, column)(v) for v in out[column].tolist()]
    if labels:
        out = out.rename(columns=dict(labels))
    return out


def _formatter(spec: Mapping[str, str | Formatter], column: Any) -> Formatter:
    kind = spec.get(column, "text")
    if callable(kind):
        return kind
    if kind not in KINDS:
        raise ValidationError(f"frame_for_display: unknown kind {kind!r} for column {column!r}; "
                              f"use one of {sorted(KINDS)} or a callable")
    return KINDS[kind]


def style_for_display(df: Any, spec: Mapping[str, str | Formatter], labels: Mapping[str, str] | None = None) -> Any:
    """A ``pandas.io.formats.style.Styler`` of ``df`` showing each cell as ``frame_for_display``
    would, over the unchanged values (numbers stay numbers: sortable in ``st.dataframe``).

    ``spec`` and ``labels`` as in :func:`frame_for_display` (``labels`` renames the columns of
    the data first, so ``spec`` may use either name). Raises ``ValidationError`` for an
    unknown kind.
    """
    data = df.rename(columns=dict(labels)) if labels else df
    back = {v: k for k, v in (labels or {}).items()}
    formats = {c: _formatter(spec if c in spec else {c: spec.get(back.get(c, c), "text")}, c)
               for c in data.columns}
    return data.style.format(formats, na_rep=MISSING)
