"""Resolve what a trader types (``"INFY"``, ``"nse:infy"``, ``"NIFTY 50"``) to Kite instruments.

The instruments master lives in the store; this service keeps an in-memory index of it
(built once per process, rebuilt after a refresh) so that resolving a NIFTY 500 list is a
few dictionary look-ups. The store is seeded from the bundled Kite dump on first use.

A process that only ever resolves a few exact keys and tokens (the ticker: its watchlist,
positions and approvals) never builds the index (~14 MB for the 8,725-row dump): the first
:data:`FEW_LOOKUPS` distinct ``EXCHANGE:SYMBOL`` keys and tokens found are read one row at a
time from the store and kept; anything else (more keys, an unknown or fuzzy key, a search, a
count) builds the index as before.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from app.adapters.store.ports import InstrumentRepository
from core.errors import DataError, ValidationError
from core.models import Instrument
from core.timeutil import IST

log = logging.getLogger(__name__)

#: Exchange assumed when a key has no ``EXCHANGE:`` prefix.
DEFAULT_EXCHANGE = "NSE"
#: Distinct keys/tokens resolved one row at a time before the whole master is indexed: a full
#: watchlist (``watchlists.MAX_KEYS`` 250) and a few positions.
FEW_LOOKUPS = 256


class _HasInstruments(Protocol):
    instruments: InstrumentRepository


class _KiteInstruments(Protocol):
    def instruments(self, exchange: str | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class _Index:
    by_key: dict[tuple[str, str], Instrument]
    by_token: dict[int, Instrument]
    symbols: dict[str, list[str]]  # exchange -> upper-case symbols (for suggestions)
    by_name: dict[str, list[Instrument]]  # upper-case company name -> instruments


def _split(key: str) -> tuple[str, str]:
    text = " ".join(str(key).split())  # trim and collapse inner whitespace
    if not text:
        raise ValidationError("instrument key is empty; type a symbol such as 'INFY' or 'NSE:INFY'")
    exchange, sep, symbol = text.partition(":")
    if not sep:
        return DEFAULT_EXCHANGE, text.upper()
    exchange, symbol = exchange.strip().upper(), symbol.strip().upper()
    if not exchange or not symbol:
        raise ValidationError(f"instrument key {key!r} must look like 'NSE:INFY'")
    return exchange, symbol


def _dump_date_from_name(name: str, default: date) -> date:
    m = re.search(r"(\d{4})-(\d{2})(?:-(\d{2}))?", name)
    if not m:
        return default
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))


class InstrumentService:
    """Instrument look-ups over the store's master, with an in-memory index.

    Keys are ``"EXCHANGE:TRADINGSYMBOL"``; the exchange defaults to NSE and case is ignored.
    Unknown symbols raise ``ValidationError`` naming the symbol and close matches.
    """

    def __init__(self, store: _HasInstruments) -> None:
        self._repo = store.instruments
        self._lock = threading.Lock()
        self._index: _Index | None = None
        self._few: dict[tuple[str, str] | int, Instrument] = {}  # found one row at a time (module docstring)
        self._seeded = False

    # ---- loading -----------------------------------------------------------------------

    def ensure_loaded(self) -> int:
        """Seed the store from the bundled Kite dump if it has no instruments; return the count.

        Source: ``app/data/nse/kite_instruments_NSE_2025-12.csv.gz`` via
        ``app.adapters.nse_data.instrument_records``. A no-op when the store already has rows.
        """
        count = self._seed_if_empty()
        self.invalidate()
        return count

    def _seed_if_empty(self) -> int:
        count = self._repo.count()
        if count:
            return count
        from app.adapters.nse_data import INSTRUMENTS_FILE, instrument_records  # no pandas: any process seeds

        dump_date = _dump_date_from_name(INSTRUMENTS_FILE.name, date.today())
        count = self._repo.replace_dump(instrument_records(), dump_date)
        log.info("seeded %d instruments from the bundled dump %s", count, INSTRUMENTS_FILE.name)
        return count

    def refresh_from_kite(self, kite: _KiteInstruments, exchanges: Sequence[str] = ("NSE",),
                          now: datetime | None = None) -> int:
        """Replace the master with Kite's ``instruments(exchange)`` for ``exchanges``.

        ``kite`` is a ``kiteconnect.KiteConnect`` (real or replay). ``dump_date`` is the IST
        date of ``now`` (default: the wall clock). Returns the rows stored. Raises
        ``DataError`` if Kite returns no rows (the old master is kept); Kite's errors arrive
        through the request funnel (``app.adapters.kite_errors``).
        """
        from app.adapters.kite_errors import kite_request  # kiteconnect only where the dump is fetched

        rows: list[dict[str, Any]] = []
        for exchange in exchanges:
            with kite_request(f"instruments dump of {exchange}"):
                rows.extend(kite.instruments(exchange))
        if not rows:
            raise DataError(f"Kite returned no instruments for {', '.join(exchanges)}; kept the old master")
        today = (now or datetime.now(IST)).astimezone(IST).date()
        count = self._repo.replace_dump(rows, today)
        self.invalidate()
        log.info("refreshed %d instruments from Kite (%s)", count, ", ".join(exchanges))
        return count

    def invalidate(self) -> None:
        """Forget the in-memory index (rebuilt from the store on next use)."""
        with self._lock:
            self._index = None
            self._few = {}

    def _one(self, key: tuple[str, str] | int) -> Instrument | None:
        """``key`` (a split key or a token) from the few kept, else from one store row while fewer
        than :data:`FEW_LOOKUPS` are kept and no index is built; ``None``: use the index."""
        found = self._few.get(key)
        if found is not None or self._index is not None or len(self._few) >= FEW_LOOKUPS:
            return found
        if not self._seeded:
            self._seed_if_empty()
            self._seeded = True
        if isinstance(key, int):
            found = self._repo.get(key)
        else:
            found = self._repo.by_key(f"{key[0]}:{key[1]}")
            if found is not None and (found.exchange.upper(), found.tradingsymbol.upper()) != key:
                return None  # the store's symbol differs in case: the index decides
        if found is not None:
            with self._lock:
                self._few[key] = found
        return found

    def _idx(self) -> _Index:
        index = self._index
        if index is not None:
            return index
        with self._lock:
            if self._index is None:
                self._seed_if_empty()
                by_key: dict[tuple[str, str], Instrument] = {}
                by_token: dict[int, Instrument] = {}
                symbols: dict[str, list[str]] = {}
                by_name: dict[str, list[Instrument]] = {}
                for inst in self._repo.all():
                    by_key[(inst.exchange.upper(), inst.tradingsymbol.upper())] = inst
                    by_token[inst.instrument_token] = inst
                    symbols.setdefault(inst.exchange.upper(), []).append(inst.tradingsymbol.upper())
                    if inst.name:
                        by_name.setdefault(inst.name.upper(), []).append(inst)
                self._index = _Index(by_key, by_token, symbols, by_name)
            return self._index

    # ---- look-ups ----------------------------------------------------------------------

    def resolve(self, key: str | int) -> Instrument:
        """The instrument for ``key``: ``"NSE:INFY"``, ``"INFY"``, ``"nse:infy"``, ``"NIFTY 50"``
        (or an ``int`` instrument_token).

        Raises ``ValidationError`` for an unknown symbol, naming it and up to three close matches.
        """
        if isinstance(key, int):
            return self.by_token(key)
        exchange, symbol = _split(key)
        found = self._one((exchange, symbol))
        if found is not None:
            return found
        index = self._idx()
        found = index.by_key.get((exchange, symbol))
        if found is None:
            raise ValidationError(self._unknown_message(index, exchange, symbol))
        return found

    def find(self, key: str | int) -> Instrument | None:
        """The instrument for ``key`` (any form :meth:`resolve` takes), or ``None`` if the master
        lacks it: a bulk look-up (e.g. 500 scan keys) without the close-match suggestions that
        :meth:`resolve` computes for its error. Raises ``ValidationError`` for a malformed key."""
        index = self._idx()
        if isinstance(key, int):
            return index.by_token.get(int(key))
        return index.by_key.get(_split(key))

    def resolve_many(self, keys: Iterable[str | int]) -> list[Instrument]:
        """Resolve every key in order. Raises one ``ValidationError`` naming every unknown key."""
        keys = list(keys)
        if self._index is None and len(keys) > FEW_LOOKUPS - len(self._few):
            self._idx()  # a long list: one read of the whole master, not a row per key
        out: list[Instrument] = []
        problems: list[str] = []
        for key in keys:
            try:
                out.append(self.resolve(key))
            except ValidationError as exc:
                problems.append(str(exc))
        if problems:
            head = f"{len(problems)} unknown instrument(s): " if len(problems) > 1 else ""
            raise ValidationError(head + "; ".join(problems))
        return out

    def by_token(self, instrument_token: int) -> Instrument:
        """The instrument with this token. Raises ``ValidationError`` if the master lacks it."""
        found = self._one(int(instrument_token)) or self._idx().by_token.get(int(instrument_token))
        if found is None:
            raise ValidationError(f"no instrument with instrument_token {instrument_token} in the master")
        return found

    def search(self, prefix: str, limit: int = 20) -> list[Instrument]:
        """Instruments whose symbol starts with ``prefix`` (case-insensitive)."""
        self._idx()
        return self._repo.search(prefix, limit)

    def count(self) -> int:
        return len(self._idx().by_token)

    def suggestions(self, key: str, n: int = 3) -> list[str]:
        """Up to ``n`` keys close to ``key`` (company-name matches first, then spelling)."""
        index = self._idx()
        exchange, symbol = _split(key)
        out = [i.key for i in index.by_name.get(symbol, []) if i.exchange.upper() == exchange]
        for s in difflib.get_close_matches(symbol, index.symbols.get(exchange, []), n=n, cutoff=0.6):
            k = index.by_key[(exchange, s)].key
            if k not in out:
                out.append(k)
        return out[:n]

    def _unknown_message(self, index: _Index, exchange: str, symbol: str) -> str:
        if exchange not in index.symbols:
            return (f"unknown exchange {exchange!r} in '{exchange}:{symbol}'; "
                    f"the master has {', '.join(sorted(index.symbols))}")
        close = self.suggestions(f"{exchange}:{symbol}")
        hint = f"; did you mean {', '.join(close)}?" if close else "; check the spelling or search by prefix"
        return f"unknown instrument '{exchange}:{symbol}'{hint}"
