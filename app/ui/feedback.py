"""Showing what happened: store/Redis outages as warnings, action outcomes, flash messages.

``guarded`` turns an infrastructure failure into one ``st.warning`` naming what is down, so a
page keeps rendering; ``ValidationError`` (bad input) is re-raised for the page's ``st.error``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from app.trading.views import ActionOutcome
from app.ui.formatting import reason_codes_text
from core.errors import DeskError, ValidationError

T = TypeVar("T")


def _infra_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DeskError, OSError, ConnectionError, TimeoutError]
    try:
        import redis

        errors.append(redis.RedisError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from sqlalchemy.exc import SQLAlchemyError

        errors.append(SQLAlchemyError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


#: What a store, Redis or network outage can raise on its way to a page.
INFRA_ERRORS = _infra_errors()


def infra_message(exc: BaseException) -> str:
    """The first line of ``exc`` (or its type name), at most 300 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def guarded(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``fn``; on a store/Redis failure show ``st.warning`` naming ``what`` and return None.

    ``ValidationError`` is bad input and is re-raised for the caller to show with ``st.error``.
    """
    try:
        return fn(*args, **kwargs)
    except ValidationError:
        raise
    except INFRA_ERRORS as exc:
        st.warning(f"{what} is unavailable right now: {infra_message(exc)}", icon=":material/warning:")
        return None


def show_outcome(outcome: ActionOutcome, success: str | None = None) -> None:
    """Render an ``ActionOutcome``: success, a reported no-op, or a refusal with its codes."""
    level, text = outcome_flash(outcome, success or outcome.message)
    getattr(st, level)(text)


def outcome_flash(outcome: ActionOutcome, success: str) -> tuple[str, str]:
    """``(level, text)`` for a flash message shown after ``st.rerun()``."""
    if outcome.ok:
        return "success", success
    if outcome.noop:
        return "info", f"Nothing to do: {outcome.message} {reason_codes_text(outcome.reasons)}"
    return "error", f"Refused {reason_codes_text(outcome.reasons)}: {outcome.message}"


def show_flash(key: str) -> None:
    """Pop and show a flash message stored as ``(level, text)`` or a list of them."""
    flash = st.session_state.pop(key, None)
    if not flash:
        return
    items = flash if isinstance(flash, list) else [flash]
    for level, text in items:
        getattr(st, level)(text)
