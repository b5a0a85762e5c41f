"""The ticker process: ``python -m workers.ticker`` (Procfile ``ticker``).

One long-lived process around the real ``kiteconnect.KiteTicker`` (its Twisted reactor cannot
be restarted, so it never lives inside Streamlit or an actor):

* **Connections.** Kite allows 3,000 instruments per WebSocket and 3 WebSockets per api_key
  (``core.ticker_shards``). The process opens as many ``KiteTicker`` connections as the
  subscriptions need (1–3), all in **one Twisted reactor**: ``KiteTicker.connect()`` only
  starts the reactor when it is not running, otherwise it just opens its own socket
  (``connectWS``) — each instance has its own factory, protocol, reconnect and ping loops, and
  kiteconnect keeps no per-process socket state. So no child process per shard is needed.
  Tokens stay on the connection they were placed on (``ShardedSubscriptions``); a fourth
  connection is never opened: more than 9,000 instruments are refused as a whole with a clear
  message in ``desk:ticker:subscriptions`` (``read_subscriptions``; the current subscriptions
  stay).
* **Subscriptions** come from the watchlist (or ``--tokens``), the open positions and the
  pending approvals (``app.market.subscriptions.DeskSubscriptions``), each with its
  mode (``ltp``/``quote``/``full``; ``--tokens 408065:ltp``); re-read every
  ``--watchlist-refresh`` seconds and only the difference is (un)subscribed per connection, so
  dashboard edits, new positions and new approvals take effect live. After a reconnect each
  connection resubscribes everything it carries, per mode.
* takes raw binary messages through ``on_message`` into
  :class:`app.market.ticker_ingest.TickerService` (``on_ticks`` is left unset so
  kiteconnect's slow per-packet parser never runs); text frames (``order``/``error``) are logged;
* **stale ticks**: a background thread (``StaleTickWatcher``) asks Kite's REST ``/quote`` (500
  instruments per call, 1 call/s shared through Redis) for instruments on connected sockets whose
  latest tick is older than ``--stale-after`` seconds, and writes them into the tick cache;
* every ``--status-interval`` seconds flushes quiet instruments' bars and writes its heartbeat
  (``desk:ticker:status``: connected = every connection open) and the subscription report;
* after a dropped connection KiteTicker reconnects; before each attempt the session is
  re-checked (``ensure_access_token``: a restarted replay server issues new tokens);
* Redis or the market unreachable at start: one clear log line per attempt, then a retry;
* the session key ``desk:kite:session`` is polled every ``--status-interval``: a new login (a
  different active token) reconnects every connection with it, a logout or expiry stops them; a
  ``TokenException`` (the market refuses the token: an error frame naming it, or a refused
  reconnect confirmed by a REST probe) marks the session expired, closes the connections cleanly,
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
from typing import Any

log = logging.getLogger("workers.ticker")

#: Redis key where the ticker reports its session state: ``{"state": "active"|"expired", "at"}``.
TICKER_SESSION_KEY = "desk:ticker:session"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m workers.ticker", description=__doc__.splitlines()[0])
    p.add_argument("--tokens", default="",
                   help="comma-separated instrument tokens (optionally TOKEN:ltp|quote|full) to stream instead "
                        "of the watchlist; positions and approvals are still added")
    p.add_argument("--mode", default="full", choices=("ltp", "quote", "full"), help="mode of watchlist tokens")
    p.add_argument("--watchlist-refresh", type=float, default=5.0,
                   help="seconds between reads of the watchlist, positions and approvals")
    p.add_argument("--stale-after", type=float, default=15.0,
                   help="seconds without a tick before the REST quote fallback fills an instrument (0: off)")
    p.add_argument("--stale-check", type=float, default=5.0, help="seconds between stale-tick checks")
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
    """Wires 1–3 ``KiteTicker`` connections (one reactor) to one ``TickerService``.

    ``make_kws(access_token)`` builds a ``KiteTicker``; ``wanted()`` returns ``{token: mode}``
    (raises to keep the current subscriptions). All callbacks run on the reactor thread.
    """

    def __init__(self, make_kws: Callable[[str], object], service, wanted: Callable[[], dict[int, str]], *,
                 api_key: str = "", refresh_session: Callable[[], str] | None = None, status_interval: float = 1.0,
                 watchlist_refresh: float = 5.0, redis_client=None,
                 probe_token: Callable[[str], bool | None] | None = None, auto_login: bool = True,
                 access_token: str | None = None, subscriptions=None) -> None:
        from app.market.subscriptions import ShardedSubscriptions

        self.make_kws = make_kws
        self.redis = redis_client
        self.probe_token = probe_token
        self.auto_login = auto_login
        self.paused = False
        self.service = service
        self.wanted = wanted
        self.refresh_session = refresh_session
        self.api_key = api_key
        self.status_interval = status_interval
        self.watchlist_refresh = watchlist_refresh
        self.exit_code = 0
        self.subs = subscriptions or ShardedSubscriptions()
        self.kws_list: list = []
        self.sources: dict[str, int] = {}
        self.watcher = None  # StaleTickWatcher, started by run()
        self.streaming: dict[int, float] = {}  # replaced (never mutated) for the watcher thread
        self._last_watchlist = 0.0
        self._last_refused = ""
        self._access_token = access_token

    # ------------------------------------------------------------------ connections
    def _new_kws(self, index: int):
        kws = self.make_kws(self._access_token or "")
        kws.on_ticks = None  # never run kiteconnect's per-packet parser
        kws.on_message = self.on_message
        kws.on_connect = lambda ws, response: self.on_connect(index, ws, response)
        kws.on_close = lambda ws, code, reason: self.on_close(index, ws, code, reason)
        kws.on_error = lambda ws, code, reason: self.on_error(index, ws, code, reason)
        kws.on_reconnect = lambda ws, attempts: self.on_reconnect(index, ws, attempts)
        kws.on_noreconnect = self.on_noreconnect
        self.kws_list.append(kws)
        return kws

    def ensure_connections(self) -> None:
        """Create (and, in a running reactor, connect) a ``KiteTicker`` per shard that has none."""
        from twisted.internet import reactor

        while len(self.kws_list) < len(self.subs.shards):
            index = len(self.kws_list)
            kws = self._new_kws(index)
            if reactor.running and not self.paused:
                kws.connect()  # the reactor runs: this only opens this connection's socket
                log.info("ticker: opened connection %d of %d", index + 1, len(self.subs.shards))

    def _link_changed(self) -> None:
        self.service.set_link(self.subs.connected, self.subs.subscribed())
        self.streaming = self.subs.streaming_since()

    # ------------------------------------------------------------------ callbacks
    def on_message(self, ws, payload: bytes, is_binary: bool) -> None:
        self.service.feed(payload, datetime.now(UTC), is_binary)

    def on_connect(self, index: int, ws, response) -> None:
        groups = self.subs.on_connected(index)
        ws.subscribed_tokens.clear()  # KiteTicker's own resubscribe must not revive removed tokens
        for mode, tokens in groups.items():
            ws.subscribe(tokens)
            ws.set_mode(mode, tokens)
        self._link_changed()
        log.info("ticker connection %d connected; subscribed %d instruments (%s)", index + 1,
                 sum(len(t) for t in groups.values()), ", ".join(f"{m} {len(t)}" for m, t in groups.items()) or "none")
        self.service.write_status(datetime.now(UTC))

    def on_close(self, index: int, ws, code, reason) -> None:
        self.subs.on_disconnected(index)
        self._link_changed()
        log.warning("ticker connection %d closed (%s %s)", index + 1, code, reason)
        self.service.write_status(datetime.now(UTC))

    def on_error(self, index: int, ws, code, reason) -> None:
        log.warning("ticker connection %d error (%s %s)", index + 1, code, reason)
        if "TokenException" in str(reason):
            from twisted.internet import reactor

            reactor.callLater(0, self.verify_session)

    def on_reconnect(self, index: int, ws, attempts: int) -> None:
        self.service.on_reconnect_attempt()
        log.warning("ticker connection %d reconnecting (attempt %d)", index + 1, attempts)
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
        """Use ``token`` for every connection's next attempt (never logged)."""
        self._access_token = token
        for kws in self.kws_list:
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
        """Stop every connection cleanly (no reconnects) until a new token appears."""
        if self.paused:
            return
        self.paused = True
        self._access_token = None
        for kws in self.kws_list:
            try:
                kws.stop_retry()
                if kws.is_connected():
                    kws._close(1000, "session expired")
            except Exception as exc:  # noqa: BLE001
                log.warning("ticker: closing a connection failed: %s", exc)
        self.subs.all_disconnected()
        self._link_changed()
        self._report("expired", reason)
        log.warning("ticker: Kite session expired; connections stopped: %s", reason)

    def resume(self, token: str) -> None:
        """Connect every connection again with ``token`` (a new login), in the running reactor."""
        from autobahn.twisted.websocket import connectWS

        self._point_at(token)
        self.paused = False
        for kws in self.kws_list:
            f = getattr(kws, "factory", None)
            if f is None:  # created while paused: never connected
                kws.connect()
                continue
            f.continueTrying = True
            f.resetDelay()
            connectWS(f, timeout=getattr(kws, "connect_timeout", 30))
        self._report("active")
        log.info("ticker: new Kite session found; reconnecting %d connection(s)", len(self.kws_list))

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
            for kws in self.kws_list:
                try:
                    if kws.is_connected():
                        kws._close(1000, "new session")  # KiteTicker reconnects with the new URL
                except Exception as exc:  # noqa: BLE001
                    log.warning("ticker: could not close for the new session: %s", exc)

    def on_noreconnect(self, ws) -> None:
        log.error("ticker gave up reconnecting; exiting so the process manager restarts it")
        self.exit_code = 1
        from twisted.internet import reactor

        reactor.stop()

    # ------------------------------------------------------------------ session / subscriptions
    def _refresh_url(self) -> None:
        """Re-check the session; if the token changed, point the next attempts at the new one."""
        if self.refresh_session is None:
            return
        try:
            token = self.refresh_session()
        except Exception as exc:  # noqa: BLE001 - the market may be down; the next attempt retries
            log.warning("ticker: could not refresh the market session: %s", exc)
            return
        if token == self._access_token:
            return
        self._point_at(token)
        log.info("ticker: market session renewed for the next connection attempt")

    def update_subscriptions(self, modes: dict[int, str]) -> bool:
        """Make ``modes`` the wanted subscriptions (sharded); False (logged, reported) if refused."""
        from core.errors import ValidationError

        try:
            opened = self.subs.update(modes)
        except ValidationError as exc:
            if str(exc) != self._last_refused:
                log.error("ticker: subscriptions not changed: %s", exc)
            self._last_refused = str(exc)
            return False
        self._last_refused = ""
        if opened:
            log.info("ticker: %d instruments need %d connections", len(self.subs.wanted()), len(self.subs.shards))
        return True

    def refresh_watchlist(self) -> None:
        """Re-read the wanted subscriptions and send each live connection its difference."""
        try:
            modes = self.wanted()
        except Exception as exc:  # noqa: BLE001 - keep the current subscriptions
            log.warning("ticker: subscriptions not read (%s); keeping %d", exc, len(self.subs.wanted()))
            return
        if not self.update_subscriptions(modes):
            return
        self.ensure_connections()
        for shard in self.subs.shards:
            diff = self.subs.diff(shard.index)
            if not diff:
                continue
            ws = self.kws_list[shard.index]
            try:
                if diff.unsubscribe:
                    ws.unsubscribe(diff.unsubscribe)
                for mode, tokens in diff.subscribe.items():
                    ws.subscribe(tokens)
                    ws.set_mode(mode, tokens)
                for mode, tokens in diff.modes.items():
                    ws.set_mode(mode, tokens)
                log.info("ticker connection %d: subscriptions changed: +%d -%d, %d mode changes", shard.index + 1,
                         sum(map(len, diff.subscribe.values())), len(diff.unsubscribe),
                         sum(map(len, diff.modes.values())))
            except Exception as exc:  # noqa: BLE001 - the socket dropped; on_connect resubscribes all
                log.warning("ticker connection %d: subscription change not sent (%s); will resubscribe on "
                            "reconnect", shard.index + 1, exc)
        self._link_changed()

    def write_report(self, now: datetime) -> None:
        """Publish the subscription report (``desk:ticker:subscriptions``) for the dashboard."""
        if self.redis is None:
            return
        from app.market.subscriptions import SUBSCRIPTIONS_KEY

        report = self.subs.snapshot()
        report.update(sources=self.sources, updated_at=now.isoformat(),
                      fallback=self.watcher.stats() if self.watcher is not None else None)
        try:
            self.redis.set(SUBSCRIPTIONS_KEY, json.dumps(report))
        except Exception as exc:  # noqa: BLE001 - Redis down: the heartbeat reports it
            log.warning("ticker: subscription report not written: %s", exc)

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
        self._link_changed()
        self.service.write_status(now)
        self.write_report(now)

    # ------------------------------------------------------------------ run
    def _start(self) -> None:
        from twisted.internet import task

        for kws in self.kws_list:
            kws.connect()  # the reactor is running: each call only opens its socket
        log.info("ticker: opened %d connection(s)", len(self.kws_list))
        task.LoopingCall(self.periodic).start(self.status_interval, now=True)

    def run(self) -> int:
        """Connect every shard and run the reactor on this thread until SIGTERM/SIGINT; return
        the exit code."""
        from twisted.internet import reactor

        self.ensure_connections()  # the reactor is not running yet: objects only
        if self.watcher is not None:
            self.watcher.start()
        reactor.callWhenRunning(self._start)
        reactor.run()  # blocks; Twisted installs SIGTERM/SIGINT → reactor.stop
        if self.watcher is not None:
            self.watcher.stop()
        self.subs.all_disconnected()
        self._link_changed()
        self.service.close()
        self.service.write_status(datetime.now(UTC))
        self.write_report(datetime.now(UTC))
        log.info("ticker stopped: %d ticks, %d bars, %d malformed frames", self.service.ticks_total,
                 self.service.bars_total, self.service.malformed_total)
        return self.exit_code


