"""The web origin's two cookie routes, served by Streamlit's own server (``st.App(routes=...)``).

A Streamlit script cannot answer an HTTP request, so it cannot set an ``HttpOnly`` cookie.
After the sign-in form succeeds, the page (``app.ui.auth``) posts a one-time code to:

* ``POST /desk-auth/session`` with JSON ``{"code": "..."}``: ``AuthService.redeem`` swaps the
  code for the session's cookie token; 204 with ``Set-Cookie: paperdesk_session=<signed>;
  HttpOnly; SameSite=Lax; Path=/; Max-Age=<DESK_SESSION_HOURS>`` (``Secure`` over HTTPS), or
  403 ``{"detail": why}``.
* ``POST /desk-auth/sign-out`` with JSON ``{"cookie": sha256 of the value}``: when the browser's
  cookie is that value, revokes its session server-side (the Redis record is deleted, so a copy
  of the cookie stops working) and clears the cookie; another value (a newer sign-in in another
  tab) is left alone. 204 either way.

Both refuse a cross-site request (an ``Origin`` header whose host is not this one): 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.ops.session_cookie import COOKIE_NAME, cookie_digest

SESSION_PATH = "/desk-auth/session"
SIGN_OUT_PATH = "/desk-auth/sign-out"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _refuse(why: str) -> JSONResponse:
    return JSONResponse({"detail": why}, status_code=403)


async def _field(request: Request, name: str) -> str | None:
    """A string field of the request's JSON object body (``None`` when absent or malformed)."""
    try:
        body = await request.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def session_routes(auth: Callable[[], Any]) -> list[Route]:
    """The two routes; ``auth`` returns the desk's ``AuthService`` (built on first request)."""

    async def open_session(request: Request) -> Response:
        if not _same_origin(request):
            return _refuse("cross-site request refused")
        code = await _field(request, "code")
        service = await run_in_threadpool(auth)
        result = await run_in_threadpool(service.redeem, code)
        if not result.ok:
            return _refuse(result.message)
        cookie = await run_in_threadpool(service.cookie)
        response = Response(status_code=204)
        response.set_cookie(COOKIE_NAME, cookie.wrap(result.token), max_age=cookie.max_age, path="/",
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    async def end_session(request: Request) -> Response:
        if not _same_origin(request):
            return _refuse("cross-site request refused")
        value = request.cookies.get(COOKIE_NAME)
        if not value or await _field(request, "cookie") != cookie_digest(value):
            return Response(status_code=204)
        service = await run_in_threadpool(auth)
        cookie = await run_in_threadpool(service.cookie)
        await run_in_threadpool(service.sign_out, cookie.unwrap(value))
        response = Response(status_code=204)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")
        return response

    return [Route(SESSION_PATH, open_session, methods=["POST"]),
            Route(SIGN_OUT_PATH, end_session, methods=["POST"])]


__all__ = ["SESSION_PATH", "SIGN_OUT_PATH", "session_routes"]
