"""A loopback HTTP server that speaks the Gemini REST API, driven by the real google-genai client.

``POST /{v1|v1beta}/models/{model}:generateContent`` with header ``x-goog-api-key``. Answers:

* a bad key (anything but ``FakeGemini.api_key``): 400 ``INVALID_ARGUMENT`` "API key not valid";
* a model not in ``known_models``: 404 ``NOT_FOUND``;
* otherwise the next scripted reply (``push``), or ``default`` when the script is empty.

Scripted replies (build them with the helpers): ``answer(obj)`` a valid response whose text is
``json.dumps(obj)``; ``raw_text(s)`` any text (malformed JSON); ``error(code)`` a Google error
body; ``slow(seconds, reply)`` waits before answering (timeouts). Every request is recorded in
``requests`` as ``(path, headers, body)``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    delay: float = 0.0


def answer(obj: Any, prompt_tokens: int = 1200, output_tokens: int = 300, model_version: str = "fake-001") -> Reply:
    """A 200 response whose candidate text is ``obj`` as JSON."""
    return raw_text(json.dumps(obj), prompt_tokens, output_tokens, model_version)


def raw_text(text: str, prompt_tokens: int = 1200, output_tokens: int = 300, model_version: str = "fake-001") -> Reply:
    return Reply(200, {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
                          "totalTokenCount": prompt_tokens + output_tokens},
        "modelVersion": model_version,
    })


def error(code: int, message: str | None = None) -> Reply:
    status = _STATUS.get(code, "UNKNOWN")
    return Reply(code, {"error": {"code": code, "message": message or f"fake {status}", "status": status}})


def slow(seconds: float, reply: Reply) -> Reply:
    return Reply(reply.status, reply.body, delay=seconds)


@dataclass
class FakeGemini:
    """The running fake. ``url`` is the base URL to give the client."""

    api_key: str = "test-key"
    known_models: set[str] = field(default_factory=lambda: {"gemini-2.5-flash", "gemini-2.5-pro"})
    default: Reply | None = None
    requests: list[tuple[str, dict[str, str], dict]] = field(default_factory=list)
    _script: deque = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None

    def push(self, *replies: Reply) -> None:
        self._script.extend(replies)

    def clear(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.default = None

    @property
    def calls(self) -> int:
        return len(self.requests)

    def start(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                fake.requests.append((self.path, dict(self.headers), body))
                reply = fake._route(self.path, self.headers.get("x-goog-api-key", ""))
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json; charset=UTF-8")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-gemini").start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _route(self, path: str, key: str) -> Reply:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] not in ("v1", "v1beta") or parts[1] != "models" or ":" not in parts[2]:
            return error(404, f"unknown path {path}")
        model, method = parts[2].split(":", 1)
        if key != self.api_key:
            return error(400, "API key not valid. Please pass a valid API key.")
        if model not in self.known_models:
            return error(404, f"models/{model} is not found for API version {parts[0]}, or is not supported "
                              f"for {method}.")
        if self._script:
            return self._script.popleft()
        if self.default is not None:
            return self.default
        return error(500, "the fake has no scripted reply")
