"""Kite Connect v3 REST endpoints of the replay server (``kite-protocol.md`` §2.2–2.4).

Served at the origin root so ``KiteConnect(api_key, root="http://127.0.0.1:P")`` works
unmodified. Success: ``{"status": "success", "data": …}``; errors use Kite's envelope
``{"status": "error", "message", "data": null, "error_type"}`` (InputException 400,
TokenException 403, GeneralException 500). A handler that fails unexpectedly is logged and
answered with GeneralException; the server keeps running.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.adapters.replay.adjust import adjust_frame
from app.adapters.replay.auth import AuthError
from core.models import INTERVAL_MINUTES
from core.timeutil import IST

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.replay.server import ReplayState

log = logging.getLogger(__name__)

MAX_QUOTE, MAX_LTP = 500, 1000
_STATUS = {"InputException": 400, "TokenException": 403, "PermissionException": 403,
           "GeneralException": 500, "DataException": 502, "NetworkException": 503}


class KiteError(Exception):
    def __init__(self, error_type: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def ok(data) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def error(error_type: str, message: str, status: int | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, "data": None, "error_type": error_type},
                        status_code=status or _STATUS.get(error_type, 500))


def _injected_failure(request: Request, state: ReplayState) -> None:
    """TEST ONLY: record the request and raise a failure queued by ``POST /_test/fail``."""
    if not state.config.test_endpoints:
        return
    import time as _t

    path = request.url.path
    state.request_log.append((path + ("?" + request.url.query if request.url.query else ""), _t.time()))
    for i, (prefix, status, error_type) in enumerate(state.fail_next):
        if path.startswith(prefix):
            del state.fail_next[i]
            msg = "Too many requests" if status == 429 else f"Injected {status} for tests"
            raise KiteError(error_type, msg, status)


def _fmt(dt: datetime) -> str:
    return dt.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def endpoint(auth_required: bool = True):
    """Wrap a handler: check the Authorization header, map errors to Kite's envelope."""

    def wrap(fn):
        @functools.wraps(fn)
        async def handler(request: Request):
            state: ReplayState = request.app.state.replay
            try:
                _injected_failure(request, state)
                if auth_required:
                    header = request.headers.get("authorization", "")
                    scheme, _, cred = header.partition(" ")
                    key, _, token = cred.partition(":")
                    if scheme.lower() != "token" or not state.auth.valid(key, token):
                        raise KiteError("TokenException", "Incorrect `api_key` or `access_token`.")
                return await fn(request, state)
            except KiteError as exc:
                log.info("replay REST %s %s -> %s: %s", request.method, request.url.path,
                         exc.error_type, exc.message)
                return error(exc.error_type, exc.message, exc.status)
            except Exception:  # never let a bad request kill the server
                log.exception("replay REST %s %s failed", request.method, request.url.path)
                return error("GeneralException", "Internal error in the replay server.")

        return handler

    return wrap


# ------------------------------------------------------------------------- session
@endpoint(auth_required=False)
async def login(request: Request, state: ReplayState):
    api_key = request.query_params.get("api_key", "")
    try:
        request_token = state.auth.issue_request_token(api_key)
    except AuthError as exc:
        raise KiteError("InputException", str(exc)) from None
    target = request.query_params.get("redirect_url") or state.config.redirect_url \
        or str(request.url_for("login_finish"))
    parts = urlsplit(target)
    query = parse_qsl(parts.query) + [("request_token", request_token), ("action", "login"),
                                      ("status", "success")]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


@endpoint(auth_required=False)
async def login_finish(request: Request, state: ReplayState):
    return ok(dict(request.query_params))


def _profile(state: ReplayState) -> dict:
    return {"user_id": "PD0001", "user_name": "PaperDesk Replay", "user_shortname": "Replay",
            "email": "replay@paperdesk.local", "user_type": "individual", "broker": "ZERODHA",
            "exchanges": ["NSE"], "products": ["CNC", "MIS"],
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"], "avatar_url": None,
            "meta": {"demat_consent": "physical"}}


@endpoint(auth_required=False)
async def session_token(request: Request, state: ReplayState):
    form = await request.form()
    try:
        access = state.auth.exchange(str(form.get("api_key", "")), str(form.get("request_token", "")),
                                     str(form.get("checksum", "")))
    except AuthError as exc:
        raise KiteError("TokenException", str(exc)) from None
    data = _profile(state) | {"api_key": state.auth.api_key, "access_token": access,
                              "public_token": access[:16], "refresh_token": "", "enctoken": "",
                              "login_time": _fmt(datetime.now(IST))}
    return ok(data)


