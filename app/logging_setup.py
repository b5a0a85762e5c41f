"""Structured JSON logs, one object per line, carrying the trace id (DESIGN §1: one trace id
follows work from scan to fill).

* :func:`configure_logging` ``(process_name)``: call once at the start of each process (web,
  worker, ticker, clock). Every record becomes one JSON line with ``ts`` (ISO-8601 UTC),
  ``level``, ``process`` (the name given), ``pid``, ``logger``, ``msg``, ``trace_id`` (``""``
  when none), ``message_id`` / ``actor`` inside a Dramatiq actor, ``exc`` (the traceback) and
  any ``extra={...}`` fields. Level from ``DESK_LOG_LEVEL`` (default INFO); ``DESK_LOG_FORMAT=text``
  keeps human-readable lines for local work.
* :data:`trace_id_var` is the current trace id (a ``contextvars.ContextVar``); set it for a
  block with :func:`trace_context`.
* :class:`TraceIdMiddleware`: a Dramatiq middleware that sets the trace id from the
  message's ``options["trace_id"]`` or ``kwargs["trace_id"]`` while the actor runs, and stamps
  the current trace id onto messages enqueued without one (so an actor sending another
  carries it along). In worker processes it also calls ``configure_logging("worker")``.

Secrets never reach the logs from here: only the record's message and declared extras are
written (settings hold secrets as ``SecretStr``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

#: The current trace id ("" when none).
trace_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("desk_trace_id", default="")
_message_var: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("desk_message", default=("", ""))

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_configured: str | None = None


@contextmanager
def trace_context(trace_id: str | None) -> Iterator[str]:
    """Set the trace id for the ``with`` block (restored afterwards); yields it."""
    token = trace_id_var.set(trace_id or "")
    try:
        yield trace_id or ""
    finally:
        trace_id_var.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``trace_id``, ``message_id``, ``actor`` and ``process_name`` to every record."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self.process_name = process_name

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "trace_id", ""):
            record.trace_id = trace_id_var.get()
        message_id, actor = _message_var.get()
        record.message_id = getattr(record, "message_id", "") or message_id
        record.actor = getattr(record, "actor", "") or actor
        record.process_name = self.process_name
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": getattr(record, "process_name", ""),
            "pid": record.process,
            "logger": record.name,
            "msg": record.getMessage(),
            "trace_id": getattr(record, "trace_id", "") or trace_id_var.get(),
        }
        for key in ("message_id", "actor"):
            if getattr(record, key, ""):
                out[key] = getattr(record, key)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and key not in ("process_name", "trace_id", "message_id", "actor"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(process_name)s[%(process)d] %(name)s [%(trace_id)s]: %(message)s"


def configure_logging(process_name: str, *, level: str | int | None = None, stream: Any = None,
                      fmt: str | None = None) -> logging.Logger:
    """Make every log record of this process a JSON line tagged with ``process_name``.

    Existing root handlers (the Dramatiq CLI's pipe to its parent, Streamlit's) are kept and
    given the JSON formatter; with none, one ``StreamHandler`` on ``stream`` (stderr) is
    added. Idempotent. ``level`` defaults to ``settings.logging.level`` (``DESK_LOG_LEVEL``, INFO);
    ``fmt`` to ``settings.logging.format`` (``DESK_LOG_FORMAT``, ``json`` or ``text``). Raises
    ``ValidationError`` when those variables hold something else. Returns the root logger.
    """
    global _configured
    root = logging.getLogger()
    if level is None or fmt is None:
        from app.settings import get_settings

        configured = get_settings().logging
        level = level or configured.level
        fmt = fmt or configured.format
    root.setLevel(level.upper() if isinstance(level, str) else level)
    fmt = fmt.lower()
    formatter: logging.Formatter = JsonFormatter() if fmt != "text" else logging.Formatter(TEXT_FORMAT)
    if not root.handlers or stream is not None:
        if stream is not None:
            for h in list(root.handlers):
                if getattr(h, "_desk", False):
                    root.removeHandler(h)
        handler = logging.StreamHandler(stream or sys.stderr)
        handler._desk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for handler in root.handlers:
        handler.setFormatter(formatter)
        handler.filters = [f for f in handler.filters if not isinstance(f, ContextFilter)]
        handler.addFilter(ContextFilter(process_name))
    _configured = process_name
    return root


def configured_as() -> str | None:
    """The process name given to :func:`configure_logging`, or ``None``."""
    return _configured


def trace_id_of(message: Any) -> str:
    """The trace id a Dramatiq message carries (``options`` first, then ``kwargs``)."""
    options = getattr(message, "options", None) or {}
    kwargs = getattr(message, "kwargs", None) or {}
    return str(options.get("trace_id") or kwargs.get("trace_id") or "")


def __getattr__(name: str) -> Any:
    """``TraceIdMiddleware`` and ``install_trace_middleware`` live in ``app.trace_middleware``
    (they load Dramatiq): imported on first use, so a process without a queue (the ticker) never
    loads it."""
    if name in ("TraceIdMiddleware", "install_trace_middleware"):
        from app import trace_middleware

        return getattr(trace_middleware, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ContextFilter", "JsonFormatter", "TraceIdMiddleware", "configure_logging", "install_trace_middleware",
           "trace_context", "trace_id_of", "trace_id_var"]
