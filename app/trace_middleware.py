"""The Dramatiq side of the trace id (``app.logging_setup``'s module docstring): a middleware
that sets the trace id from a message while its actor runs and stamps it onto messages
enqueued without one. Re-exported by ``app.logging_setup`` on first use."""

from __future__ import annotations

import contextvars
from typing import Any

from dramatiq.middleware import Middleware

from app import logging_setup
from app.logging_setup import _message_var, configure_logging, trace_id_of, trace_id_var


class TraceIdMiddleware(Middleware):
    """Carries the trace id through Dramatiq (see the module docstring)."""

    def __init__(self, configure_worker_logging: bool = True) -> None:
        self.configure_worker_logging = configure_worker_logging
        self._tokens: dict[str, tuple[contextvars.Token, contextvars.Token]] = {}

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        current = trace_id_var.get()
        if current and not trace_id_of(message):
            message.options["trace_id"] = current

    def before_process_message(self, broker: Any, message: Any) -> None:
        # Each worker thread has its own context, so set/reset per message is thread-safe.
        self._tokens[message.message_id] = (trace_id_var.set(trace_id_of(message)),
                                            _message_var.set((message.message_id, message.actor_name)))

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        tokens = self._tokens.pop(message.message_id, None)
        if tokens is not None:
            trace_id_var.reset(tokens[0])
            _message_var.reset(tokens[1])

    after_skip_message = after_process_message

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        if self.configure_worker_logging and logging_setup._configured is None:
            configure_logging("worker")


def install_trace_middleware(broker: Any) -> TraceIdMiddleware:
    """Add a :class:`TraceIdMiddleware` to ``broker`` unless it has one; return it."""
    for m in broker.middleware:
        if isinstance(m, TraceIdMiddleware):
            return m
    middleware = TraceIdMiddleware()
    broker.add_middleware(middleware)
    return middleware



__all__ = ["TraceIdMiddleware", "install_trace_middleware"]
