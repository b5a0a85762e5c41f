"""``NewsStore``: news items, the instruments they name, and each feed's last poll, on the
desk's SQL engine (SQLite or PostgreSQL/Supabase's Postgres; its own ``MetaData``).

Tables:

* ``news_items``: one row per item: ``id`` (its first de-duplication key), the three keys
  (``guid_key``, ``link_key``, ``title_key``: SHA-256 hex or null), plain-text ``title`` and
  ``summary`` (capped by ``core.news``), ``link``, ``source``, ``feed_url``, ``published_at``
  / ``fetched_at`` (UTC), ``score`` (the lexicon score in [-1, 1], null when unscored),
  ``scorer`` (which model gave it, e.g. ``vader-3.3.2+finance``) and ``gemini_score`` (Gemini's
  score in [-1, 1] when a Gemini key is set and the budget allowed the call, else null).
* ``news_tags``: ``(item_id, instrument_token)`` with the ``tradingsymbol`` and the text that
  matched.
* ``news_feeds``: per feed URL the last poll (``polled_at``, UTC), its ``status`` (``ok`` |
  ``skipped`` | ``unavailable``), a ``message`` and the count of ``added`` items.

A poll writes a feed's new items, their tags and the feed's row in one transaction
(:meth:`NewsStore.save_poll`), so a reader never sees an item without its tags, and a feed
that is skipped writes only its status. On Supabase every table is owned (``owner`` leads
each key, ``app.adapters.migrations``), like the desk's other stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text, delete,
                        func, insert, or_, select)
from sqlalchemy.engine import Engine

from app.adapters.store.schema import UtcDateTime, create_tables
from core.news import NewsItem, Tag
from core.timeutil import require_aware

metadata = MetaData()

news_items = Table(
    "news_items", metadata,
    Column("id", String(64), primary_key=True),
    Column("guid_key", String(64), nullable=True),
    Column("link_key", String(64), nullable=True),
    Column("title_key", String(64), nullable=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("link", Text, nullable=False, default=""),
    Column("source", String(200), nullable=False),
    Column("feed_url", Text, nullable=False),
    Column("published_at", UtcDateTime, nullable=True),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("score", Float, nullable=True),
    Column("scorer", String(64), nullable=False, default=""),
    Column("gemini_score", Float, nullable=True),
)
Index("ix_news_items_guid_key", news_items.c.guid_key)
Index("ix_news_items_link_key", news_items.c.link_key)
Index("ix_news_items_title_key", news_items.c.title_key)
Index("ix_news_items_fetched_at", news_items.c.fetched_at)

news_tags = Table(
    "news_tags", metadata,
    Column("item_id", String(64), primary_key=True),
    Column("instrument_token", BigInteger, primary_key=True, autoincrement=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("matched", String(200), nullable=False, default=""),
)
Index("ix_news_tags_tradingsymbol", news_tags.c.tradingsymbol)

news_feeds = Table(
    "news_feeds", metadata,
    Column("url", String(2000), primary_key=True),
    Column("polled_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("added", Integer, nullable=False, default=0),
)


@dataclass(frozen=True, slots=True)
class StoredNews:
    """One stored item with its tags (tradingsymbols, in order of mention)."""

    id: str
    title: str
    summary: str
    link: str
    source: str
    feed_url: str
    published_at: datetime | None
    fetched_at: datetime
    score: float | None
    scorer: str
    symbols: tuple[str, ...]
    gemini_score: float | None = None

    @property
    def when(self) -> datetime:
        """The item's time: published, else fetched (UTC)."""
        return self.published_at or self.fetched_at


class ScoredItem(NamedTuple):
    """One item to store: its tags, lexicon ``score`` and ``scorer``, and Gemini's score if any."""

    item: NewsItem
    tags: Sequence[Tag]
    score: float | None
    scorer: str
    gemini_score: float | None = None


@dataclass(frozen=True, slots=True)
class FeedStatus:
    url: str
    polled_at: datetime
    status: str
    message: str
    added: int


