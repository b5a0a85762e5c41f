"""The API's uvicorn listener for ``--workers N`` is bound as TCP, so accepted connections get
``TCP_NODELAY`` (uvicorn 0.54 binds it with proto 0: ~40 ms per keep-alive answer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import uvicorn

from app.api.serving import TcpConfig
from tests.api.conftest import ROOT, _wait_healthy
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
    sock = _bound(TcpConfig)
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


def test_api_process_with_two_workers_serves_the_same_desk(api_sqlite, tmp_path):
    """``python -m app.api --workers 2`` (uvicorn's supervisor spawns the workers, which must
    unpickle the config) answers health and an authenticated read on keep-alive connections."""
    port, log = free_port(), tmp_path / "api-2.log"
    env = {**{k: v for k, v in os.environ.items() if k != "DESK_BROKER"}, **api_sqlite.env, "DESK_ENV": "dev"}
    env.pop("SUPABASE_URL", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.api", "--port", str(port), "--workers", "2"], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        token = api_sqlite.key("read")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            answers = [client.get("/orders").status_code for _ in range(20)]
        assert answers == [200] * 20, log.read_text()[-2000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_app_caps_the_sync_handler_threads_while_it_runs():
    """create_app's lifespan sets anyio's default thread limiter to DEFAULT_THREADS (40 without)."""
    import anyio.to_thread
    from fastapi.testclient import TestClient

    from app.api.server import create_app
    from app.api.serving import DEFAULT_THREADS

    with TestClient(create_app()) as client:
        seen = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert seen == DEFAULT_THREADS != 40
