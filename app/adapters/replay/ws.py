"""KiteTicker WebSocket endpoint of the replay server (``kite-protocol.md`` §2.6).

* ``/ws?api_key=…&access_token=…``: bad credentials are refused at the upgrade (HTTP 403).
  More than ``max_connections`` sockets per api_key: an error text frame, then close.
* Client messages (JSON text): ``{"a":"subscribe","v":[tokens]}`` (quote mode, like Kite),
  ``{"a":"unsubscribe","v":[…]}``, ``{"a":"mode","v":["ltp"|"quote"|"full",[…]]}``.
  Bad messages (malformed JSON, unknown action, a token not in the instruments dump, more than
  ``max_instruments`` on one connection) get ``{"type":"error","data":"…"}``; the socket stays.
* Server: a 1-byte heartbeat about every second; binary frames with every derived tick of the
  subscribed instruments since the last send, in time order (``frames.encode_ticks``). A new
  subscription (or mode change) first gets the latest tick as a snapshot, as Kite does.
  With ``--loop`` a new lap starts again from the session start.
* ``DELETE /session/token`` of a socket's access token sends an error text frame and closes the
  socket (code 1008); reconnecting with that token is refused at the upgrade.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.adapters.replay.frames import Group, encode_ticks
from core.kite_wire import HEARTBEAT, is_index

if TYPE_CHECKING:  # pragma: no cover
    from app.adapters.replay.server import ReplayState

log = logging.getLogger(__name__)

MODES = ("ltp", "quote", "full")
SEND_INTERVAL = 0.05
HEARTBEAT_INTERVAL = 1.0


class Connection:
    def __init__(self, ws: WebSocket, state: ReplayState) -> None:
        self.ws = ws
        self.state = state
        self.modes: dict[int, str] = {}
        self.groups: list[Group] = []
        self.last = -1
        self.lap = state.clock.lap()
        self.access_token = ws.query_params.get("access_token")

    async def expire(self) -> None:
        """The token was invalidated: say so in an error frame and close (code 1008)."""
        try:
            await self.ws.send_text(json.dumps({"type": "error", "data": "TokenException: session expired or "
                                                                           "invalidated; log in again"}))
            await self.ws.close(code=1008)
        except Exception:  # the socket may already be gone
            pass

    def regroup(self) -> None:
        m = self.state.market
        buckets: dict[tuple[str, bool], tuple[list[int], list[int]]] = {}
        for token, mode in self.modes.items():
            row = m.row_for(token)
            if row is None:
                continue
            b = buckets.setdefault((mode, is_index(token)), ([], []))
            b[0].append(token)
            b[1].append(row)
        self.groups = [Group(mode, idx, np.array(t, dtype=np.int64), np.array(r, dtype=np.int64))
                       for (mode, idx), (t, r) in sorted(buckets.items())]

    async def error(self, message: str) -> None:
        log.info("replay ws: %s", message)
        await self.ws.send_text(json.dumps({"type": "error", "data": message}))

    async def snapshot(self, tokens: list[int]) -> None:
        if self.last < 0 or not tokens:
            return
        m = self.state.market
        wanted = set(tokens)
        groups = []
        for g in self.groups:
            keep = np.isin(g.tokens, list(wanted))
            if keep.any():
                groups.append(Group(g.mode, g.index, g.tokens[keep], g.rows[keep]))
        for frame in encode_ticks(m, groups, self.last, self.last):
            await self.ws.send_bytes(frame)

    async def handle(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            await self.error(f"malformed JSON message: {text[:80]!r}")
            return
        if not isinstance(msg, dict) or msg.get("a") not in ("subscribe", "unsubscribe", "mode"):
            await self.error("unknown action; send {\"a\": \"subscribe\"|\"unsubscribe\"|\"mode\", \"v\": …}")
            return
        action, value = msg["a"], msg.get("v")
        if action == "mode":
            if (not isinstance(value, list) or len(value) != 2 or value[0] not in MODES
                    or not isinstance(value[1], list)):
                await self.error('invalid mode message; send {"a":"mode","v":["ltp"|"quote"|"full",[tokens]]}')
                return
            mode, tokens = value
        else:
            mode, tokens = "quote", value
        if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            await self.error(f"invalid {action} message: `v` must be a list of integer instrument tokens")
            return
        m = self.state.market
        unknown = [t for t in tokens if not m.in_dump(t)]
        if unknown:
            await self.error(f"unknown instrument token(s) {unknown[:20]}: not in the instruments dump")
        tokens = [t for t in dict.fromkeys(tokens) if m.in_dump(t)]
        if action == "unsubscribe":
            for t in tokens:
                self.modes.pop(t, None)
            self.regroup()
            return
        changed = []
        limit = self.state.config.max_instruments
        refused = 0
        for t in tokens:
            if action == "subscribe":
                if t in self.modes:
                    continue
                if len(self.modes) >= limit:
                    refused += 1
                    continue
                self.modes[t] = mode
                changed.append(t)
            elif t in self.modes and self.modes[t] != mode:
                self.modes[t] = mode
                changed.append(t)
        if refused:
            await self.error(f"too many instruments: at most {limit} per connection; {refused} not subscribed")
        if changed:
            self.regroup()
            await self.snapshot(changed)

    async def pump(self) -> None:
        """Send ticks and heartbeats until the socket closes."""
        clock, m = self.state.clock, self.state.market
        self.last = m.tick_index_at(clock.now())
        next_hb = 0.0
        while True:
            now = clock.now()
            lap = clock.lap()
            if lap != self.lap:
                self.lap = lap
                self.last = m.tick_index_at(clock.start) - 1
            idx = m.tick_index_at(now)
            if idx > self.last:
                for frame in encode_ticks(m, self.groups, self.last + 1, idx):
                    await self.ws.send_bytes(frame)
                self.last = idx
            mono = time.monotonic()
            if mono >= next_hb:
                await self.ws.send_bytes(HEARTBEAT)
                next_hb = mono + HEARTBEAT_INTERVAL
            await asyncio.sleep(SEND_INTERVAL)


async def ticker_endpoint(ws: WebSocket) -> None:
    state: ReplayState = ws.app.state.replay
    if not state.auth.valid(ws.query_params.get("api_key"), ws.query_params.get("access_token")):
        log.info("replay ws: refused a connection with bad credentials")
        await ws.close(code=1008)  # before accept: uvicorn answers the upgrade with HTTP 403
        return
    await ws.accept()
    if not state.auth.open_socket(state.config.max_connections):
        msg = f"403: too many connections; at most {state.config.max_connections} per api_key"
        log.info("replay ws: %s", msg)
        await ws.send_text(json.dumps({"type": "error", "data": msg}))
        await ws.close(code=1008)
        return
    conn = Connection(ws, state)
    state.connections.add(conn)
    pump = asyncio.create_task(conn.pump())
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("text") is not None:
                try:
                    await conn.handle(message["text"])
                except Exception:
                    log.exception("replay ws: failed to handle a message")
            if pump.done():
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        pump.cancel()
        try:
            await pump
        except (asyncio.CancelledError, Exception):
            pass
        state.connections.discard(conn)
        state.auth.close_socket()
