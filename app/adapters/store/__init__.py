"""The SQL store: ``SqlStore(url)`` with repository attributes (see ``ports`` for the interfaces)."""

from app.adapters.store.ports import (
    BarRepository,
    InstrumentRepository,
    Job,
    JobRepository,
    JobStatus,
    WatchlistRepository,
)
from app.adapters.store.sql import SqlStore, make_engine

__all__ = [
    "BarRepository", "InstrumentRepository", "Job", "JobRepository", "JobStatus", "SqlStore",
    "WatchlistRepository", "make_engine",
]
