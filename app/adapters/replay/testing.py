"""TEST-ONLY endpoints of the replay server, mounted only with ``--test-endpoints``
(``ReplayConfig.test_endpoints``). Real Kite has nothing like them; the desk never calls them.

* ``POST /_test/fail?path=/instruments/historical&status=429&count=N[&error_type=…]``: the next
  ``N`` requests whose path starts with ``path`` answer Kite's error envelope with that HTTP
  status (429 → ``NetworkException`` "Too many requests", 500 → ``GeneralException``, 502 →
  ``DataException``, 503 → ``NetworkException`` unless ``error_type`` says otherwise).
* ``GET /_test/requests?path=…``: ``[[path, unix_time], …]`` of every request seen (for
  counting request rates).
* ``POST /_test/invalidate``: invalidate every access token (as if Kite flushed sessions) and
  close their ticker sockets.
* ``POST /_test/order_update`` (JSON body = the order postback): send
  ``{"type":"order","data":…}`` to every open ticker socket; ``/_test/ws_error`` sends
  ``{"type":"error","data":…}``. Returns how many sockets got it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.replay.server import ReplayState

_DEFAULT_TYPE = {429: "NetworkException", 500: "GeneralException", 502: "DataException", 503: "NetworkException",
                 403: "TokenException"}


def _state(request: Request) -> ReplayState:
    return request.app.state.replay


async def fail(request: Request) -> JSONResponse:
    q = request.query_params
    status = int(q.get("status", "429"))
    count = int(q.get("count", "1"))
    error_type = q.get("error_type") or _DEFAULT_TYPE.get(status, "GeneralException")
    _state(request).fail_next.extend([(q.get("path", "/"), status, error_type)] * count)
    return JSONResponse({"queued": count})


async def requests_seen(request: Request) -> JSONResponse:
    prefix = request.query_params.get("path", "/")
    return JSONResponse([[p, t] for p, t in _state(request).request_log if p.startswith(prefix)])


async def invalidate_all(request: Request) -> JSONResponse:
    state = _state(request)
    with state.auth._lock:
        tokens = list(state.auth._access)
        state.auth._access.clear()
    for conn in list(state.connections):
        if conn.access_token in tokens:
            await conn.expire()
    return JSONResponse({"invalidated": len(tokens)})


async def _broadcast(request: Request, kind: str) -> JSONResponse:
    body = await request.body()
    data = json.loads(body) if body else {}
    frame = json.dumps({"type": kind, "data": data})
    sent = 0
    for conn in list(_state(request).connections):
        try:
            await conn.ws.send_text(frame)
            sent += 1
        except Exception:  # a closing socket
            pass
    return JSONResponse({"sent": sent})


async def order_update(request: Request) -> JSONResponse:
    return await _broadcast(request, "order")


async def ws_error(request: Request) -> JSONResponse:
    return await _broadcast(request, "error")


routes = [
    Route("/_test/fail", fail, methods=["POST"]),
    Route("/_test/requests", requests_seen, methods=["GET"]),
    Route("/_test/invalidate", invalidate_all, methods=["POST"]),
    Route("/_test/order_update", order_update, methods=["POST"]),
    Route("/_test/ws_error", ws_error, methods=["POST"]),
]
