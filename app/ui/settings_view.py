"""The Settings page's table of effective settings: what the desk runs with, and the variable
that sets each. Secrets (API keys, notification URLs, database URLs) are never shown: only
whether they are set.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import streamlit as st

from app.market.watch_view import REPLAY_LAST_SESSION
from app.settings import Settings
from app.ui.formatting import inr, ist_date


@dataclass(frozen=True, slots=True)
class SettingRow:
    """One line of the table: ``section`` (Trading, Replay …), ``setting``, ``value`` as shown,
    ``variable`` the environment variable that sets it."""

    section: str
    setting: str
    value: str
    variable: str


def _yes(flag: bool) -> str:
    return "on" if flag else "off"


def _num(value: Decimal | float) -> str:
    """``5`` not ``5.00``, ``0.5`` not ``0.50``."""
    return f"{Decimal(str(value)).normalize():f}"


def trading_rows(settings: Settings) -> list[SettingRow]:
    """The trading section (``settings.trading``), in the order a trader reads it."""
    t = settings.trading
    age = "any age" if t.max_tick_age_seconds is None else f"{_num(t.max_tick_age_seconds)} s"
    rows = [
        ("Capital", inr(t.capital, decimals=0), "DESK_CAPITAL"),
        ("MIS leverage", f"{_num(t.mis_leverage)}×", "DESK_MIS_LEVERAGE"),
        ("Slippage (no depth)", f"{_num(t.slippage_bps)} bps", "DESK_SLIPPAGE_BPS"),
        ("Partial fills", _yes(t.partial_fills), "DESK_PARTIAL_FILLS"),
        ("Max price drift on approve", f"{_num(t.max_drift_bps)} bps", "DESK_MAX_DRIFT_BPS"),
        ("Approval TTL", f"{t.approval_ttl_seconds} s", "DESK_APPROVAL_TTL_SECONDS"),
        ("Confirm approvals above", inr(t.confirm_notional, decimals=0), "DESK_CONFIRM_NOTIONAL"),
        ("MIS square-off cut-off", f"{t.square_off_cutoff:%H:%M} IST", "DESK_SQUARE_OFF_CUTOFF"),
        ("Square-off fee (₹50 + GST)", _yes(t.square_off_fee), "DESK_SQUARE_OFF_FEE"),
        ("Circuit band", "quote's circuit limits, else NSE dynamic range (10 %, flexed 5 %)", "—"),
        ("Max tick age to approve or fill", age, "DESK_MAX_TICK_AGE_SECONDS"),
    ]
    return [SettingRow("Trading", *row) for row in rows]


def replay_rows(settings: Settings) -> list[SettingRow]:
    """Replay date and speed (used when ``KITE_API_KEY`` is unset)."""
    note = "" if settings.market == "replay" else " (unused: Kite mode)"
    day = settings.replay_date or f"latest recorded session ({ist_date(REPLAY_LAST_SESSION)})"
    return [
        SettingRow("Replay", "Session date", day + note, "DESK_REPLAY_DATE"),
        SettingRow("Replay", "Speed", f"{_num(settings.replay_speed)}× real time" + note, "DESK_REPLAY_SPEED"),
    ]


def other_rows(settings: Settings) -> list[SettingRow]:
    """Sign-in, analysis, notifications and logging; secrets only as set / not set."""
    a, n = settings.analysis, settings.notifications
    required = "required" if settings.auth.required else "not required"
    return [
        SettingRow("Sign-in", "Mode", f"{settings.auth.mode} ({required})", "DESK_AUTH"),
        SettingRow("Analysis", "Gemini key", "set" if settings.gemini_api_key else "not set (offline analyst)",
                   "GEMINI_API_KEY"),
        SettingRow("Analysis", "Gemini model", a.model, "DESK_GEMINI_MODEL"),
        SettingRow("Analysis", "Daily budget", inr(a.daily_budget_inr), "DESK_ANALYSIS_DAILY_BUDGET_INR"),
        SettingRow("Notifications", "Channels", "configured" if n.urls else "none", "DESK_NOTIFY_URLS"),
        SettingRow("Notifications", "Dedupe window", f"{n.dedupe_seconds} s", "DESK_NOTIFY_DEDUPE_SECONDS"),
        SettingRow("Logging", "Level / format", f"{settings.logging.level} / {settings.logging.format}",
                   "DESK_LOG_LEVEL, DESK_LOG_FORMAT"),
    ]


def settings_table(settings: Settings) -> pd.DataFrame:
    """Columns ``Section``, ``Setting``, ``Value``, ``Variable`` (all ``str``), one row per setting."""
    rows = trading_rows(settings) + replay_rows(settings) + other_rows(settings)
    return pd.DataFrame([(r.section, r.setting, r.value, r.variable) for r in rows],
                        columns=["Section", "Setting", "Value", "Variable"])


def capital_warning(configured: Decimal, ledger: Decimal) -> str | None:
    """A sentence when the paper account's opening capital (the ledger's, ₹) is not
    ``DESK_CAPITAL`` (₹): the capital is written once, when the account opens. ``None`` if equal."""
    if configured.quantize(Decimal("0.01")) == ledger.quantize(Decimal("0.01")):
        return None
    return (f"The paper account opened with {inr(ledger, decimals=0)} but DESK_CAPITAL is now "
            f"{inr(configured, decimals=0)}. The capital is written once, as the ledger's opening entry; "
            "start a fresh account (a new database) to trade with the new amount.")


def render_effective_settings(settings: Settings, ledger_capital: Decimal | None = None) -> None:
    """The "Effective settings" block of the Settings page; ``ledger_capital`` ₹ (the account's
    opening capital, ``None`` when unknown) adds a warning when it differs from ``DESK_CAPITAL``."""
    st.subheader("Effective settings")
    st.caption("Set by environment variables (or a local .env); restart the desk's processes to change "
               "them. The README's Configuration table lists every variable and its allowed range.")
    warning = capital_warning(settings.trading.capital, ledger_capital) if ledger_capital is not None else None
    if warning:
        st.warning(warning)
    st.dataframe(settings_table(settings), hide_index=True, width="stretch")
