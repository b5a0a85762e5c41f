"""The ticker process: ``python -m workers.ticker`` (Procfile ``ticker``).

One long-lived process around the real ``kiteconnect.KiteTicker`` (its Twisted reactor cannot
be restarted, so it never lives inside Streamlit or an actor):

* connects to Kite, or to the replay server's ``ws://…/ws`` when no ``KITE_API_KEY`` is set
  (``app.adapters.kite_session.market_roots``), with ``reconnect=True``;
* on every (re)connect subscribes the watchlist's tokens in FULL mode; the watchlist
  (``services().watchlists.tokens()``, or ``--tokens``) is re-read every ``--watchlist-refresh``
  seconds and only the difference is (un)subscribed, so dashboard edits take effect live;
* takes raw binary messages through ``on_message`` into
  :class:`app.services.ticker_service.TickerService` (``on_ticks`` is left unset so
  kiteconnect's slow per-packet parser never runs);
* every ``--status-interval`` seconds flushes quiet instruments' bars and writes its heartbeat
  (``desk:ticker:status``; per-instrument tick ages come from the tick cache);
* after a dropped connection KiteTicker reconnects; before each attempt the session is
  re-checked (``ensure_access_token``: a restarted replay server issues new tokens) and the
  subscriptions are sent again on connect;
* Redis or the market unreachable at start: one clear log line per attempt, then a retry;
* the session key ``desk:kite:session`` is polled every ``--status-interval``: a new login (a
  different active token) reconnects with it, a logout or expiry stops the connection; a
  ``TokenException`` (the market refuses the token: an error frame naming it, or a refused
  reconnect confirmed by a REST probe) marks the session expired, closes the connection cleanly,
  reports ``{"state": "expired"}`` in ``desk:ticker:session`` and waits for the next login, then
  resumes without a restart. In the replay market the ticker logs in again by itself unless
  ``--no-auto-login`` (which behaves like real Kite, where only the user can log in);
* SIGTERM/SIGINT: stops the reactor, writes the remaining bars and a final "disconnected"
  heartbeat, exits 0. Exits 1 if KiteTicker gives up reconnecting.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger("workers.ticker")

#: Redis key where the ticker reports its session state: ``{"state": "active"|"expired", "at"}``.
TICKER_SESSION_KEY = "desk:ticker:session"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m workers.ticker", description=__doc__.splitlines()[0])
    p.add_argument("--tokens", default="",
                   help="comma-separated instrument tokens to subscribe instead of the watchlist")
    p.add_argument("--watchlist-refresh", type=float, default=5.0, help="seconds between watchlist reads")
    p.add_argument("--status-interval", type=float, default=1.0, help="seconds between heartbeats")
    p.add_argument("--reconnect-max-delay", type=int, default=10, help="max seconds between reconnects (>= 5)")
    p.add_argument("--retry-interval", type=float, default=2.0, help="seconds between start-up retries")
    p.add_argument("--no-auto-login", action="store_true",
                   help="replay market: after a refused token wait for a login like real Kite")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def _retry(what: str, fn: Callable, interval: float):
    """Call ``fn`` until it succeeds, logging one clear line per failure."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - any failure at start-up is retried
            log.error("ticker: %s not ready (attempt %d): %s; retrying in %.0fs", what, attempt, exc, interval)
            time.sleep(interval)


