"""Named watchlists of instrument keys, validated against the instruments master."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from app.adapters.store.ports import WatchlistRepository
from app.market.instruments import InstrumentService
from core.errors import ValidationError
from core.models import Instrument
from core.text_caps import NAME_MAX_CHARS
from core.validation import require_str_list, require_text

DEFAULT_NAME = "default"
#: the most instruments one watchlist holds (Kite's own watchlists hold 100 each)
MAX_KEYS = 250


def _name(name: object) -> str:
    return require_text("watchlist name", name, cap=NAME_MAX_CHARS)


def _key(key: object) -> str:
    return require_text("instrument key", key, cap=NAME_MAX_CHARS)


class _HasWatchlists(Protocol):
    watchlists: WatchlistRepository


class WatchlistService:
    """Watchlists as ordered canonical keys (``"NSE:INFY"``); the ``default`` one is seeded
    with ``default`` (the settings' ``DESK_WATCHLIST``) the first time it is read.

    Every key is resolved through ``instruments``: an unknown symbol raises
    ``ValidationError`` naming it (with close matches) and nothing is changed. Every method
    also refuses (``ValidationError``, nothing changed) a name or key that is not text or is over
    64 characters, and a key list given as one string or longer than ``MAX_KEYS`` (250).
    """

    def __init__(self, store: _HasWatchlists, instruments: InstrumentService, default: Sequence[str]) -> None:
        self._repo = store.watchlists
        self._instruments = instruments
        self._default = list(default)
        self._lock = threading.RLock()

    def keys(self, name: str = DEFAULT_NAME) -> list[str]:
        """The keys of ``name`` in order. ``default`` is seeded on first use; others start empty."""
        name = _name(name)
        if name == DEFAULT_NAME and not self._repo.exists(name):
            with self._lock:
                if not self._repo.exists(name):
                    self._repo.replace(name, self._canonical(self._default))
        return self._repo.get(name)

    def instruments(self, name: str = DEFAULT_NAME) -> list[Instrument]:
        """The ``core.models.Instrument`` of each key, in order."""
        return self._instruments.resolve_many(self.keys(name))

    def tokens(self, name: str = DEFAULT_NAME) -> list[int]:
        """The instrument_token of each key, in order."""
        return [i.instrument_token for i in self.instruments(name)]

    def add(self, key: str, name: str = DEFAULT_NAME) -> bool:
        """Append ``key`` (any form ``resolve`` accepts). Returns False if it was already there."""
        name, key = _name(name), _key(key)
        canonical = self._instruments.resolve(key).key
        with self._lock:
            current = self.keys(name)
            if canonical in current:
                return False
            if len(current) >= MAX_KEYS:
                raise ValidationError(f"watchlist {name!r} already holds {MAX_KEYS} instruments, the limit; remove one first")
            self._repo.replace(name, [*current, canonical])
        return True

    def remove(self, key: str, name: str = DEFAULT_NAME) -> bool:
        """Remove ``key``. Returns False (a no-op) if it was not in the list."""
        name, key = _name(name), _key(key)
        try:
            canonical = self._instruments.resolve(key).key
        except ValidationError:
            canonical = key  # a key the master no longer knows can still be removed
        with self._lock:
            current = self.keys(name)
            if canonical not in current:
                return False
            self._repo.replace(name, [k for k in current if k != canonical])
        return True

    def replace(self, keys: Iterable[str], name: str = DEFAULT_NAME) -> list[str]:
        """Make ``keys`` the whole list (duplicates dropped, order kept); return the stored keys."""
        name = _name(name)
        keys = require_str_list("keys", keys, max_items=MAX_KEYS, item_cap=NAME_MAX_CHARS, allow_empty=True)
        canonical = self._canonical(keys)
        self._repo.replace(name, canonical)
        return canonical

    def names(self) -> list[str]:
        self.keys(DEFAULT_NAME)
        return self._repo.names()

    def _canonical(self, keys: Iterable[str]) -> list[str]:
        out: list[str] = []
        for inst in self._instruments.resolve_many(list(keys)):
            if inst.key not in out:
                out.append(inst.key)
        return out