@endpoint(auth_required=False)
async def session_delete(request: Request, state: ReplayState):
    token = request.query_params.get("access_token", "")
    if request.query_params.get("api_key") != state.auth.api_key or not state.auth.invalidate(token):
        raise KiteError("TokenException", "Incorrect `api_key` or `access_token`.")
    await _drop_sockets(state, token)
    return ok(True)


async def _drop_sockets(state: ReplayState, token: str) -> None:
    """Close ticker connections opened with an invalidated ``token`` (as Kite ends them at logout)."""
    for conn in list(state.connections):
        if conn.access_token == token:
            await conn.expire()


@endpoint()
async def profile(request: Request, state: ReplayState):
    return ok(_profile(state))


def _margin() -> dict:
    cash = 1_000_000.0
    return {"enabled": True, "net": cash,
            "available": {"adhoc_margin": 0, "cash": cash, "opening_balance": cash, "live_balance": cash,
                          "collateral": 0, "intraday_payin": 0},
            "utilised": {k: 0 for k in ("debits", "exposure", "m2m_realised", "m2m_unrealised", "option_premium",
                                        "payout", "span", "holding_sales", "turnover", "liquid_collateral",
                                        "stock_collateral", "delivery")}}


@endpoint()
async def margins(request: Request, state: ReplayState):
    segment = request.path_params.get("segment")
    if segment is None:
        return ok({"equity": _margin(), "commodity": _margin() | {"enabled": False}})
    if segment not in ("equity", "commodity"):
        raise KiteError("InputException", f"Invalid segment {segment!r}; use equity or commodity.")
    return ok(_margin())


# ------------------------------------------------------------------------- instruments
@endpoint()
async def instruments(request: Request, state: ReplayState):
    exchange = request.path_params.get("exchange")
    body = state.instruments_csv()
    if exchange is not None and exchange != "NSE":
        body = body.splitlines()[0] + "\n"  # the replay carries NSE only
    return Response(body, media_type="text/csv")


def _parse_when(raw: str | None, name: str) -> datetime:
    if not raw:
        raise KiteError("InputException", f"missing `{name}`; send YYYY-MM-DD HH:MM:SS (IST)")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    raise KiteError("InputException", f"invalid `{name}` {raw!r}; send YYYY-MM-DD HH:MM:SS (IST)")


@endpoint()
async def historical(request: Request, state: ReplayState):
    interval = request.path_params["interval"]
    if interval not in INTERVAL_MINUTES:
        raise KiteError("InputException", f"invalid interval {interval!r}; use one of {', '.join(INTERVAL_MINUTES)}")
    try:
        token = int(request.path_params["token"])
    except ValueError:
        raise KiteError("InputException", "invalid instrument token") from None
    frm = _parse_when(request.query_params.get("from"), "from")
    to = _parse_when(request.query_params.get("to"), "to")
    if frm > to:
        raise KiteError("InputException", "`from` date cannot be after `to` date.")
    if len(request.query_params.get("to", "")) == 10:
        to = to + timedelta(days=1) - timedelta(seconds=1)
    if not state.market.in_dump(token):
        raise KiteError("InputException", f"invalid token {token}")
    with_oi = request.query_params.get("oi") in ("1", "true")
    frame = state.market.historical(token, interval, frm, to, state.clock.now())
    frame = adjust_frame(frame, state.adjust_by_token.get(token))  # --adjust (replay.adjust)
    candles = []
    for ts, row in zip(frame.index, frame.itertuples(index=False)):
        c = [ts.strftime("%Y-%m-%dT%H:%M:%S%z"), float(row.open), float(row.high), float(row.low),
             float(row.close), int(row.volume)]
        if with_oi:
            c.append(0)
        candles.append(c)
    return ok({"candles": candles})


# ------------------------------------------------------------------------- quotes
def _keys(request: Request, limit: int) -> list[str]:
    keys = request.query_params.getlist("i")
    if not keys:
        raise KiteError("InputException", "no instruments: send one or more `i=EXCHANGE:TRADINGSYMBOL`")
    if len(keys) > limit:
        raise KiteError("InputException", f"too many instruments ({len(keys)}); at most {limit} per call")
    return keys


