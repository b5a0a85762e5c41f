"""News actor: ``poll_news`` fetches the configured feeds that are due and stores their new
items (``app.research.news``); the clock sends it every minute, each feed is fetched every
``DESK_NEWS_POLL_MINUTES``."""

from __future__ import annotations

import logging

import dramatiq

from workers import broker as _broker  # noqa: F401  (installs the broker before @actor runs)
from app.container import services
from app.research.news import NEWS_QUEUE, POLL_ACTOR
from core.errors import ValidationError

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name=NEWS_QUEUE, actor_name=POLL_ACTOR, max_retries=0, time_limit=5 * 60_000,
                throws=(ValidationError,))
def poll_news(as_of: str | None = None, force: bool = False) -> list[dict]:
    """Poll the feeds that are due (all with ``force``); return ``[{url, status, message, added}]``.

    ``as_of`` (the clock's market time) is accepted and not used: feeds live on wall time.
    Idempotent: a redelivered poll finds the items stored and adds none. No retries: a feed
    that failed is tried again at its next poll. With no feed configured it does nothing."""
    svc = services()
    if not svc.settings.news.feed_urls:
        return []
    return [{"url": p.url, "status": p.status, "message": p.message, "added": p.added}
            for p in svc.news.poll(force=force)]