class TickerRunner:
    """Wires a ``KiteTicker`` to a ``TickerService``. All callbacks run on the reactor thread."""

    def __init__(self, kws, service, token_source: Callable[[], list[int]], *,
                 api_key: str = "", refresh_session: Callable[[], str] | None = None, status_interval: float = 1.0,
                 watchlist_refresh: float = 5.0, redis_client=None, probe_token: Callable[[str], bool | None] | None = None,
                 auto_login: bool = True) -> None:
        self.kws = kws
        self.redis = redis_client
        self.probe_token = probe_token
        self.auto_login = auto_login
        self.paused = False
        self.service = service
        self.token_source = token_source
        self.refresh_session = refresh_session
        self.api_key = api_key
        self.status_interval = status_interval
        self.watchlist_refresh = watchlist_refresh
        self.exit_code = 0
        self._last_watchlist = 0.0
        self._access_token = None
        kws.on_ticks = None  # never run kiteconnect's per-packet parser
        kws.on_message = self.on_message
        kws.on_connect = self.on_connect
        kws.on_close = self.on_close
        kws.on_error = self.on_error
        kws.on_reconnect = self.on_reconnect
        kws.on_noreconnect = self.on_noreconnect

    # ------------------------------------------------------------------ callbacks
    def on_message(self, ws, payload: bytes, is_binary: bool) -> None:
        self.service.feed(payload, datetime.now(UTC), is_binary)

    def on_connect(self, ws, response) -> None:
        tokens = self.service.on_connected()
        ws.subscribed_tokens.clear()  # KiteTicker's own resubscribe must not revive removed tokens
        if tokens:
            ws.subscribe(tokens)
            ws.set_mode(ws.MODE_FULL, tokens)
        log.info("ticker connected; subscribed %d instruments in full mode", len(tokens))
        self.service.write_status(datetime.now(UTC))

    def on_close(self, ws, code, reason) -> None:
        self.service.on_disconnected()
        log.warning("ticker connection closed (%s %s)", code, reason)
        self.service.write_status(datetime.now(UTC))

    def on_error(self, ws, code, reason) -> None:
        log.warning("ticker connection error (%s %s)", code, reason)
        if "TokenException" in str(reason):
            from twisted.internet import reactor

            reactor.callLater(0, self.verify_session)

    def on_reconnect(self, ws, attempts: int) -> None:
        self.service.on_reconnect_attempt()
        log.warning("ticker reconnecting (attempt %d)", attempts)
        if self.probe_token is None:
            self._refresh_url()
        else:
            self.verify_session()

    # ------------------------------------------------------------------ token lifecycle
    def _report(self, state: str, reason: str = "") -> None:
        if self.redis is None:
            return
        try:
            self.redis.set(TICKER_SESSION_KEY, json.dumps({"state": state, "reason": reason,
                                                           "at": datetime.now(UTC).isoformat()}))
        except Exception as exc:  # noqa: BLE001 - Redis down: the heartbeat reports it
            log.warning("ticker: session state not written: %s", exc)

    def _point_at(self, token: str) -> None:
        """Use ``token`` for the next connection attempt (never logged)."""
        self._access_token = token
        kws = self.kws
        kws.access_token = token
        kws.socket_url = f"{kws.root}?api_key={self.api_key}&access_token={token}"
        f = getattr(kws, "factory", None)
        if f is not None:
            f.setSessionParameters(url=kws.socket_url, origin=f.origin, protocols=f.protocols,
                                   useragent=f.useragent, headers=f.headers, proxy=f.proxy)

    def verify_session(self) -> None:
        """Probe the current token; on ``TokenException`` mark the session expired and pause
        (or, replay with auto-login, log in again)."""
        if self.paused or self.probe_token is None or self._access_token is None:
            return
        verdict = self.probe_token(self._access_token)
        if verdict is not False:
            return  # accepted, or the market is unreachable (keep retrying)
        from app.adapters.kite_session import mark_expired

        if self.redis is not None:
            try:
                mark_expired(self.redis, "the market refused the ticker's token (TokenException)", self._access_token)
            except Exception as exc:  # noqa: BLE001
                log.warning("ticker: could not mark the session expired: %s", exc)
        if self.auto_login and self.refresh_session is not None:
            try:
                token = self.refresh_session()
            except Exception as exc:  # noqa: BLE001 - wait for a login instead
                log.warning("ticker: automatic login failed: %s", exc)
            else:
                self._point_at(token)
                log.info("ticker: logged in again automatically; reconnecting")
                return
        self.pause("the market refused the access token (TokenException); waiting for a new login")

    def pause(self, reason: str) -> None:
        """Stop the connection cleanly (no reconnects) until a new token appears."""
        if self.paused:
            return
        self.paused = True
        self._access_token = None
        kws = self.kws
        try:
            kws.stop_retry()
            if kws.is_connected():
                kws._close(1000, "session expired")
        except Exception as exc:  # noqa: BLE001
            log.warning("ticker: closing the connection failed: %s", exc)
        self.service.on_disconnected()
        self._report("expired", reason)
        log.warning("ticker: Kite session expired; connection stopped: %s", reason)

    def resume(self, token: str) -> None:
        """Connect again with ``token`` (a new login), in the running reactor."""
        from autobahn.twisted.websocket import connectWS

        self._point_at(token)
        self.paused = False
        f = self.kws.factory
        f.continueTrying = True
        f.resetDelay()
        connectWS(f, timeout=getattr(self.kws, "connect_timeout", 30))
        self._report("active")
        log.info("ticker: new Kite session found; reconnecting")

    def check_session(self) -> None:
        """Poll ``desk:kite:session``: resume on a new login, pause on logout/expiry, switch on re-login."""
        if self.redis is None:
            return
        from app.adapters.kite_session import load_session

        try:
            data = load_session(self.redis)
        except Exception as exc:  # noqa: BLE001 - Redis blip: try next time
            log.warning("ticker: session not read: %s", exc)
            return
        token = data.get("access_token") if data and data.get("api_key") == self.api_key else None
        if self.paused:
            if token:
                self.resume(token)
            return
        if token is None:
            if self.auto_login and self.refresh_session is not None:
                return  # replay: the next refused connect logs in again
            self.pause("no active Kite session (logged out or past 06:00 IST); waiting for a new login")
        elif token != self._access_token:
            self._point_at(token)
            log.info("ticker: a new Kite login was stored; reconnecting with it")
            try:
                if self.kws.is_connected():
                    self.kws._close(1000, "new session")  # KiteTicker reconnects with the new URL
            except Exception as exc:  # noqa: BLE001
                log.warning("ticker: could not close for the new session: %s", exc)

    def on_noreconnect(self, ws) -> None:
        log.error("ticker gave up reconnecting; exiting so the process manager restarts it")
        self.exit_code = 1
        from twisted.internet import reactor

        reactor.stop()

    # ------------------------------------------------------------------ session / watchlist
    def _refresh_url(self) -> None:
        """Re-check the session; if the token changed, point the next attempt at the new one."""
        if self.refresh_session is None:
            return
        try:
            token = self.refresh_session()
        except Exception as exc:  # noqa: BLE001 - the market may be down; the next attempt retries
            log.warning("ticker: could not refresh the market session: %s", exc)
            return
        if token == self._access_token:
            return
        self._access_token = token
        kws = self.kws
        root = kws.root
        kws.socket_url = f"{root}?api_key={self.api_key}&access_token={token}"
        f = getattr(kws, "factory", None)
        if f is not None:
            f.setSessionParameters(url=kws.socket_url, origin=f.origin, protocols=f.protocols,
                                   useragent=f.useragent, headers=f.headers, proxy=f.proxy)
        log.info("ticker: market session renewed for the next connection attempt")

    def refresh_watchlist(self) -> None:
        try:
            tokens = self.token_source()
        except Exception as exc:  # noqa: BLE001 - keep the current subscriptions
            log.warning("ticker: watchlist not read (%s); keeping %d subscriptions", exc, len(self.service.desired))
            return
        from core.errors import ValidationError
        from core.ticker_shards import shard

        try:
            shard({int(t): "full" for t in tokens})  # Kite: ≤ 3,000 per connection, ≤ 3 connections
        except ValidationError as exc:
            log.error("ticker: subscriptions not changed: %s", exc)
            return
        if len(set(tokens)) > 3000:
            log.error("ticker: %d instruments need %d connections; this process streams one connection's "
                      "3,000 — subscriptions not changed", len(set(tokens)), len(shard({int(t): "full" for t in tokens})))
            return
        diff = self.service.set_watchlist(tokens)
        if not diff:
            return
        ws = self.kws
        try:
            if diff.unsubscribe:
                ws.unsubscribe(diff.unsubscribe)
            if diff.subscribe:
                ws.subscribe(diff.subscribe)
                ws.set_mode(ws.MODE_FULL, diff.subscribe)
            log.info("ticker: watchlist changed: +%d -%d instruments", len(diff.subscribe), len(diff.unsubscribe))
        except Exception as exc:  # noqa: BLE001 - the socket dropped; on_connect resubscribes all
            log.warning("ticker: subscription change not sent (%s); will resubscribe on reconnect", exc)

    def periodic(self) -> None:
        now = datetime.now(UTC)
        try:
            self.check_session()
        except Exception:  # noqa: BLE001
            log.exception("ticker: session check failed")
        try:
            if time.monotonic() - self._last_watchlist >= self.watchlist_refresh:
                self._last_watchlist = time.monotonic()
                self.refresh_watchlist()
            self.service.flush_bars(now)
        except Exception:  # noqa: BLE001 - a bad tick in the loop must not stop the heartbeat
            log.exception("ticker: periodic task failed")
        self.service.write_status(now)

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        """Connect and run the reactor on this thread until SIGTERM/SIGINT; return the exit code."""
        from twisted.internet import reactor, task

        loop = task.LoopingCall(self.periodic)
        reactor.callWhenRunning(loop.start, self.status_interval, now=True)
        self.kws.connect(threaded=False)  # blocks; Twisted installs SIGTERM/SIGINT → reactor.stop
        self.service.on_disconnected()
        self.service.close()
        self.service.write_status(datetime.now(UTC))
        log.info("ticker stopped: %d ticks, %d bars, %d malformed frames", self.service.ticks_total,
                 self.service.bars_total, self.service.malformed_total)
        return self.exit_code


