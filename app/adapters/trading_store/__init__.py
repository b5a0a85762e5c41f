"""The paper desk's SQL store: ``TradingStore(engine)`` (tables in ``schema``)."""

from app.adapters.trading_store.schema import metadata
from app.adapters.trading_store.store import TradingStore

__all__ = ["TradingStore", "metadata"]
