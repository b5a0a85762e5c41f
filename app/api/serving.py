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
