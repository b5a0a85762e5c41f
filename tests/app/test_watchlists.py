"""WatchlistService over a real store (SQLite and PostgreSQL) with the bundled instruments."""

from __future__ import annotations

import pytest

from app.market.instruments import InstrumentService
from app.market.watchlists import WatchlistService
from app.settings import DEFAULT_WATCHLIST
from core.errors import ValidationError
from tests.fixtures_store import seed_instruments


#: Enough of the real master for these tests (seeding all 8,725 rows per test is slow on PostgreSQL).
SYMBOLS = {k.split(":", 1)[1] for k in DEFAULT_WATCHLIST} | {"WIPRO", "HDFCBANK", "SBIN", "TCS"}


@pytest.fixture()
def seeded_store(store):
    return seed_instruments(store, SYMBOLS)


@pytest.fixture()
def watchlists(seeded_store) -> WatchlistService:
    return WatchlistService(seeded_store, InstrumentService(seeded_store), default=list(DEFAULT_WATCHLIST))


def test_keys_first_use_seeds_default_watchlist(watchlists, seeded_store):
    assert not seeded_store.watchlists.exists("default")
    assert watchlists.keys() == list(DEFAULT_WATCHLIST)
    assert seeded_store.watchlists.get("default") == list(DEFAULT_WATCHLIST)


def test_tokens_follow_key_order(watchlists):
    tokens = watchlists.tokens()
    assert len(tokens) == len(DEFAULT_WATCHLIST)
    assert tokens[:1] == [738561] and 408065 in tokens and tokens[-2:] == [256265, 259849]


def test_add_canonicalises_key_and_ignores_duplicate(watchlists):
    assert watchlists.add("wipro") is True
    assert watchlists.keys()[-1] == "NSE:WIPRO"
    assert watchlists.add("NSE:WIPRO") is False
    assert watchlists.keys().count("NSE:WIPRO") == 1


def test_add_unknown_symbol_raises_naming_it_and_changes_nothing(watchlists):
    before = watchlists.keys()
    with pytest.raises(ValidationError, match="'NSE:WIPROO'.*NSE:WIPRO"):
        watchlists.add("WIPROO")
    assert watchlists.keys() == before


def test_remove_existing_and_missing(watchlists):
    assert watchlists.remove("infy") is True
    assert "NSE:INFY" not in watchlists.keys()
    assert watchlists.remove("INFY") is False


def test_remove_everything_does_not_reseed_default(watchlists):
    for key in watchlists.keys():
        watchlists.remove(key)
    assert watchlists.keys() == []
    assert watchlists.tokens() == []


def test_replace_validates_all_and_dedupes(watchlists):
    assert watchlists.replace(["tcs", "NSE:TCS", "sbin"]) == ["NSE:TCS", "NSE:SBIN"]
    assert watchlists.keys() == ["NSE:TCS", "NSE:SBIN"]
    with pytest.raises(ValidationError, match="NSE:NOPE"):
        watchlists.replace(["INFY", "NOPE"])
    assert watchlists.keys() == ["NSE:TCS", "NSE:SBIN"]


def test_named_watchlist_starts_empty_and_is_independent(watchlists):
    assert watchlists.keys("banks") == []
    watchlists.add("HDFCBANK", name="banks")
    assert watchlists.keys("banks") == ["NSE:HDFCBANK"]
    assert "NSE:HDFCBANK" in watchlists.keys()  # default untouched (seeded with it)
    assert watchlists.names() == ["banks", "default"]