def _snapshot(state: ReplayState, key: str) -> dict | None:
    m = state.market
    token = m.instrument_key_token(key)
    if token is None:
        return None
    row = m.row_for(token)
    if row is None:
        return None
    now = state.clock.now()
    i = m.tick_index_at(now)
    pc = m.prev_close_paise[row] / 100
    if i < 0:
        ltp = o = h = lo = pc
        vol = ltq = 0
        atp = 0.0
        ltt = m.open_dt - timedelta(days=1)
        base = 1
    else:
        at = m.at(row, i)  # from the row's path: a quote does not build the streamed arrays
        ltp, o = at.price / 100, m.day_open[row] / 100
        h, lo = at.high / 100, at.low / 100
        vol, ltq, atp = int(at.cumvol), int(at.ltq), at.atp / 100
        ltt = m.tick_time(i)
        base = int(at.depth_base)
    return {"token": token, "row": row, "now": now, "ltp": ltp, "ohlc": {"open": o, "high": h, "low": lo, "close": pc},
            "volume": vol, "ltq": ltq, "atp": atp, "ltt": ltt, "base": base, "i": i}


@endpoint()
async def quote(request: Request, state: ReplayState):
    out = {}
    m = state.market
    for key in _keys(request, MAX_QUOTE):
        s = _snapshot(state, key)
        if s is None:
            continue
        row = s["row"]
        index = bool(m.is_index[row])
        tick = m.tick_paise[row] / 100
        levels = range(1, 6)
        qty = [s["base"] * k for k in levels]
        buy = [] if index else [{"price": round(max(s["ltp"] - k * tick, tick), 2), "quantity": q,
                                 "orders": 1 + q // 500} for k, q in zip(levels, qty)]
        sell = [] if index else [{"price": round(s["ltp"] + k * tick, 2), "quantity": q,
                                  "orders": 1 + q // 500} for k, q in zip(levels, qty)]
        lower, upper = m.circuit_limits(row, s["i"])
        close = s["ohlc"]["close"]
        out[key] = {
            "instrument_token": s["token"], "timestamp": _fmt(s["now"]), "last_trade_time": _fmt(s["ltt"]),
            "last_price": s["ltp"], "last_quantity": s["ltq"], "buy_quantity": sum(q for q in qty) if not index else 0,
            "sell_quantity": sum(q for q in qty) if not index else 0, "volume": s["volume"],
            "average_price": s["atp"], "oi": 0, "oi_day_high": 0, "oi_day_low": 0,
            "net_change": round(s["ltp"] - close, 2) if close else 0,
            "lower_circuit_limit": lower, "upper_circuit_limit": upper, "ohlc": s["ohlc"],
            "depth": {"buy": buy, "sell": sell},
        }
    return ok(out)


@endpoint()
async def quote_ohlc(request: Request, state: ReplayState):
    out = {}
    for key in _keys(request, MAX_LTP):
        s = _snapshot(state, key)
        if s is not None:
            out[key] = {"instrument_token": s["token"], "last_price": s["ltp"], "ohlc": s["ohlc"]}
    return ok(out)


@endpoint()
async def quote_ltp(request: Request, state: ReplayState):
    out = {}
    for key in _keys(request, MAX_LTP):
        s = _snapshot(state, key)
        if s is not None:
            out[key] = {"instrument_token": s["token"], "last_price": s["ltp"]}
    return ok(out)


# ------------------------------------------------------------------------- charges
@endpoint()
async def contract_note(request: Request, state: ReplayState):
    """``POST /charges/orders`` (Kite's virtual contract note, ``get_virtual_contract_note``):
    a JSON list of executed orders ``{order_id, exchange, tradingsymbol, transaction_type,
    variety, product, order_type, quantity, average_price}`` answered, in the same order, as
    Kite does: each order's fields with ``price`` and ``charges`` (``transaction_tax``,
    ``exchange_turnover_charge``, ``sebi_turnover_charge``, ``brokerage``, ``stamp_duty``,
    ``gst {igst, cgst, sgst, total}``, ``total``).

    The replay's note is computed by the desk's own rules (``core.contract_note.note_charges``
    with the charge schedule of the replayed day): it checks the reconciliation's plumbing, not
    Zerodha's rates. InputException for a body that is not a non-empty list of such orders.
    """
    from core.charges import backfilled_schedules, schedule_for
    from core.contract_note import NoteOrder, note_charges, to_kite_charges
    from core.errors import ValidationError

    try:
        body = await request.json()
    except ValueError:
        raise KiteError("InputException", "send the orders as a JSON list") from None
    if not isinstance(body, list) or not body or not all(isinstance(o, dict) for o in body):
        raise KiteError("InputException", "send a non-empty JSON list of orders")
    try:
        orders = [NoteOrder.from_kite(o if o.get("order_id") else {**o, "order_id": f"#{i}"})
                  for i, o in enumerate(body)]
        charges = note_charges(orders, schedule_for(state.config.day, backfilled_schedules()))
    except ValidationError as exc:
        raise KiteError("InputException", str(exc)) from None
    return ok([{"transaction_type": str(o.side), "tradingsymbol": o.tradingsymbol, "exchange": o.exchange,
                "variety": o.variety, "product": str(o.product), "order_type": o.order_type,
                "quantity": o.quantity, "price": float(o.average_price),
                "charges": to_kite_charges(charges[o.order_id])} for o in orders])


# ------------------------------------------------------------------------- order margins
@functools.lru_cache(maxsize=1)
def _margin_rules():
    from app.adapters.bundled_market import margin_table
    from core.margins import MarginRules

    return MarginRules(margin_table())


@endpoint()
async def order_margins(request: Request, state: ReplayState):
    """``POST /margins/orders`` (Kite's ``order_margins``): a JSON list of orders ``{exchange,
    tradingsymbol, transaction_type, variety, product, order_type, quantity, price,
    trigger_price}`` answered, in the same order, as Kite does: ``type`` ("equity"),
    ``tradingsymbol``, ``exchange``, ``span``, ``exposure``, ``option_premium``, ``additional``,
    ``bo``, ``cash``, ``var``, ``pnl {realised, unrealised}``, ``leverage``, ``total`` (₹).

    The replay's figure is computed by the desk's own rules (``core.margins.MarginRules`` over
    the bundled margin table, no open position): it checks the plumbing, not Zerodha's figures.
    The order is judged at its ``price``, or at the replayed LTP when the price is 0 (MARKET,
    SL-M). InputException for a body that is not a non-empty list of such orders, or an
    instrument the replay does not carry.
    """
    from decimal import Decimal, InvalidOperation

    from core.errors import ValidationError
    from core.orders import OrderIntent, OrderType, Product, Side, price_from_float

    try:
        body = await request.json()
    except ValueError:
        raise KiteError("InputException", "send the orders as a JSON list") from None
    if not isinstance(body, list) or not body or not all(isinstance(o, dict) for o in body):
        raise KiteError("InputException", "send a non-empty JSON list of orders")
    out = []
    for o in body:
        key = f"{o.get('exchange', '')}:{o.get('tradingsymbol', '')}"
        snap = _snapshot(state, key)
        if snap is None:
            raise KiteError("InputException", f"Invalid instrument {key!r}: the replay does not carry it")
        try:
            price = Decimal(str(o.get("price") or 0))
            if price <= 0:
                price = price_from_float(snap["ltp"])
            intent = OrderIntent(snap["token"], str(o["tradingsymbol"]), Side(o.get("transaction_type")),
                                 o.get("quantity"), Product(o.get("product")), OrderType.LIMIT, price=price)
            total = _margin_rules().required(intent, price)
        except (ValidationError, ValueError, KeyError, InvalidOperation) as exc:
            raise KiteError("InputException", f"bad order for {key}: {exc}") from None
        notional = price * intent.quantity
        out.append({"type": "equity", "tradingsymbol": intent.tradingsymbol, "exchange": o["exchange"],
                    "span": 0, "exposure": 0, "option_premium": 0, "additional": 0, "bo": 0, "cash": 0,
                    "var": float(total), "pnl": {"realised": 0, "unrealised": 0},
                    "leverage": float(notional / total) if total > 0 else 1, "total": float(total)})
    return ok(out)


routes = [
    Route("/connect/login", login, methods=["GET"]),
    Route("/connect/finish", login_finish, methods=["GET"], name="login_finish"),
    Route("/session/token", session_token, methods=["POST"]),
    Route("/session/token", session_delete, methods=["DELETE"]),
    Route("/user/profile", profile, methods=["GET"]),
    Route("/user/margins", margins, methods=["GET"]),
    Route("/user/margins/{segment}", margins, methods=["GET"]),
    Route("/instruments", instruments, methods=["GET"]),
    Route("/instruments/historical/{token}/{interval}", historical, methods=["GET"]),
    Route("/instruments/{exchange}", instruments, methods=["GET"]),
    Route("/quote", quote, methods=["GET"]),
    Route("/quote/ohlc", quote_ohlc, methods=["GET"]),
    Route("/quote/ltp", quote_ltp, methods=["GET"]),
    Route("/charges/orders", contract_note, methods=["POST"]),
    Route("/margins/orders", order_margins, methods=["POST"]),
]


