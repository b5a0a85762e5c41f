"""Fetch one RSS/Atom feed over http(s), safely: public addresses only, a time limit, a size
cap, few redirects (issue 15 item 3).

The feed URLs are the trader's, but what they point at is not: a feed (or a redirect) aimed at
``127.0.0.1``, the LAN or a cloud metadata address (``169.254.169.254``) would turn the worker
into a proxy into the desk's own network. So every URL, the first and each redirect target:

* passes ``core.news.check_feed_url`` (http(s), a host, no user name or password);
* has a host whose every DNS address is a *global* address (``ipaddress.is_global``: not
  loopback, private, link-local, shared, reserved or multicast), unless the host is in the
  allow-list (``DESK_NEWS_ALLOW_HOSTS``: the tests' loopback server, a feed on the LAN);
* is fetched with ``httpx`` (the desk's HTTP client) with ``timeout_s`` per connect/read and
  the same ``timeout_s`` for the whole download, at most ``max_redirects`` redirects, and at
  most ``max_bytes`` of (decompressed) body: a bigger ``Content-Length`` is refused before the
  body is read, and a body that grows past the cap is cut off and refused.

Known limit: the address check resolves the name before httpx connects and httpx resolves it
again, so a DNS server that answers differently within that moment (DNS rebinding) is not
caught; pinning the connection to the checked address would need a custom transport.

Every refusal raises :class:`FeedRefused` (a ``DataError``: the caller skips the feed with
its message); an unreachable server or a time-out raises :class:`FeedUnavailable` (a
``TemporaryError``: the next poll tries again).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from core.errors import DataError, TemporaryError, ValidationError
from core.news import check_feed_url
from core.text_caps import shown

if TYPE_CHECKING:  # pragma: no cover
    import httpx

# httpx (~6 MB resident with its CLI extras) is imported by ``fetch_feed``, i.e. only in a worker
# that polls a feed: the worker imports this module with every actor.

#: what the desk sends as its User-Agent (feeds refuse clients without one)
USER_AGENT = "PaperDesk-news/1.0 (+paper trading desk; RSS/Atom reader)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"


class FeedRefused(DataError):
    """The feed may not be fetched or its answer is not acceptable (message says why)."""


class FeedUnavailable(TemporaryError):
    """The feed's server could not be reached or did not answer in time."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits of one fetch: seconds, bytes, redirects, and hosts exempt from the public-address
    check (lower-case names or literal addresses)."""

    timeout_s: float = 10.0
    max_bytes: int = 2_000_000
    max_redirects: int = 3
    allow_hosts: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class FetchedFeed:
    """The body (bytes, at most the policy's ``max_bytes``) of ``final_url`` (after redirects)."""

    url: str
    final_url: str
    body: bytes
    content_type: str


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def check_public_host(url: str, allow_hosts: frozenset[str]) -> None:
    """Raise :class:`FeedRefused` unless ``url``'s host is allow-listed or every address it
    resolves to is a global (public) address; :class:`FeedUnavailable` if it does not resolve."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in allow_hosts:
        return
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FeedUnavailable(f"feed host {host!r} does not resolve ({exc}); check the URL") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            kind = ("loopback" if address.is_loopback else "link-local" if address.is_link_local
                    else "private" if address.is_private else "non-public")
            raise FeedRefused(f"feed URL {shown(url)} resolves to {address}, a {kind} address: feeds must be on "
                              "public addresses (DESK_NEWS_ALLOW_HOSTS lists hosts exempt from this check)")


def _checked(url: str, policy: FetchPolicy) -> str:
    try:
        url = check_feed_url(url)
    except ValidationError as exc:
        raise FeedRefused(str(exc)) from None
    check_public_host(url, policy.allow_hosts)
    return url


def fetch_feed(url: str, policy: FetchPolicy, client: httpx.Client | None = None) -> FetchedFeed:
    """GET ``url`` under ``policy`` (see the module docstring) and return its body.

    Raises ``FeedRefused`` (bad or non-public URL, too many redirects, an HTTP error status, a
    body over the cap) or ``FeedUnavailable`` (DNS, connection or time-out)."""
    import httpx

    first = current = _checked(url, policy)
    own = client is None
    client = client or httpx.Client(follow_redirects=False, timeout=httpx.Timeout(policy.timeout_s),
                                    headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})
    deadline = time.monotonic() + policy.timeout_s
    try:
        for _hop in range(policy.max_redirects + 1):
            try:
                with client.stream("GET", current, follow_redirects=False) as response:
                    if response.is_redirect:
                        target = urljoin(current, response.headers.get("location", ""))
                        current = _checked(target, policy)
                        continue
                    if response.status_code >= 400:
                        raise FeedRefused(f"feed {shown(current)} answered HTTP {response.status_code}")
                    body = _read_capped(response, current, policy, deadline)
                    return FetchedFeed(first, current, body, response.headers.get("content-type", ""))
            except httpx.TimeoutException:
                raise FeedUnavailable(f"feed {shown(current)} did not answer within {policy.timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise FeedUnavailable(f"feed {shown(current)} could not be fetched: {type(exc).__name__}: "
                                      f"{shown(str(exc), 120)}") from None
        raise FeedRefused(f"feed {shown(first)} redirected more than {policy.max_redirects} times")
    finally:
        if own:
            client.close()


def _read_capped(response: httpx.Response, url: str, policy: FetchPolicy, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FeedRefused(f"feed {shown(url)} is {_mb(int(declared))}, over the {_mb(policy.max_bytes)} cap "
                          "(DESK_NEWS_MAX_FEED_BYTES); skipped")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > policy.max_bytes:
            raise FeedRefused(f"feed {shown(url)} is over the {_mb(policy.max_bytes)} cap "
                              "(DESK_NEWS_MAX_FEED_BYTES); skipped")
        if time.monotonic() > deadline:
            raise FeedUnavailable(f"feed {shown(url)} took longer than {policy.timeout_s:g} s to download")
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["FeedRefused", "FeedUnavailable", "FetchPolicy", "FetchedFeed", "check_public_host", "fetch_feed"]
