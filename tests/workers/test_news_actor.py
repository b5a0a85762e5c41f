"""The ``poll_news`` actor through the container: the configured feed (a loopback server,
allow-listed) is polled and stored once; a redelivered message adds nothing; with no feed
configured it does nothing; the clock sends it every minute."""

from __future__ import annotations

from app.container import reset_services, services
from tests.app.test_news_feed import GOOD, server  # noqa: F401  (the loopback feed server fixture)
from tests.ui.test_scanner_page import fresh  # noqa: F401  (a desk on SQLite, Redis and the stub broker)


def test_poll_news_stores_the_configured_feed_once(fresh, monkeypatch, server):  # noqa: F811
    base, routes = server
    routes.body("/market.xml", GOOD)
    monkeypatch.setenv("DESK_NEWS_FEEDS", f"{base}/market.xml, ftp://example.com/rss")
    monkeypatch.setenv("DESK_NEWS_ALLOW_HOSTS", "127.0.0.1")
    reset_services()
    from workers.news import poll_news

    first = poll_news.fn(as_of="2016-09-09T09:15:00+05:30")
    assert [(p["status"], p["added"]) for p in first] == [("ok", 4), ("skipped", 0)]
    assert "must start with http:// or https://" in first[1]["message"]
    assert poll_news.fn(force=True)[0]["added"] == 0  # redelivered: nothing twice
    assert services().news.store.counts() == (4, 4)
    assert {i.title for i in services().news.for_symbol("NSE:INFY")} == {
        "Infosys, TCS lead IT rally; both beat estimates"}


def test_poll_news_without_feeds_does_nothing(fresh, monkeypatch):  # noqa: F811
    monkeypatch.delenv("DESK_NEWS_FEEDS", raising=False)
    reset_services()
    from workers.news import poll_news

    assert poll_news.fn() == []
    assert "news" not in services().__dict__  # the news service was not even built


def test_the_clock_sends_poll_news_every_minute():
    from workers.clock import PERIODIC_JOBS

    [job] = [j for j in PERIODIC_JOBS if j.actor == "poll_news"]
    assert (job.queue, job.seconds) == ("news", 60)
