"""Fixtures and builders for the paper-desk tests (owned by the trading work).

``desk``: a real ``TradingService`` on a SQLite file (or PostgreSQL via ``desk_on``), the
bundled instruments, and a real Redis ``TickCache`` that tests write full-mode ticks into with
:func:`put_tick`. Execution is in-process (``tasks=None``) unless a test passes a queue.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from app.adapters.store import SqlStore
from app.adapters.tick_cache import TickCache
from app.adapters.trading_store import TradingStore
from app.adapters.trading_store.schema import metadata as trading_metadata
from app.market.instruments import InstrumentService
from app.trading.service import TradingService
from app.trading.config import TradingConfig
from core import kite_wire
from core.models import DepthLevel, Tick
from core.orders import OrderIntent, OrderType, Product, Side
from core.tick_batch import decode_frame
from core.timeutil import IST
from tests.fixtures_store import instrument_rows, seed_instruments

D = Decimal
INFY = 408065  # tick 0.10
SBIN = 779521  # tick 0.05
#: A regular NSE session day of the bundled replay data (Wednesday).
T0 = datetime(2016, 8, 17, 10, 0, tzinfo=IST)


def put_tick(cache: TickCache, token: int, ltp: float, *, at: datetime = T0, close: float | None = None,
             depth: bool = True, spread: float = 0.1, qty: int = 10_000) -> Tick:
    """Write one full-mode tick (5-level depth) for ``token`` into the real Redis cache."""
    # best bid = LTP, best ask = LTP + spread (then one spread per level)
    bids = tuple(DepthLevel(round(ltp - spread * i, 2), qty, 3) for i in range(5)) if depth else ()
    asks = tuple(DepthLevel(round(ltp + spread * (i + 1), 2), qty, 3) for i in range(5)) if depth else ()
    tick = Tick(instrument_token=token, last_price=ltp, mode="full", last_traded_quantity=1, volume_traded=1000,
                open=ltp, high=ltp, low=ltp, close=close if close is not None else ltp,
                last_trade_time=at, exchange_timestamp=at, bids=bids, asks=asks)
    frame = kite_wire.encode_frame([kite_wire.encode_packet(tick, "full")])
    cache.write_frame(decode_frame(frame), at)
    return tick


def intent(token: int = INFY, symbol: str = "INFY", side: Side = Side.BUY, qty: int = 10,
           product: Product = Product.MIS, order_type: OrderType = OrderType.MARKET, **kw) -> OrderIntent:
    return OrderIntent(token, symbol, side, qty, product, order_type, **kw)


@dataclass
class Desk:
    svc: TradingService
    store: TradingStore
    ticks: TickCache
    sql: SqlStore

    def tick(self, token: int, ltp: float, **kw) -> Tick:
        return put_tick(self.ticks, token, ltp, **kw)

    def ledger_snapshot(self) -> tuple:
        return (tuple((r["entry_id"], r["amount"]) for r in self.store.ledger_entries()),
                tuple((r["instrument_token"], r["product"], r["quantity"], r["cost"]) for r in self.store.positions()),
                self.store.count_fills())


_INSTRUMENTS: dict[str, InstrumentService] = {}
#: This process's seeded SQLite template (``_from_template``), made on first use.
_TEMPLATE: list[Path] = []


def _from_template(path: Path) -> None:
    """Fill the new SQLite file ``path`` with a copy of a template seeded once per process (the
    bundled instruments, the store's and the trading tables): seeding the dump into every new
    desk cost about a second each."""
    if not _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="paperdesk-desk-template-")) / "desk.db"
        sql = SqlStore(f"sqlite:///{template}")
        seed_instruments(sql)
        TradingStore(sql.engine)
        sql.dispose()
        _TEMPLATE.append(template)
    with closing(sqlite3.connect(_TEMPLATE[0])) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)


def make_desk(url: str, redis_url: str, *, tasks=None, config: TradingConfig | None = None) -> Desk:
    """A ``Desk`` on the store at ``url``; a new SQLite file starts as a copy of the seeded template."""
    from app.adapters.calendar_source import load_nse_calendar

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        _from_template(Path(url.removeprefix("sqlite:///")))
    sql = SqlStore(url)
    if sql.instruments.count() != len(instrument_rows()):  # empty, or a part another test seeded
        seed_instruments(sql)
    ts = TradingStore(sql.engine)
    cache = TickCache(redis.Redis.from_url(redis_url))
    svc = TradingService(None, ts, InstrumentService(sql), cache, tasks, calendar=load_nse_calendar(),
                         config=config or TradingConfig(slippage_bps=D(0)))
    return Desk(svc, ts, cache, sql)


@pytest.fixture()
def desk(tmp_path, redis_url) -> Iterator[Desk]:
    d = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url)
    yield d
    d.sql.dispose()


def clear_trading_tables(url: str) -> None:
    """Create the trading tables in the store at ``url`` if missing, then empty every one."""
    sql = SqlStore(url)
    TradingStore(sql.engine)
    with sql.engine.begin() as conn:
        for table in reversed(trading_metadata.sorted_tables):
            conn.execute(table.delete())
    sql.dispose()


@pytest.fixture()
def pg_desk(postgres_url, redis_url) -> Iterator[Desk]:
    clear_trading_tables(postgres_url)
    d = make_desk(postgres_url, redis_url)
    yield d
    d.sql.dispose()


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
