"""News items for the desk (issue 15 item 3), pure: no fetching, no store, no clock.

* :mod:`core.news.items`: one feed entry as a capped, plain-text :class:`NewsItem` with its
  de-duplication keys (guid, link, normalised title), and the feed-URL rule.
* :mod:`core.news.tagging`: which instruments a headline names (precision over recall).
* :mod:`core.news.sentiment`: the score's range and the finance terms added to the lexicon.

Item text is untrusted (it comes from the internet): it is kept as plain text with length
caps here, rendered as text by the pages and fenced in prompts (``core.analysis.prompt``).
"""

from core.news.items import (NewsItem, check_feed_url, dedupe_keys, normalise_entry, plain_text,
                             unique_items)
from core.news.sentiment import FINANCE_LEXICON, clamp_score, label_for_score
from core.news.tagging import Alias, Tag, Tagger, aliases_for

__all__ = [
    "FINANCE_LEXICON", "Alias", "NewsItem", "Tag", "Tagger", "aliases_for", "check_feed_url", "clamp_score",
    "dedupe_keys", "label_for_score", "normalise_entry", "plain_text", "unique_items",
]
