"""FastAPI dependencies of the API: the service graph, and the caller's key and scope.

``get_services()`` is this process's ``app.container.services()`` (one graph per uvicorn
worker, shared by its requests: treat it as read-only). ``require_scope(scope)`` authenticates
the request's API key (``Authorization: Bearer pdk_…`` or ``X-API-Key: pdk_…``), checks
``scope`` and takes one rate-limit permit (``ApiKeyService.admit``: a key verified in the last
few seconds is not read from the store again, and its revocation check and the permit share one
Redis round trip); it returns the :class:`Principal` or raises
:class:`ApiError` (401 no/bad/revoked key, 403 scope, 429 rate limit with ``Retry-After``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Depends, Request

from app.container import Services, services
from app.ops.api_keys import SCOPES, ApiKeyRefused


class ApiError(Exception):
    """An HTTP error with a JSON body ``{"error": {"code", "message", "field"?, "reasons"?}}``."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 reasons: list[str] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.reasons, self.headers = field, reasons, headers or {}

    def body(self) -> dict:
        err: dict = {"code": self.code, "message": self.message}
        if self.field is not None:
            err["field"] = self.field
        if self.reasons is not None:
            err["reasons"] = self.reasons
        return {"error": err}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: ``user`` (the key's owner: every write is audited with it), ``key_id``
    (the key's public prefix) and its ``scopes``."""

    user: str
    key_id: str
    scopes: frozenset[str]


async def get_services() -> Services:
    """This process's service graph (``app.container.services()``, built once per process).
    Async so FastAPI calls it on the event loop, not through a worker thread per request."""
    return services()


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return (request.headers.get("x-api-key") or "").strip() or None


def require_scope(scope: str) -> Callable[..., Principal]:
    """A dependency that lets the call through only with a valid key carrying ``scope``."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {SCOPES}")

    def dependency(request: Request, svc: Services = Depends(get_services)) -> Principal:
        try:
            key, wait = svc.api_keys.admit(_token(request), scope, now=datetime.now(UTC))
        except ApiKeyRefused as exc:
            raise ApiError(401, f"key_{exc.reason}", str(exc), field="Authorization",
                           headers={"WWW-Authenticate": "Bearer"}) from exc
        if not key.allows(scope):
            raise ApiError(403, "scope", f"this call needs the '{scope}' scope; key {key.prefix} has "
                                         f"{', '.join(sorted(key.scopes))}", field="scope")
        if wait > 0:
            raise ApiError(429, "rate_limited", f"key {key.prefix} is limited to {key.rate_per_minute} "
                                                f"requests a minute; retry in {wait:.1f} s",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        principal = Principal(user=key.username, key_id=key.key_id, scopes=key.scopes)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


__all__ = ["ApiError", "Principal", "Services", "get_services", "require_scope"]
