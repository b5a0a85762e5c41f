"""Strategy actors: ``run_backtest(run_id)`` (queue ``backtests``), a thin wrapper over
``BacktestService.run`` — progress is written to the run row, the result and ``complete`` in
one transaction; a complete run is a no-op on redelivery. Bad input (``ValidationError``:
no bars, unknown run) marks the run failed and is not retried.

The live runner is *not* an actor: it is a long-lived process, ``python -m
workers.strategy_runner`` (see that module for why).
"""

from __future__ import annotations

import dramatiq

from workers import broker as _broker  # noqa: F401  (first: installs the broker before @actor)

from app.container import services
from app.research.backtests import ACTOR, QUEUE
from core.errors import ValidationError


@dramatiq.actor(queue_name=QUEUE, actor_name=ACTOR, max_retries=2, time_limit=30 * 60 * 1000,
                throws=(ValidationError,))
def run_backtest(run_id: str) -> None:
    services().backtests.run(run_id)
