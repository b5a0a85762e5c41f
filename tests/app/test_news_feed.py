"""The news feed end to end on real parts: feedparser over a loopback HTTP server serving feed
files written for these tests, the SQL store (SQLite, and PostgreSQL for the store), the
bundled instruments master and NIFTY 500 list for tagging, VADER for the score.

Bad input: a non-http URL, a private/loopback/link-local address, a redirect to one, a feed
over the size cap, malformed XML, a feed that times out: each skipped with its message and
nothing written but the feed's status."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.adapters.bundled_market import index_members
from app.adapters.news_fetch import FetchPolicy
from app.adapters.news_store import NewsStore, metadata as news_metadata
from app.market.instruments import InstrumentService
from app.research.news import NewsService
from tests.fixtures_store import seed_instruments

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
SYMBOLS = {"INFY", "TCS", "RELIANCE", "HDFCBANK", "ITC", "LT", "SBIN"}


def rss(*items: str, title: str = "Market News") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f'<link>https://news.test/</link>{"".join(items)}</channel></rss>').encode()


def item(title: str, guid: str, link: str, summary: str = "", date: str = "Mon, 02 Mar 2026 04:30:00 GMT") -> str:
    return (f"<item><title>{title}</title><guid>{guid}</guid><link>{link}</link>"
            f"<description>{summary}</description><pubDate>{date}</pubDate></item>")


GOOD = rss(
    item("Infosys, TCS lead IT rally; both beat estimates", "g-1", "https://news.test/1"),
    item("Infosys, TCS lead IT rally; both beat estimates", "g-1", "https://news.test/1"),      # same guid
    item("HDFC Bank shares slump after weak guidance", "g-2", "https://news.test/2?utm_source=rss"),
    item("HDFC Bank copy", "g-3", "https://news.test/2"),                                      # same link
    item("HDFC BANK shares slump after weak guidance!", "g-4", "https://other.test/9"),        # same title, day
    item("Reliance Industries &lt;b&gt;record&lt;/b&gt; profit", "g-5", "https://news.test/5",
         summary="&lt;script&gt;alert(1)&lt;/script&gt;Jio and retail grow"),
    item("Rupee steady in early trade", "g-6", "https://news.test/6"),
)
ATOM = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>NSE Announcements</title>'
        b'<entry><title>ITC Ltd - Outcome of Board Meeting</title><id>urn:a:1</id>'
        b'<link href="https://nse.test/a/1"/><updated>2026-03-02T05:00:00Z</updated></entry></feed>')
MALFORMED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>Broken</title></chan'
BIG_ITEM = rss(item("Huge", "big", "https://news.test/big", summary="x" * 5_000_000),
               item("SBI raises deposit rates", "small", "https://news.test/small"))


class Routes:
    def __init__(self) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}

    def body(self, path: str, data: bytes, content_type: str = "application/rss+xml") -> None:
        def send(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        self.routes[path] = send

    def redirect(self, path: str, location: str) -> None:
        def send(h: BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()
        self.routes[path] = send

    def slow(self, path: str, seconds: float) -> None:
        def send(h: BaseHTTPRequestHandler) -> None:
            time.sleep(seconds)
            try:
                h.send_response(200)
                h.end_headers()
            except OSError:
                pass
        self.routes[path] = send


@pytest.fixture()
def server() -> Iterator[tuple[str, Routes]]:
    routes = Routes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            send = routes.routes.get(self.path)
            if send is None:
                self.send_error(404)
            else:
                send(self)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def make_news(sqlite_store):
    seed_instruments(sqlite_store, SYMBOLS)
    instruments = InstrumentService(sqlite_store)
    store = NewsStore(sqlite_store.engine)
    members = index_members("NIFTY 500")
    companies = list(zip(members["symbol"], members["company"], strict=True))

    def build(feeds: list[str], *, max_bytes: int = 2_000_000, allow: frozenset[str] = frozenset({"127.0.0.1"}),
              timeout_s: float = 1.0) -> NewsService:
        return NewsService(store, instruments, lambda: companies, feeds=feeds,
                           policy=FetchPolicy(timeout_s=timeout_s, max_bytes=max_bytes, allow_hosts=allow),
                           clock=lambda: NOW)
    return build


def test_a_feed_is_stored_once_with_tags_and_scores(server, make_news):
    base, routes = server
    routes.body("/market.xml", GOOD)
    news = make_news([f"{base}/market.xml"])
    [poll] = news.poll()
    assert (poll.status, poll.added) == ("ok", 4), poll.message  # 7 entries, 3 repeats
    items = {i.title: i for i in news.latest()}
    assert set(items) == {"Infosys, TCS lead IT rally; both beat estimates", "HDFC Bank shares slump after weak guidance",
                          "Reliance Industries record profit", "Rupee steady in early trade"}
    two = items["Infosys, TCS lead IT rally; both beat estimates"]
    assert set(two.symbols) == {"INFY", "TCS"} and two.source == "Market News"
    assert items["Rupee steady in early trade"].symbols == ()
    assert two.score > 0.05 and items["HDFC Bank shares slump after weak guidance"].score < -0.05
    assert all(-1 <= i.score <= 1 and i.scorer.startswith("vader") for i in items.values())
    reliance = items["Reliance Industries record profit"]
    assert reliance.summary == "Jio and retail grow"  # the escaped script is dropped
    assert [i.title for i in news.for_symbol("NSE:TCS")] == [two.title]
    # a redelivered / repeated poll adds nothing
    assert news.poll(force=True)[0].added == 0
    assert news.store.counts() == (4, 4)  # INFY, TCS, HDFCBANK, RELIANCE


def test_sentiment_by_symbol_reads_items_published_by_the_market_time(server, make_news):
    base, routes = server
    routes.body("/market.xml", GOOD)
    news = make_news([f"{base}/market.xml"])
    news.poll()
    published = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    got = news.sentiment(["NSE:INFY", "TCS", "NSE:ITC"], published + timedelta(hours=1))
    assert set(got) == {"INFY", "TCS"} and got["INFY"][1] == 1 and got["INFY"][0] > 0
    assert news.sentiment(["INFY"], published - timedelta(minutes=1)) == {}  # not yet published then
    assert news.for_symbol("INFY", until=published - timedelta(minutes=1)) == []


def test_an_atom_feed_is_read(server, make_news):
    base, routes = server
    routes.body("/nse.atom", ATOM, "application/atom+xml")
    news = make_news([f"{base}/nse.atom"])
    assert news.poll()[0].added == 1
    [got] = news.latest()
    assert got.symbols == ("ITC",) and got.source == "NSE Announcements"
    assert got.published_at == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(("body", "message"), [
    (MALFORMED, "is not well-formed XML"),
    (BIG_ITEM, "over the 2.0 MB cap (DESK_NEWS_MAX_FEED_BYTES); skipped"),  # a 5 MB item, 2 MB cap
    (b"<html><body>not a feed</body></html>", "is not an RSS or Atom feed"),
], ids=["malformed", "oversized", "not-a-feed"])
def test_a_bad_feed_is_skipped_whole_with_its_message(server, make_news, body, message):
    base, routes = server
    routes.body("/bad.xml", body)
    news = make_news([f"{base}/bad.xml"])
    [poll] = news.poll()
    assert poll.status == "skipped" and message in poll.message
    assert news.store.counts() == (0, 0)  # nothing half-written
    [status] = news.feed_statuses()
    assert (status.status, status.added) == ("skipped", 0) and message in status.message


def test_a_5_mb_item_in_a_feed_under_the_cap_is_skipped_alone(server, make_news, caplog):
    base, routes = server
    routes.body("/big.xml", BIG_ITEM)
    news = make_news([f"{base}/big.xml"], max_bytes=8_000_000)
    with caplog.at_level("WARNING"):
        [poll] = news.poll()
    assert (poll.status, poll.added) == ("ok", 1)
    assert [i.title for i in news.latest()] == ["SBI raises deposit rates"]
    assert "5,000,004 characters is over the 100,000-character cap" in caplog.text


def test_a_feed_that_times_out_is_unavailable(server, make_news):
    base, routes = server
    routes.slow("/slow.xml", 3.0)
    news = make_news([f"{base}/slow.xml"], timeout_s=1.0)
    started = time.monotonic()
    [poll] = news.poll()
    assert time.monotonic() - started < 2.5
    assert poll.status == "unavailable" and "did not answer within 1 s" in poll.message
    assert news.store.counts() == (0, 0)


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/rss.xml", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("http://10.1.2.3/rss", "private address"),
    ("http://169.254.169.254/latest/meta-data/", "link-local address"),
    ("http://[::1]:9/rss", "loopback address"),
])
def test_bad_or_non_public_feed_urls_are_refused(make_news, url, message):
    news = make_news([url], allow=frozenset())
    [poll] = news.poll()
    assert poll.status == "skipped" and message in poll.message
    assert news.store.counts() == (0, 0)


def test_loopback_is_refused_unless_allow_listed_even_through_a_redirect(server, make_news):
    base, routes = server
    port = base.rsplit(":", 1)[1]
    routes.body("/market.xml", GOOD)
    routes.redirect("/moved.xml", f"http://localhost:{port}/market.xml")  # localhost is not on the list
    news = make_news([f"{base}/market.xml"], allow=frozenset())
    assert "loopback address" in news.poll()[0].message
    news = make_news([f"{base}/moved.xml"])
    [poll] = news.poll(force=True)
    assert poll.status == "skipped" and "loopback address" in poll.message
    assert news.store.counts() == (0, 0)


def test_redirect_loops_are_cut_off(server, make_news):
    base, routes = server
    routes.redirect("/loop.xml", "/loop.xml")
    [poll] = make_news([f"{base}/loop.xml"]).poll()
    assert poll.status == "skipped" and "redirected more than 3 times" in poll.message


def test_a_feed_is_polled_again_only_when_due(server, make_news):
    base, routes = server
    routes.body("/market.xml", GOOD)
    news = make_news([f"{base}/market.xml"])
    assert len(news.poll()) == 1
    assert news.poll() == []  # polled at NOW, due again 5 min later


def test_the_store_on_postgresql_keeps_items_tags_and_status(postgres_url):
    from sqlalchemy import create_engine

    from core.news import Tag, normalise_entry

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        news_metadata.create_all(conn)
        for table in reversed(news_metadata.sorted_tables):
            conn.execute(table.delete())
    store = NewsStore(engine)
    entry = normalise_entry({"title": "Infosys and TCS win", "id": "pg-1", "link": "https://n.test/pg",
                             "published_at": NOW}, feed_url="https://n.test/rss", source="n")
    assert store.save_poll("https://n.test/rss", NOW, "ok", "1 read",
                           [(entry, [Tag(1, "INFY", "Infosys"), Tag(2, "TCS", "TCS")], 0.5, "vader")]) == 1
    assert store.save_poll("https://n.test/rss", NOW, "ok", "1 read", [(entry, [], 0.5, "vader")]) == 0
    [got] = store.latest(symbol="TCS")
    assert got.symbols == ("INFY", "TCS") and got.published_at == NOW
    assert store.scores_by_symbol(["INFY"], NOW - timedelta(hours=1), NOW) == {"INFY": (0.5, 1)}
    engine.dispose()
