"""The desk's one Kite request funnel: kiteconnect's errors become the desk's here, and only here.

pykiteconnect maps the ``error_type`` of Kite's error envelope to an exception class
(``kiteconnect.exceptions``; ``KiteConnect._request``). :func:`translate` maps those classes,
and ``requests``' transport errors, to the desk's errors in one table:

====================================================  =======================================
kiteconnect / requests                                desk error
====================================================  =======================================
``TokenException`` (403: token expired or refused)    :class:`KiteSessionExpired` (log in again)
``PermissionException`` (403)                         :class:`KitePermissionDenied`
``OrderException``                                    :class:`KiteOrderRejected`
``InputException`` (400)                              ``ValidationError`` with Kite's message
``NetworkException`` (429 "Too many requests", 503),  :class:`KiteUnavailable` (``TemporaryError``:
``DataException`` (502), ``GeneralException`` with    retry later)
HTTP ≥ 429, ``requests`` connection errors/timeouts
``GeneralException`` below 429 (unexpected 4xx)       :class:`KiteError`
====================================================  =======================================

Every Kite REST call of the desk goes through :func:`kite_request` (a context manager) or a
:class:`FunnelledKite` (a ``KiteConnect`` whose every method runs inside it); build clients
with :func:`connect`. Each desk error keeps ``kite_type`` (the original class name) and
``code`` (the HTTP status, ``None`` for a transport error). Messages never contain a token or
secret: pass them as ``secrets`` and they are masked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core.errors import DeskError, TemporaryError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from kiteconnect import KiteConnect
    from kiteconnect import exceptions as kex


class _KiteOrigin:
    """Mixin: where a translated error came from (kiteconnect class name and HTTP status)."""

    kite_type: str = ""
    code: int | None = None


class KiteLoginRequired(_KiteOrigin, DeskError):
    """No valid Kite session: the user must log in to Kite from the Settings page."""


class KiteSessionExpired(KiteLoginRequired):
    """Kite refused the access token (``TokenException``): it expired (06:00 IST) or was revoked."""


class KiteUnavailable(_KiteOrigin, TemporaryError):
    """Kite could not be reached or asked us to slow down (429, 5xx, network): retry later."""


class KitePermissionDenied(_KiteOrigin, DeskError):
    """The Kite app lacks the permission or subscription for this call (``PermissionException``)."""


class KiteOrderRejected(_KiteOrigin, DeskError):
    """Kite's order system refused an order request (``OrderException``)."""


class KiteError(_KiteOrigin, DeskError):
    """Any other Kite failure (an unexpected ``GeneralException`` below HTTP 429)."""


def _kex():
    """``kiteconnect.exceptions``, imported on first use: kiteconnect loads Twisted and autobahn
    (~30 MB), which a process that never calls Kite (the clock) should not hold."""
    from kiteconnect import exceptions

    return exceptions


def _transport() -> tuple[type[BaseException], ...]:
    """``requests``' network errors (a Kite call that never reached Kite)."""
    import requests

    return requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError


def _mask(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text[:300]


def _desk_class(exc: kex.KiteException) -> type[DeskError]:
    kex = _kex()
    if isinstance(exc, kex.TokenException):
        return KiteSessionExpired
    if isinstance(exc, kex.PermissionException):
        return KitePermissionDenied
    if isinstance(exc, kex.OrderException):
        return KiteOrderRejected
    if isinstance(exc, (kex.NetworkException, kex.DataException)):
        return KiteUnavailable
    if isinstance(exc, kex.GeneralException) and int(getattr(exc, "code", 500) or 500) >= 429:
        return KiteUnavailable
    return KiteError


def translate(exc: BaseException, what: str, secrets: Iterable[str] = ()) -> Exception | None:
    """The desk error for ``exc`` raised by the Kite call described by ``what`` (e.g.
    ``"historical minute for 408065"``), or ``None`` if ``exc`` is not Kite's or the network's.

    ``InputException`` becomes ``ValidationError`` naming the call and Kite's message; the
    other classes follow the module's table.
    """
    secrets = tuple(secrets)
    kex = _kex()
    if isinstance(exc, kex.KiteException):
        message = _mask(str(exc), secrets)
        code = getattr(exc, "code", None)
        name = type(exc).__name__
        if isinstance(exc, kex.InputException):
            return ValidationError(f"Kite refused {what} as bad input: {message}")
        cls = _desk_class(exc)
        hint = {KiteSessionExpired: "log in to Kite again from the Settings page",
                KiteUnavailable: "try again later"}.get(cls, "check the request")
        err = cls(f"Kite {what} failed: {name} (HTTP {code}): {message}; {hint}")
    elif isinstance(exc, _transport()):
        name, code = type(exc).__name__, None
        err = KiteUnavailable(f"cannot reach Kite for {what} ({name}); check the network and try again")
    else:
        return None
    err.kite_type, err.code = name, code
    return err


@contextmanager
def kite_request(what: str, secrets: Iterable[str] = ()) -> Iterator[None]:
    """Run one Kite call; re-raise kiteconnect's and ``requests``' errors as the desk's
    (:func:`translate`). The desk's own errors and anything else pass through unchanged."""
    try:
        yield
    except Exception as exc:  # only Kite's and the network's are translated; the rest re-raised as is
        err = translate(exc, what, secrets)
        if err is None:
            raise
        raise err from None


class FunnelledKite:
    """A ``KiteConnect`` whose every public method runs inside :func:`kite_request`.

    Attributes (``access_token``, ``api_key``…) read and write through to the wrapped client;
    ``raw`` is the client itself (for the few things kiteconnect keeps in private fields).
    """

    __slots__ = ("raw",)

    def __init__(self, kite: KiteConnect) -> None:
        object.__setattr__(self, "raw", kite)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if name.startswith("_") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            with kite_request(name.replace("_", " ")):
                return attr(*args, **kwargs)

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.raw, name, value)


def funnelled(kite: Any) -> Any:
    """``kite`` behind the funnel (a :class:`FunnelledKite`); unchanged if it already is one."""
    return kite if isinstance(kite, FunnelledKite) else FunnelledKite(kite)


def connect(api_key: str, access_token: str | None = None, root: str | None = None,
            timeout: int | None = None) -> FunnelledKite:
    """A funnelled ``KiteConnect`` (``root=None`` is real Kite; the replay passes its URL)."""
    from kiteconnect import KiteConnect

    kwargs: dict[str, Any] = {"access_token": access_token, "root": root}
    if timeout is not None:
        kwargs["timeout"] = timeout
    return FunnelledKite(KiteConnect(api_key, **kwargs))
