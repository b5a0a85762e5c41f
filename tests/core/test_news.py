"""core.news: plain text, caps, de-duplication keys, the feed-URL rule, tagging precision on
real-looking headlines (the bundled NIFTY 500 list and instruments master), the score range."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from functools import lru_cache

import pytest

from app.adapters import nse_data
from app.adapters.bundled_market import NIFTY500_LIST
from core.errors import DataError, ValidationError
from core.news import Tagger, aliases_for, check_feed_url, clamp_score, label_for_score, normalise_entry, plain_text
from core.news import unique_items
from core.news.items import NEWS_ITEM_MAX_RAW_CHARS, NEWS_SUMMARY_MAX_CHARS, NEWS_TITLE_MAX_CHARS

T = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)


@lru_cache(maxsize=1)
def nifty500_tagger() -> Tagger:
    master = {r["tradingsymbol"]: r for r in nse_data.instrument_records() if r["segment"] == "NSE"}
    rows = []
    with open(NIFTY500_LIST, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            m = master.get(row["Symbol"])
            if m:
                rows.append((m["instrument_token"], row["Symbol"], [row["Company Name"]], [m["name"]] if m["name"] else []))
    return Tagger(aliases_for(rows))


def symbols(text: str) -> list[str]:
    return [t.tradingsymbol for t in nifty500_tagger().tag(text)]


@pytest.mark.parametrize(("headline", "expected"), [
    ("Infosys, TCS lead IT rally as rupee weakens", ["INFY", "TCS"]),
    ("Reliance Industries Q3 profit jumps 12%, beats estimates", ["RELIANCE"]),
    ("L&T bags 'mega' order from Middle East; Larsen shares up 3%", ["LT"]),
    ("Mahindra & Mahindra Financial Services reports Q2 loss", ["M&MFIN"]),
    ("M&M launches new electric SUV", ["M&M"]),
    ("HDFC Bank, ICICI Bank gain after RBI policy", ["HDFCBANK", "ICICIBANK"]),
    ("State Bank of India cuts lending rates; Bank of India follows", ["SBIN", "BANKINDIA"]),
    ("ITC Hotels listing: ITC shareholders get one share for every ten", ["ITCHOTELS", "ITC"]),
    ("Coal India raises output target", ["COALINDIA"]),
    ("TCS's Q3 deal wins at record", ["TCS"]),
    ("CIPLA gets USFDA nod; Cipla shares rise", ["CIPLA"]),
])
def test_tagger_names_the_companies_a_headline_mentions(headline, expected):
    assert symbols(headline) == expected


@pytest.mark.parametrize("headline", [
    "Indian bank stocks rally as RBI holds rates",           # generic words, not Indian Bank
    "Sensex ends 300 points higher on BSE",                  # the exchange, not BSE Ltd.
    "Oil prices fall as OPEC+ signals output rise",          # oil, not Oil India (symbol OIL)
    "A good idea for India Inc: rate cuts",                  # IDEA is Vodafone Idea's symbol
    "Power stocks surge on record demand",                   # generic sector words
    "Capital goods index hits a high",
    "Setcs and Metcs are not symbols",                       # TCS inside a word
    "Tata group shares mixed",                               # "Tata" alone names no company
])
def test_tagger_ignores_generic_words_and_parts_of_words(headline):
    assert symbols(headline) == []


def test_tagger_is_fast_enough_to_build_per_process():
    tagger = nifty500_tagger()
    assert tagger.tag("") == [] and tagger.tag(None) == []  # type: ignore[arg-type]


def test_an_alias_claimed_by_two_instruments_is_dropped():
    tagger = Tagger(aliases_for([(1, "AAA", ["Acme Widgets Ltd."], []), (2, "BBB", ["Acme Widgets Limited"], [])]))
    assert tagger.tag("Acme Widgets wins order") == []


def test_plain_text_drops_markup_scripts_and_control_characters():
    assert plain_text("<p>Profit <b>up</b>&nbsp;12%<script>alert(1)</script></p>\x00\nnext") == "Profit up 12% next"
    assert plain_text(None) == ""


def test_normalise_entry_caps_title_and_summary_and_drops_bad_links():
    item = normalise_entry({"title": "T" * 1000, "summary": "<i>s</i> " * 800, "link": "javascript:alert(1)",
                            "id": "g1", "published_at": T}, feed_url="https://x.test/rss", source="<b>Src</b>")
    assert len(item.title) == NEWS_TITLE_MAX_CHARS and item.title.endswith("…")
    assert len(item.summary) == NEWS_SUMMARY_MAX_CHARS
    assert item.link == "" and item.source == "Src"
    assert normalise_entry({"title": "  <br> "}, feed_url="https://x.test/rss", source="s") is None


def test_normalise_entry_refuses_an_item_over_the_raw_cap():
    with pytest.raises(DataError, match="over the 100,000-character cap"):
        normalise_entry({"title": "x", "summary": "y" * NEWS_ITEM_MAX_RAW_CHARS}, feed_url="https://x.test/", source="s")


def test_duplicates_by_guid_link_or_title_on_the_same_day():
    def item(**kw):
        base = {"title": "Infosys wins deal", "link": "https://n.test/a?utm_source=x", "id": "", "published_at": T}
        return normalise_entry({**base, **kw}, feed_url="https://n.test/rss", source="n")

    first = item(id="guid-1")
    same_guid = item(id="guid-1", title="Other", link="https://n.test/other")
    same_link = item(id="guid-2", title="Other 2", link="https://N.test/a#top")  # host case, fragment, utm_ ignored
    same_title = item(id="guid-3", title="INFOSYS wins deal!", link="https://m.test/b")
    next_day = item(id="guid-4", link="https://m.test/c", published_at=T.replace(day=3))
    assert unique_items([first, same_guid, same_link, same_title, next_day]) == [first, next_day]
    assert unique_items([next_day], seen=first.keys) == [next_day]
    assert unique_items([first], seen=[first.title_key]) == []


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/rss", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("https://user:pw@example.com/rss", "must not carry a user name or password"),
    ("http:///rss", "has no host name"),
    ("http://example.com:99999/", "is not a valid URL"),
    ("", "must be text"),
    (42, "must be text"),
    ("https://e.com/" + "a" * 3000, "at most 2,000 characters"),
])
def test_check_feed_url_refuses_what_is_not_an_http_feed(url, message):
    with pytest.raises(ValidationError, match=message):
        check_feed_url(url)


def test_check_feed_url_accepts_http_and_https():
    assert check_feed_url(" https://nsearchives.nseindia.com/content/RSS/Online_announcements.xml ").startswith("https://")


def test_scores_are_clamped_and_labelled():
    assert clamp_score(1.7) == 1.0 and clamp_score(-3) == -1.0 and clamp_score(0.12345) == 0.123
    assert clamp_score(float("nan")) is None and clamp_score("x") is None
    assert [label_for_score(s) for s in (0.5, -0.5, 0.0, None)] == ["positive", "negative", "neutral", "—"]
