"""Serving the API's ASGI app under uvicorn, with one or many worker processes."""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


class TcpConfig(uvicorn.Config):
    """uvicorn's config with a listening socket that says it is TCP.

    uvicorn 0.54 binds the shared socket of ``--workers N`` with ``proto`` 0; accepted
    connections inherit it and asyncio then never sets ``TCP_NODELAY``, so every keep-alive
    answer after the first waits ~40 ms for the client's delayed ACK (Nagle; Kludex/uvicorn
    issue #3149). One worker is unaffected (asyncio binds from ``getaddrinfo``)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp


#: Threads per worker process for the synchronous route handlers (FastAPI runs them through
#: anyio's thread limiter, 40 by default). The desk's handlers are CPU-bound under the GIL:
#: 16 proposals in flight on 40 threads contend for it, and bench/api.py measured one worker's
#: proposals at ~172/s on 40 threads and ~226/s on 2 (Dec 2026, 2 cores).
DEFAULT_THREADS = 2


def limit_threads(threads: int) -> None:
    """Cap this process's threads for synchronous handlers (anyio's default limiter) at
    ``threads``; call from inside the running event loop (the app's lifespan)."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def serve(app: str, *, host: str, port: int, workers: int, factory: bool = True) -> None:
    """Serve the ASGI ``app`` (an import string) on ``host:port`` with ``workers`` processes.
    Blocks until stopped. Raises ``SystemExit`` if uvicorn cannot start."""
    config = TcpConfig(app, factory=factory, host=host, port=port, workers=workers, log_level="warning",
                       access_log=False)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(f"the API could not start on {host}:{port} (see the log above)")
