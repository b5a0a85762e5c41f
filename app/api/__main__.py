"""``python -m app.api [--host H] [--port P] [--workers N]``: run the API under uvicorn.

The Procfile passes ``DESK_API_ADDRESS`` (default 127.0.0.1), ``DESK_API_PORT`` (8502) and
``DESK_API_WORKERS`` (1) from the shell, as it does ``PORT`` for the dashboard.
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess


class _TcpConfig(uvicorn.Config):
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
    config = _TcpConfig(app, factory=factory, host=host, port=port, workers=workers, log_level="warning",
                        access_log=False)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(f"the API could not start on {host}:{port} (see the log above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.api", description="PaperDesk REST API (/api/v1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8502, help="TCP port (default 8502)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65_535:
        parser.error(f"--port must be 1 – 65,535, was {args.port}")
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers must be 1 – 64, was {args.workers}")
    serve("app.api.server:create_app", host=args.host, port=args.port, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