def _exit_on_signal(signum, _frame) -> None:
    log.info("ticker: signal %d before start; exiting", signum)
    sys.exit(0)


class _WantedTokens:
    """``() → {token: mode}``: the subscriptions the desk wants now (watchlists, positions,
    open orders, or the fixed ``--tokens``); rebuilds the instrument index on a new dump and
    hands each answer's sources to ``runner`` (set once the runner exists)."""

    def __init__(self, svc: Any, fixed: dict[int, str] | None, mode: str) -> None:
        self.svc = svc
        self.fixed = fixed
        self.mode = mode
        self.runner: TickerRunner | None = None
        self._dump_seen: list = []

    def _check_dump(self) -> None:
        try:  # a new instruments dump (the clock's morning refresh): rebuild the look-up index
            dump = self.svc.store.instruments.dump_date()
            if self._dump_seen and dump != self._dump_seen[0]:
                self.svc.instruments.invalidate()
            self._dump_seen[:] = [dump]
        except Exception as exc:  # noqa: BLE001
            log.warning("ticker: instruments dump date not read (%s)", exc)

    def __call__(self) -> dict[int, str]:
        self._check_dump()
        service, wall = self.svc.ticker_ingest, datetime.now(UTC)
        now = service.market_now(wall) if service.has_market_time else self.svc.market_clock.now(wall).now
        result = self.svc.subscriptions.wanted(now, watchlist=self.fixed, watchlist_mode=self.mode)
        if self.runner is not None:
            self.runner.sources = result.sources
        return result.modes


