"""The desk's retry rule for every Dramatiq actor, in one middleware.

Dramatiq's ``Retries`` retries any exception not listed in an actor's ``throws=``.
:class:`DeskRetries` adds the desk's rule (``core.errors.is_retryable``): a ``TemporaryError``
(Kite down or rate-limited, the store or Redis unreachable) and an unexpected error (a bug, a
time limit) are retried with the actor's backoff up to its ``max_retries``; any other
``DeskError`` (``ValidationError``, ``ConflictError``, a missing Kite login…) fails the
message at once, as if it were in ``throws=``, because a retry cannot fix it.
"""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import Retries

from core.errors import is_retryable


class DeskRetries(Retries):
    """``Retries`` that never retries a permanent ``DeskError`` (see the module docstring)."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is not None and not is_retryable(exception):
            self.logger.info("Not retrying message %r: %s is permanent.", message.message_id,
                             type(exception).__name__)
            message.fail()
            return
        super().after_process_message(broker, message, result=result, exception=exception)


def install_desk_retries(broker: dramatiq.Broker) -> dramatiq.Broker:
    """Replace ``broker``'s ``Retries`` middleware with :class:`DeskRetries` (same defaults); returns it."""
    for i, middleware in enumerate(broker.middleware):
        if type(middleware) is Retries:
            broker.middleware[i] = DeskRetries(max_retries=middleware.max_retries,
                                               min_backoff=middleware.min_backoff,
                                               max_backoff=middleware.max_backoff,
                                               retry_when=middleware.retry_when)
    return broker
