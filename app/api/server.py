"""The API application: ``create_app() -> FastAPI`` (uvicorn runs it with ``factory=True``).

Every route lives under ``/api/v1`` (``app.api.routes`` and the webhook intake
``app.api.webhooks``); OpenAPI at ``/api/v1/openapi.json``, Swagger UI at ``/api/v1/docs``.
Swagger UI's JS, CSS and favicon are served by this process from ``/api/v1/docs-assets/`` (the
``swagger-ui-bundle`` package's dist folder), not a CDN, so the docs page works offline.

Errors are JSON, ``{"error": {"code", "message", "field"?, "reasons"?}}``:

* 400 ``bad_json`` malformed JSON; 413 ``too_large`` a body over ``MAX_BODY_BYTES``;
* 422 ``invalid`` a field fails validation (``field`` names it, e.g. ``body.quantity``), or the
  desk's ``ValidationError``; 404 ``not_found`` unknown symbol or id;
* 401 / 403 / 429 from ``app.api.deps.require_scope``; 409 ``refused`` a gatekeeper refusal
  (``reasons`` are its ``ReasonCode`` values); 503 ``unavailable`` Redis, the store or Kite
  down (``TemporaryError``), with ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.deps import ApiError
from core.errors import TemporaryError, ValidationError

log = logging.getLogger("paperdesk.api")
audit_log = logging.getLogger("paperdesk.api.audit")

PREFIX = "/api/v1"
#: Largest request body accepted (bytes); a larger one gets 413 before it is read.
MAX_BODY_BYTES = 64 * 1024
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _field(loc: tuple | list) -> str:
    return ".".join(str(p) for p in loc)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return JSONResponse({"error": {"code": "bad_json", "message": f"malformed JSON: {first.get('msg', '')}",
                                           "field": "body"}}, status_code=400)
        details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in errors]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return JSONResponse({"error": {"code": "invalid", "message": message,
                                       "field": details[0]["field"] if details else None,
                                       "details": details}}, status_code=422)

    @app.exception_handler(ValidationError)
    async def _desk_invalid(_request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"error": {"code": "invalid", "message": str(exc)}}, status_code=422)

    @app.exception_handler(TemporaryError)
    async def _temporary(_request: Request, exc: TemporaryError) -> JSONResponse:
        return JSONResponse({"error": {"code": "unavailable", "message": str(exc)}}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


class BodyLimit:
    """Pure ASGI middleware: a body over ``MAX_BODY_BYTES`` gets 413 JSON, by its
    ``Content-Length`` before it is read, or (chunked, no length) while it streams in: such a
    body is buffered up to the limit and then handed on whole."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def _refuse(self, send, size: int | None) -> None:
        said = f"{size:,} bytes" if size is not None else f"over {self.limit:,} bytes"
        body = json.dumps({"error": {"code": "too_large", "field": "body",
                                     "message": f"request body is {said}; at most {self.limit:,} bytes "
                                                "are accepted"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.limit:
                await self._refuse(send, int(length))
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") not in _WRITES:
            await self.app(scope, receive, send)
            return
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                await self._refuse(send, None)
                return
            if not message.get("more_body", False):
                break
        buffered = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():
            return buffered.pop() if buffered else await receive()

        await self.app(scope, replay, send)


class WriteLog:
    """Pure ASGI middleware: one ``paperdesk.api.audit`` log line per write: who (the key's owner
    and key id), what (method, path) and the status. The trading writes are also in the desk's
    audit table with the owner as actor (the services write it); this line covers every other
    write too. Reads pass straight through (no wrapper, no task: the hot path of the API)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _WRITES:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def note_status(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, note_status)
        finally:
            code = status[0] if status else 500
            who = (scope.get("state") or {}).get("principal")  # request.state.principal (deps)
            method, path = scope["method"], scope["path"]
            audit_log.info("api write %s %s -> %s", method, path, code,
                           extra={"user": getattr(who, "user", None), "key_id": getattr(who, "key_id", None),
                                  "method": method, "path": path, "status": code})


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    from app.api.serving import DEFAULT_THREADS, limit_threads

    limit_threads(DEFAULT_THREADS)
    yield


def create_app() -> FastAPI:
    """The API application (routes, webhook intake, JSON errors, body limit, write log)."""
    from app.api import webhooks
    from app.logging_setup import configure_logging

    configure_logging("api")  # each uvicorn worker process builds its own app

    app = FastAPI(lifespan=_lifespan, title="PaperDesk API", version="1", openapi_url=f"{PREFIX}/openapi.json",
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=f"{PREFIX}/docs/oauth2-redirect",
                  description="The desk's services over HTTP: market data, research jobs, strategies, risk, "
                              "orders and positions. Authenticate with an API key from the Settings page "
                              "(`Authorization: Bearer pdk_…`).")
    _install_errors(app)
    app.add_middleware(WriteLog)
    app.add_middleware(BodyLimit)
    router = APIRouter(prefix=PREFIX)
    from app.api import routes

    router.include_router(routes.router)
    app.include_router(router)
    app.include_router(webhooks.router, prefix=PREFIX)
    _install_docs(app)
    return app


#: Where the self-hosted Swagger UI assets are served (under the API prefix, so a proxy of
#: ``/api/`` reaches them too).
DOCS_ASSETS = f"{PREFIX}/docs-assets"


def _install_docs(app: FastAPI) -> None:
    """Swagger UI at ``/api/v1/docs`` with its assets served locally (FastAPI's "self-hosting
    JavaScript and CSS for docs"): the page references only ``DOCS_ASSETS`` URLs."""
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    async def swagger_ui_html():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    @app.get(app.swagger_ui_oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect():
        return get_swagger_ui_oauth2_redirect_html()


__all__ = ["DOCS_ASSETS", "MAX_BODY_BYTES", "PREFIX", "create_app"]
