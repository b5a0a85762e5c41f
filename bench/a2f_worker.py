"""The worker module ``bench/approval_to_fill.py`` runs (``dramatiq bench.a2f_worker``):
``workers.trading``'s actors, unchanged, plus stage timing written as one JSON line per
processed message to the file ``A2F_TIMINGS`` names.

Each line: ``approval_id``; ``dequeued`` (the worker thread took the message), ``ordered``
(the order row was stored), ``filled`` (the fill transaction returned, committed), ``done`` (the
actor returned), all wall-clock seconds (``time.time()``, comparable with the bench process on
the same machine); ``commits``: the ``[body_done, committed]`` wall times of every
``TradingStore._tx`` transaction of the message (the order's; on SQLite the fill's too; on
PostgreSQL the fill's COMMIT is pipelined with its statements, ``pg_pipeline``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager

import dramatiq
from dramatiq.middleware import Middleware

import workers.trading  # noqa: F401  (the actors, on the broker ``workers.broker`` installs)
from app.adapters.trading_store.store import TradingStore

_OUT = os.environ["A2F_TIMINGS"]
_write = threading.Lock()
_current = threading.local()


def _record() -> dict | None:
    return getattr(_current, "record", None)


class StageTimes(Middleware):
    """Stamps each message's dequeue and completion; appends the record to ``A2F_TIMINGS``."""

    def before_process_message(self, broker, message) -> None:
        _current.record = {"approval_id": message.kwargs.get("approval_id"), "dequeued": time.time(), "commits": []}

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        record, _current.record = _record(), None
        if record is None:
            return
        record["done"], record["failed"] = time.time(), exception is not None
        with _write, open(_OUT, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


_tx, _place_order, _apply_fill = TradingStore._tx, TradingStore.place_order, TradingStore.apply_fill


@contextmanager
def _timed_tx(self):
    with _tx(self) as conn:
        yield conn
        body_done = time.time()
    record = _record()
    if record is not None:
        record["commits"].append([body_done, time.time()])


def _timed_place_order(self, row, audit=None):
    stored = _place_order(self, row, audit)
    record = _record()
    if record is not None:
        record["ordered"] = time.time()
    return stored


def _timed_apply_fill(self, fill, **kwargs):
    stored = _apply_fill(self, fill, **kwargs)
    record = _record()
    if record is not None and stored:
        record["filled"] = time.time()
    return stored


TradingStore._tx = _timed_tx
TradingStore.place_order = _timed_place_order
TradingStore.apply_fill = _timed_apply_fill
dramatiq.get_broker().add_middleware(StageTimes())
