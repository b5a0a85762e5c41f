"""Store fixtures (owned by the store work): a real SQLite file and a real PostgreSQL database.

``store`` is parametrized over both, so a repository test runs on each backend. The PostgreSQL
database is shared by the session; each ``pg_store`` starts from empty tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

from app.adapters.store import SqlStore
from app.adapters.store.schema import metadata

INSTRUMENTS_DUMP = Path(__file__).resolve().parent.parent / "app" / "data" / "nse" / "kite_instruments_NSE_2025-12.csv.gz"
DUMP_DATE = date(2025, 12, 1)


@lru_cache(maxsize=1)
def instrument_rows() -> tuple[dict, ...]:
    """The bundled real Kite instruments dump as Kite-shaped dicts (read once per session)."""
    frame = pd.read_csv(INSTRUMENTS_DUMP, dtype=str, keep_default_na=False)
    return tuple(frame.to_dict("records"))


def seed_instruments(store: SqlStore, symbols: set[str] | None = None) -> SqlStore:
    """Load the bundled dump (or only ``symbols`` of it) into ``store``.

    The test-side seeding; the app seeds through ``InstrumentService.ensure_loaded``.
    """
    rows = instrument_rows()
    if symbols is not None:
        rows = tuple(r for r in rows if r["tradingsymbol"] in symbols)
    store.instruments.replace_dump(rows, DUMP_DATE)
    return store


@pytest.fixture()
def sqlite_store(tmp_path) -> Iterator[SqlStore]:
    """A fresh ``SqlStore`` on a real SQLite file (WAL) in ``tmp_path``."""
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


@pytest.fixture()
def pg_store(postgres_url: str) -> Iterator[SqlStore]:
    """A ``SqlStore`` on the session's real PostgreSQL database, with every table emptied."""
    store = SqlStore(postgres_url)
    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "schema_version":
                conn.execute(table.delete())
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> SqlStore:
    """A fresh store on each backend in turn (SQLite file, real PostgreSQL)."""
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


@pytest.fixture()
def seeded_store(store: SqlStore) -> SqlStore:
    """``store`` with the bundled instruments dump loaded."""
    return seed_instruments(store)