def _exit_on_signal(signum, _frame) -> None:
    log.info("ticker: signal %d before start; exiting", signum)
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _exit_on_signal)

    from kiteconnect import KiteTicker

    from app.adapters.kite_session import ensure_access_token, market_roots
    from app.container import services
    from app.services.ticker_service import TickerService

    svc = services()
    settings = svc.settings
    cache = svc.ticks
    _retry("Redis (tick cache)", cache.ping, args.retry_interval)
    auto_login = settings.market == "replay" and not args.no_auto_login
    refresh = lambda: ensure_access_token(settings, svc.redis, auto_login=auto_login)  # noqa: E731
    token = _retry(f"{settings.market} market session", refresh, args.retry_interval)
    rest_root, ws_root = market_roots(settings)
    api_key = settings.kite_api_key if settings.market == "kite" else settings.replay_api_key

    if args.tokens:
        fixed = [int(t) for t in args.tokens.split(",") if t.strip()]
        token_source: Callable[[], list[int]] = lambda: fixed  # noqa: E731
    else:
        token_source = svc.watchlists.tokens

    service = TickerService(cache, market=settings.market, background_bars=True)
    kws = KiteTicker(api_key, token, root=ws_root, reconnect=True,
                     reconnect_max_delay=max(5, args.reconnect_max_delay), reconnect_max_tries=300)
    def probe(access_token: str) -> bool | None:
        from kiteconnect import KiteConnect
        from kiteconnect import exceptions as kite_errors

        try:
            KiteConnect(api_key, access_token=access_token, root=rest_root, timeout=5).profile()
            return True
        except kite_errors.TokenException:
            return False
        except Exception as exc:  # noqa: BLE001 - network: unknown
            log.warning("ticker: session probe failed (%s)", type(exc).__name__)
            return None

    runner = TickerRunner(kws, service, token_source, api_key=api_key, refresh_session=refresh,
                          status_interval=args.status_interval, watchlist_refresh=args.watchlist_refresh,
                          redis_client=svc.redis, probe_token=probe, auto_login=auto_login)
    runner._access_token = token
    runner._report("active")
    try:
        service.set_watchlist(token_source())
    except Exception as exc:  # noqa: BLE001 - the periodic refresh retries
        log.warning("ticker: watchlist not read at start (%s); will retry", exc)
    log.info("ticker starting: market=%s, %d instruments", settings.market, len(service.desired))
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
