"""Notification channels through ``apprise`` (https://github.com/caronc/apprise).

``DESK_NOTIFY_URLS`` lists apprise URLs separated by spaces, commas or new lines, e.g.
``tgram://<bot token>/<chat id>`` (Telegram), ``mailtos://user:app-password@gmail.com``
(e-mail), ``json://host:port/path`` or ``jsons://…`` (a webhook that receives JSON
``{"version","title","message","type"}``). See https://appriseit.com/services/ for every
scheme.

A URL usually holds a secret (bot token, mail password), so a ``Channel`` is named in logs,
messages and queue payloads only by its ``label``: the scheme and a short hash of the URL.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field

from core.errors import TemporaryError, ValidationError

log = logging.getLogger(__name__)

#: apprise logs request URLs at DEBUG; keep it at WARNING so no secret-bearing URL is logged.
logging.getLogger("apprise").setLevel(logging.WARNING)

#: apprise's ``NotifyType`` values (``info``, ``success``, ``warning``, ``failure``) by severity; apprise
#: itself is imported only to check or send (a desk without channels never loads it).
SEVERITIES = {"info": "info", "success": "success", "warning": "warning", "failure": "failure"}


class ChannelDown(TemporaryError):
    """A channel did not accept a notification (unreachable, refused, 4xx/5xx)."""


@dataclass(frozen=True)
class Channel:
    """One configured destination. ``id``: 12 hex chars of the URL's SHA-256 (stable across
    processes, reveals nothing); ``scheme``: ``tgram``, ``mailto``, ``json`` …"""

    id: str
    scheme: str
    url: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.scheme}#{self.id}"


def channel_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


def _apprise():
    import apprise

    return apprise


def parse_channels(text: str | None) -> list[Channel]:
    """The channels of ``DESK_NOTIFY_URLS`` (empty when unset).

    Raises ``ValidationError`` naming the entry's position and scheme (never the URL) when
    apprise does not understand it.
    """
    channels: list[Channel] = []
    for position, url in enumerate((u for u in re.split(r"[\s,]+", text or "") if u), 1):
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if not scheme or _apprise().Apprise.instantiate(url) is None:
            raise ValidationError(
                f"DESK_NOTIFY_URLS entry {position} (scheme {scheme or '?'!r}) is not a valid apprise URL; "
                "see https://appriseit.com/services/ (Telegram tgram://, e-mail mailto://, webhook json://)")
        cid = channel_id(url)
        if all(c.id != cid for c in channels):
            channels.append(Channel(cid, scheme, url))
    return channels


class AppriseNotifier:
    """Sends one notification to one channel, synchronously (the worker's job)."""

    def send(self, channel: Channel, *, title: str, body: str, severity: str = "info") -> None:
        """Deliver or raise ``ChannelDown`` (message names the channel label only)."""
        apprise = _apprise()
        client = apprise.Apprise()
        if not client.add(channel.url):
            raise ValidationError(f"channel {channel.label} is not a valid apprise URL")
        ok = client.notify(body=body, title=title, notify_type=apprise.NotifyType(SEVERITIES.get(severity, "info")))
        if not ok:
            raise ChannelDown(f"channel {channel.label} did not accept the notification")


__all__ = ["AppriseNotifier", "Channel", "ChannelDown", "channel_id", "parse_channels"]