def _session_probe(api_key: str, rest_root: str) -> Callable[[str], bool | None]:
    """``probe(access_token)``: ``True`` valid, ``False`` expired, ``None`` unknown (network)."""

    def probe(access_token: str) -> bool | None:
        from app.adapters.kite_errors import KiteSessionExpired, connect

        try:
            connect(api_key, access_token=access_token, root=rest_root, timeout=5).profile()
            return True
        except KiteSessionExpired:
            return False
        except Exception as exc:  # noqa: BLE001 - network: unknown
            log.warning("ticker: session probe failed (%s)", type(exc).__name__)
            return None

    return probe


def _stale_watcher(svc: Any, runner: TickerRunner, args: argparse.Namespace) -> Any:
    """The REST quote fallback for instruments whose ticks go stale while streaming."""
    from app.adapters.rate_limit import KITE_QUOTE, RedisRateLimiter
    from app.market.quote_fallback import QuoteFallback, StaleTickWatcher

    def key_of(instrument_token: int) -> str:
        inst = svc.instruments.by_token(instrument_token)
        return f"{inst.exchange}:{inst.tradingsymbol}"

    fallback = QuoteFallback(svc.ticks, key_of, svc.kite,
                             RedisRateLimiter(svc.redis, KITE_QUOTE), stale_after=args.stale_after)
    return StaleTickWatcher(fallback, lambda: runner.streaming, interval=args.stale_check)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    from app.logging_setup import configure_logging

    configure_logging("ticker", level=args.log_level.upper())
    signal.signal(signal.SIGTERM, _exit_on_signal)

    from kiteconnect import KiteTicker

    from app.adapters.kite_session import ensure_access_token, market_roots
    from app.container import services
    from app.market.subscriptions import parse_tokens

    svc = services()
    settings = svc.settings
    _retry("Redis (tick cache)", svc.ticks.ping, args.retry_interval)
    auto_login = settings.market == "replay" and not args.no_auto_login
    refresh = lambda: ensure_access_token(settings, svc.redis, auto_login=auto_login)  # noqa: E731
    token = _retry(f"{settings.market} market session", refresh, args.retry_interval)
    rest_root, ws_root = market_roots(settings)
    api_key = settings.kite_api_key if settings.market == "kite" else settings.replay_api_key

    def make_kws(access_token: str):
        return KiteTicker(api_key, access_token, root=ws_root, reconnect=True,
                          reconnect_max_delay=max(5, args.reconnect_max_delay), reconnect_max_tries=300)

    wanted = _WantedTokens(svc, parse_tokens(args.tokens, args.mode) if args.tokens else None, args.mode)
    runner = TickerRunner(make_kws, svc.ticker_ingest, wanted, api_key=api_key, refresh_session=refresh,
                          status_interval=args.status_interval, watchlist_refresh=args.watchlist_refresh,
                          redis_client=svc.redis, probe_token=_session_probe(api_key, rest_root),
                          auto_login=auto_login, access_token=token)
    wanted.runner = runner
    if args.stale_after > 0:
        runner.watcher = _stale_watcher(svc, runner, args)
    runner._report("active")
    try:
        runner.update_subscriptions(wanted())
    except Exception as exc:  # noqa: BLE001 - the periodic refresh retries
        log.warning("ticker: subscriptions not read at start (%s); will retry", exc)
    runner._last_watchlist = time.monotonic()
    log.info("ticker starting: market=%s, %d instruments on %d connection(s)", settings.market,
             len(runner.subs.wanted()), len(runner.subs.shards))
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
