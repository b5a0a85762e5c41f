"""Every actor module, for the worker process: ``dramatiq workers.actors`` (see the Procfile).

``workers.broker`` is imported first so the broker is installed before any ``@actor`` runs.
"""

from workers import broker  # noqa: F401  (first: installs the broker)
from workers import backfill, trading  # noqa: F401

__all__ = ["backfill", "broker", "trading"]
