"""A value shared by every session of the web, rebuilt in the background once it is old.

:class:`BackgroundRefresh` is for a slow read whose result changes rarely (the Sectors page's
closed-session snapshot: a 500-member daily panel). The first read of a key, or a read with a
new key, builds inline; a read of the same key returns the last value at once and, when that is
older than ``max_age_s``, starts one rebuild in a daemon thread whose value the next reads get.
A rebuild that raises keeps the old value (the error is logged). The key carries what makes a
value wrong rather than only old (e.g. the as-of session): a new key never gets the old value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class BackgroundRefresh(Generic[T]):
    """``get(key)`` → the value ``build(key)`` returned for ``key`` (see the module docstring).

    ``build`` may raise; an inline build's exception reaches the caller of :meth:`get`.
    Thread-safe.
    """

    def __init__(self, build: Callable[[Hashable], T], max_age_s: float) -> None:
        self._build = build
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._key: Hashable | None = None
        self._value: T | None = None
        self._built_at = 0.0
        self._refreshing = False

    def get(self, key: Hashable) -> T:
        with self._lock:
            if self._value is not None and self._key == key:
                if time.monotonic() - self._built_at > self.max_age_s and not self._refreshing:
                    self._refreshing = True
                    threading.Thread(target=self._rebuild, args=(key,), name="ui-refresh", daemon=True).start()
                return self._value
        value = self._build(key)
        self._store(key, value)
        return value

    def clear(self) -> None:
        """Forget the value: the next :meth:`get` builds inline."""
        with self._lock:
            self._key, self._value = None, None

    def _store(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._key, self._value, self._built_at = key, value, time.monotonic()

    def _rebuild(self, key: Hashable) -> None:
        try:
            self._store(key, self._build(key))
        except Exception:  # noqa: BLE001 — keep serving the last value; the next stale read tries again
            log.exception("background refresh of %r failed", key)
        finally:
            with self._lock:
                self._refreshing = False
