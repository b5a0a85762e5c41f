"""Every actor module, for the worker process: ``dramatiq workers.actors`` (see the Procfile).

``workers.broker`` is imported first so the broker is installed before any ``@actor`` runs.
Add each new actor module here.
"""

from workers import broker  # noqa: F401  (first: installs the broker)
from workers import alerts, analysis, backfill, notify, reconcile, scans, strategies, sweeps, trading  # noqa: F401
from workers import news  # noqa: F401

__all__ = ["alerts", "analysis", "backfill", "broker", "news", "notify", "reconcile", "scans", "strategies", "sweeps", "trading"]
