"""Backtests on the paper desk's own broker, charges, risk and portfolio (see ``engine``)."""

from core.backtest.engine import (
    BacktestConfig,
    BacktestResult,
    InstrumentBars,
    backfilled_schedules,
    fills_frame,
    run_backtest,
)
from core.backtest.metrics import compute_metrics, daily_returns, round_trips

__all__ = ["BacktestConfig", "BacktestResult", "InstrumentBars", "backfilled_schedules", "compute_metrics",
           "daily_returns", "fills_frame", "round_trips", "run_backtest"]
