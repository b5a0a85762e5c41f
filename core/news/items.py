"""One feed entry as a :class:`NewsItem`: plain text, capped, with its de-duplication keys.

The feed parser (``feedparser``, in ``app``) hands over a mapping per entry; this module
turns it into text the desk may store and show:

* **Plain text.** Titles and summaries arrive as HTML; :func:`plain_text` keeps only the text
  (``<script>``/``<style>`` contents dropped, entities decoded, control characters and runs of
  white space folded to one space). Nothing is ever rendered as HTML or markdown.
* **Caps** (characters, ``core.text_caps`` policy for machine text: truncated with ``"…"``):
  title ``NEWS_TITLE_MAX_CHARS``, summary ``NEWS_SUMMARY_MAX_CHARS``, source ``NAME_MAX_CHARS``.
  An entry whose raw title + summary is longer than ``NEWS_ITEM_MAX_RAW_CHARS`` is not an item
  a person wrote (e.g. a 5 MB blob): :func:`normalise_entry` raises ``DataError`` and the
  caller skips it with that message. A link longer than ``NEWS_LINK_MAX_CHARS`` or not
  http(s) is dropped (a cut link is a wrong link).
* **De-duplication** (:func:`dedupe_keys`): an item is the same as another when its guid, its
  canonical link (scheme and host lower-cased, fragment and ``utm_*`` parameters dropped) or
  its normalised title on the same IST publication day matches. The item's ``item_id`` is its
  first key (guid, else link, else title), a SHA-256 hex digest.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.errors import DataError, ValidationError
from core.text_caps import NAME_MAX_CHARS, shown, truncate_text
from core.timeutil import IST, require_aware

#: a news item's title and summary on the desk (characters, after :func:`plain_text`)
NEWS_TITLE_MAX_CHARS = 300
NEWS_SUMMARY_MAX_CHARS = 1_000
#: a link longer than this is dropped, not cut
NEWS_LINK_MAX_CHARS = 2_000
#: raw title + summary (before HTML is stripped) above this: the entry is skipped
NEWS_ITEM_MAX_RAW_CHARS = 100_000
#: a feed URL longer than this is refused
FEED_URL_MAX_CHARS = 2_000

_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One news item. Text fields are plain text within the caps above; ``published_at`` is
    tz-aware UTC or ``None`` (the feed gave no date); ``guid_key``, ``link_key``,
    ``title_key`` are its de-duplication keys (SHA-256 hex, ``None`` for an absent part) and
    ``item_id`` the first of them."""

    title: str
    summary: str
    link: str
    source: str
    feed_url: str
    published_at: datetime | None
    guid_key: str | None
    link_key: str | None
    title_key: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.guid_key, self.link_key, self.title_key) if k)

    @property
    def item_id(self) -> str:
        return self.keys[0]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def plain_text(markup: object) -> str:
    """The text of ``markup`` (HTML or plain text; anything else is ``""``): tags removed,
    ``<script>``/``<style>`` contents dropped, entities decoded, control characters and white
    space folded to single spaces, NFC-normalised."""
    if not isinstance(markup, str) or not markup:
        return ""
    parser = _Text()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # noqa: BLE001 - a hostile document must not stop the feed: fall back to unescaping
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = "".join(" " if (ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029") else c for c in text)
    return unicodedata.normalize("NFC", " ".join(text.split()))


def check_feed_url(url: object) -> str:
    """``url`` stripped, if it is an http(s) URL with a host and no user name or password.

    This is the shape check only; whether the host is a public address is the fetcher's
    check (it needs DNS). Raises ``ValidationError`` saying what to send instead."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(f"a feed URL must be text such as https://example.com/rss.xml, was {shown(url)}")
    text = url.strip()
    if len(text) > FEED_URL_MAX_CHARS:
        raise ValidationError(f"a feed URL must be at most {FEED_URL_MAX_CHARS:,} characters, was {len(text):,}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0..65535
    except ValueError:
        raise ValidationError(f"feed URL {shown(text)} is not a valid URL") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise ValidationError(f"feed URL {shown(text)} must start with http:// or https:// "
                              f"(was {parts.scheme or 'no scheme'!r})")
    if not parts.hostname:
        raise ValidationError(f"feed URL {shown(text)} has no host name")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(f"feed URL {shown(text)} must not carry a user name or password")
    return text


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _canonical_link(link: str) -> str:
    parts = urlsplit(link)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not k.lower().startswith("utm_")])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def _title_norm(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def dedupe_keys(*, guid: str, link: str, title: str,
                published_at: datetime | None) -> tuple[str | None, str | None, str | None]:
    """``(guid_key, link_key, title_key)``: digests of the ``guid``, the canonical ``link`` (an
    http(s) link) and the normalised ``title`` with its IST publication day; ``None`` for an
    empty part."""
    norm = _title_norm(title) or title.strip()
    day = published_at.astimezone(IST).date().isoformat() if published_at else ""
    return (_digest("guid", guid.strip()) if guid.strip() else None,
            _digest("link", _canonical_link(link)) if link else None,
            _digest("title", f"{norm}|{day}") if norm else None)


def _link(value: object) -> str:
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if not text or len(text) > NEWS_LINK_MAX_CHARS:
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    return text if parts.scheme.lower() in _SCHEMES and parts.hostname else ""


def normalise_entry(entry: Mapping[str, Any], *, feed_url: str, source: str) -> NewsItem | None:
    """``entry`` (``title``, ``summary``, ``link``, ``id``: text; ``published_at``: a tz-aware
    datetime or ``None``) as a :class:`NewsItem`, or ``None`` for an entry without a title.

    Raises ``DataError`` when the raw title + summary exceed ``NEWS_ITEM_MAX_RAW_CHARS``
    characters (the caller skips the entry with this message)."""
    raw_title, raw_summary = entry.get("title"), entry.get("summary")
    size = sum(len(v) for v in (raw_title, raw_summary) if isinstance(v, str))
    if size > NEWS_ITEM_MAX_RAW_CHARS:
        raise DataError(f"an item of {size:,} characters is over the {NEWS_ITEM_MAX_RAW_CHARS:,}-character "
                        "cap for one news item; skipped")
    title = truncate_text(plain_text(raw_title), NEWS_TITLE_MAX_CHARS)
    if not title:
        return None
    summary = truncate_text(plain_text(raw_summary), NEWS_SUMMARY_MAX_CHARS)
    published = entry.get("published_at")
    published = require_aware(published, "published_at") if isinstance(published, datetime) else None
    guid = entry.get("id") if isinstance(entry.get("id"), str) else ""
    link = _link(entry.get("link"))
    guid_key, link_key, title_key = dedupe_keys(guid=guid[:NEWS_LINK_MAX_CHARS], link=link, title=title,
                                                published_at=published)
    return NewsItem(title=title, summary=summary, link=link,
                    source=truncate_text(plain_text(source) or "feed", NAME_MAX_CHARS), feed_url=feed_url,
                    published_at=published, guid_key=guid_key, link_key=link_key, title_key=title_key or "")


def unique_items(items: Iterable[NewsItem], seen: Iterable[str] = ()) -> list[NewsItem]:
    """``items`` without repeats, in order: an item is dropped when any of its keys is in
    ``seen`` (keys already stored) or belongs to an earlier item of ``items``."""
    known = set(seen)
    out = []
    for item in items:
        if known.isdisjoint(item.keys):
            out.append(item)
        known.update(item.keys)
    return out


__all__ = [
    "FEED_URL_MAX_CHARS", "NEWS_ITEM_MAX_RAW_CHARS", "NEWS_LINK_MAX_CHARS", "NEWS_SUMMARY_MAX_CHARS",
    "NEWS_TITLE_MAX_CHARS", "NewsItem", "check_feed_url", "dedupe_keys", "normalise_entry", "plain_text",
    "unique_items",
]
