"""The API's uvicorn listener for ``--workers N`` is bound as TCP, so accepted connections get
``TCP_NODELAY`` (uvicorn 0.54 binds it with proto 0: ~40 ms per keep-alive answer)."""

from __future__ import annotations

import socket

import uvicorn

from app.api.__main__ import _TcpConfig
from tests.servers import free_port


def _bound(config_cls) -> socket.socket:
    return config_cls("app.api.server:create_app", factory=True, host="127.0.0.1", port=free_port(),
                      workers=2).bind_socket()


def test_uvicorn_alone_binds_the_shared_socket_with_proto_0():
    sock = _bound(uvicorn.Config)  # the upstream behaviour the workaround exists for
    try:
        assert sock.proto == 0
    finally:
        sock.close()


def test_the_api_binds_the_shared_socket_as_tcp_so_asyncio_sets_nodelay():
    sock = _bound(_TcpConfig)
    try:
        assert (sock.family, sock.proto, sock.get_inheritable()) == (socket.AF_INET, socket.IPPROTO_TCP, True)
        sock.listen()
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        # asyncio's _set_nodelay looks at exactly this before setting TCP_NODELAY
        assert accepted.proto == socket.IPPROTO_TCP
        accepted.close()
        client.close()
    finally:
        sock.close()
