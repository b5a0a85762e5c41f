"""InstrumentService resolves a few exact keys and tokens one store row at a time (the ticker's
watchlist, ~14 MB less than indexing the 8,725-row master) and indexes the master for anything
more; the answers are the index's either way. Real SQLite store, the bundled Kite dump."""

from __future__ import annotations

import pytest

from app.adapters.store import SqlStore
from app.market.instruments import FEW_LOOKUPS, InstrumentService
from core.errors import ValidationError
from tests.fixtures_store import seed_instruments

KEYS = ["NSE:INFY", "nse:reliance", "NIFTY 50", "NSE:M&M", "TCS"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> SqlStore:
    return seed_instruments(SqlStore(f"sqlite:///{tmp_path_factory.mktemp('few') / 'store.db'}"))


def test_a_few_keys_and_tokens_are_read_without_indexing_the_master(store):
    few, indexed = InstrumentService(store), InstrumentService(store)
    got = few.resolve_many(KEYS) + [few.by_token(408065), few.resolve(256265)]
    assert few._index is None and len(few._few) == len(KEYS) + 2
    indexed.count()  # builds the index: the peer answers from it
    expected = [indexed.resolve(k) for k in KEYS] + [indexed.by_token(408065), indexed.resolve(256265)]
    assert not indexed._few and got == expected


def test_an_unknown_key_builds_the_index_and_names_close_matches(store):
    svc = InstrumentService(store)
    with pytest.raises(ValidationError, match="did you mean"):
        svc.resolve("INFYY")
    assert svc._index is not None


def test_a_long_list_reads_the_master_once(store):
    svc = InstrumentService(store)
    symbols = [i.key for i in svc._repo.all()[: FEW_LOOKUPS + 1]]
    assert [i.key for i in svc.resolve_many(symbols)] == symbols
    assert svc._index is not None and not svc._few


def test_invalidate_forgets_the_rows_read(store):
    svc = InstrumentService(store)
    svc.resolve("NSE:INFY")
    svc.invalidate()
    assert not svc._few and svc.resolve("NSE:INFY").instrument_token == 408065
