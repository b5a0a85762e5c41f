"""Sweep actor: ``run_sweep_run(sweep_id, run_no)`` (queue ``backtests``), one backtest of a
parameter sweep or walk-forward, a thin wrapper over ``SweepService.run``: it claims the run in
the store (a run of a cancelled sweep, or one already finished by a redelivered twin, is
skipped), runs it and stores its metrics; the last fit run of a walk-forward window sends that
window's test run. Any number of worker processes take these messages.
"""

from __future__ import annotations

import dramatiq

from workers import broker as _broker  # noqa: F401  (first: installs the broker before @actor)

from app.container import services
from app.research.sweeps import ACTOR, QUEUE
from core.errors import ValidationError


@dramatiq.actor(queue_name=QUEUE, actor_name=ACTOR, max_retries=2, time_limit=30 * 60 * 1000,
                throws=(ValidationError,))
def run_sweep_run(sweep_id: str, run_no: int) -> str:
    return services().sweeps.run(sweep_id, int(run_no))