class NewsStore:
    """News rows on ``engine`` (tables created idempotently)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(metadata, engine)

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """The de-duplication keys among ``keys`` that a stored item already has."""
        with self.engine.connect() as conn:
            return self._taken(conn, keys)

    def save_poll(self, url: str, at: datetime, status: str, message: str,
                  items: Sequence[ScoredItem | tuple] = ()) -> int:
        """Store ``items`` (:class:`ScoredItem` or the same tuple; items whose keys are already
        stored are left out) and the feed's poll row, in one transaction; return how many
        items were added."""
        at = require_aware(at, "at")
        rows = [ScoredItem(*row) for row in items]
        with self.engine.begin() as conn:
            taken = self._taken(conn, [k for row in rows for k in row.item.keys])
            added = 0
            for item, tags, score, scorer, gemini_score in rows:
                if not taken.isdisjoint(item.keys):
                    continue
                taken.update(item.keys)
                conn.execute(insert(news_items).values(
                    id=item.item_id, guid_key=item.guid_key, link_key=item.link_key,
                    title_key=item.title_key, title=item.title, summary=item.summary, link=item.link,
                    source=item.source, feed_url=item.feed_url, published_at=item.published_at, fetched_at=at,
                    score=score, scorer=scorer, gemini_score=gemini_score))
                if tags:
                    conn.execute(insert(news_tags), [
                        {"item_id": item.item_id, "instrument_token": t.instrument_token,
                         "tradingsymbol": t.tradingsymbol, "matched": t.matched[:200]} for t in tags])
                added += 1
            conn.execute(delete(news_feeds).where(news_feeds.c.url == url))
            conn.execute(insert(news_feeds).values(url=url, polled_at=at, status=status, message=message,
                                                   added=added))
        return added

    @staticmethod
    def _taken(conn, keys: Sequence[str]) -> set[str]:
        wanted = sorted(set(keys))
        c = news_items.c
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            for row in conn.execute(select(c.guid_key, c.link_key, c.title_key).where(
                    or_(c.guid_key.in_(chunk), c.link_key.in_(chunk), c.title_key.in_(chunk)))):
                found.update(k for k in row if k in chunk)
        return found

    def feeds(self) -> list[FeedStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(news_feeds).order_by(news_feeds.c.url)).mappings().all()
        return [FeedStatus(**dict(r)) for r in rows]

    def latest(self, *, limit: int = 20, symbol: str | None = None, until: datetime | None = None,
               since: datetime | None = None) -> list[StoredNews]:
        """The newest items first (by published time, else fetch time), optionally only those
        tagged ``symbol`` (a tradingsymbol) and only those published (else fetched) in
        ``[since, until]`` (tz-aware)."""
        c = news_items.c
        when = _when()
        q = select(news_items)
        if symbol is not None:
            q = q.where(c.id.in_(select(news_tags.c.item_id).where(news_tags.c.tradingsymbol == symbol.upper())))
        if until is not None:
            q = q.where(when <= require_aware(until, "until"))
        if since is not None:
            q = q.where(when >= require_aware(since, "since"))
        q = q.order_by(c.published_at.desc().nulls_last(), c.fetched_at.desc(), c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            ids = [r["id"] for r in rows]
            tags: dict[str, list[str]] = {}
            if ids:
                for t in conn.execute(select(news_tags.c.item_id, news_tags.c.tradingsymbol)
                                      .where(news_tags.c.item_id.in_(ids))
                                      .order_by(news_tags.c.item_id, news_tags.c.tradingsymbol)):
                    tags.setdefault(t.item_id, []).append(t.tradingsymbol)
        return [_stored(r, tags.get(r["id"], [])) for r in rows]

    def scores_by_symbol(self, symbols: Sequence[str], since: datetime, until: datetime) -> dict[str, tuple[float, int]]:
        """``{tradingsymbol: (mean score, items)}`` over scored items tagged with each of
        ``symbols`` and published (else fetched) in ``[since, until]``; symbols without such items
        are absent."""
        c, t = news_items.c, news_tags.c
        wanted = sorted({s.upper() for s in symbols})
        if not wanted:
            return {}
        q = (select(t.tradingsymbol, func.avg(c.score), func.count())
             .select_from(news_tags.join(news_items, news_items.c.id == t.item_id))
             .where(t.tradingsymbol.in_(wanted), c.score.is_not(None),
                    _when() >= require_aware(since, "since"), _when() <= require_aware(until, "until"))
             .group_by(t.tradingsymbol))
        with self.engine.connect() as conn:
            return {sym: (float(avg), int(n)) for sym, avg, n in conn.execute(q)}

    def counts(self) -> tuple[int, int]:
        """``(items, tags)`` stored (for tests and the System page)."""
        with self.engine.connect() as conn:
            return (int(conn.execute(select(func.count()).select_from(news_items)).scalar_one()),
                    int(conn.execute(select(func.count()).select_from(news_tags)).scalar_one()))


def _when():
    """An item's time: published, else fetched."""
    return func.coalesce(news_items.c.published_at, news_items.c.fetched_at, type_=UtcDateTime)


def _stored(row: Any, symbols: list[str]) -> StoredNews:
    return StoredNews(id=row["id"], title=row["title"], summary=row["summary"], link=row["link"],
                      source=row["source"], feed_url=row["feed_url"], published_at=row["published_at"],
                      fetched_at=row["fetched_at"], score=row["score"], scorer=row["scorer"], symbols=tuple(symbols),
                      gemini_score=row["gemini_score"])


__all__ = ["FeedStatus", "NewsStore", "ScoredItem", "StoredNews", "metadata", "news_feeds", "news_items", "news_tags"]
