"""Loopback fakes of third-party HTTP APIs, driven by the real SDKs in tests.

Each fake is a `LoopbackServer`: a stdlib HTTP server on 127.0.0.1 and a free port, served
from a daemon thread, started with `start()` (or `with Fake() as fake:`) and stopped with
`stop()`. Subclasses implement `handle(request) -> Response`.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import urlencode, urlsplit

__all__ = ["LoopbackServer", "Request", "Response", "post_form"]


@dataclass(frozen=True)
class Request:
    """An HTTP request as the fake received it."""

    method: str
    path: str  # without the query string
    query: str  # raw, still percent-encoded
    headers: Message
    body: bytes


@dataclass
class Response:
    """What the fake answers. `after` runs once the answer is on the wire (callbacks)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None

    @classmethod
    def json(cls, status: int, payload: Any, **kwargs: Any) -> Response:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), **kwargs)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test, a stopped test) is not a fake's error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stop() leaves no idle keep-alive sockets and
    # a stopped fake refuses connections at once.
    protocol_version = "HTTP/1.0"
    server_version = "LoopbackFake/1.0"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output, not an access log."""

    def _dispatch(self) -> None:
        owner = cast(_Server, self.server).owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(self.command, split.path, split.query, self.headers, body)
        delay = owner.delay
        if delay > 0:
            time.sleep(delay)
        try:
            response = owner.handle(request)
        except Exception:
            # A bug in the fake shows up in the test's failure, not as a hang.
            response = Response(500, traceback.format_exc().encode(), "text/plain")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
        self.wfile.flush()
        if response.after is not None:
            response.after()


class LoopbackServer:
    """Base of the fakes: lifecycle, address and the scripted response delay."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._delay = 0.0

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (connections to it are then refused)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def delay(self) -> float:
        return self._delay

    def set_delay(self, seconds: float) -> None:
        """Answer every following request `seconds` late (0 to stop): timeouts, races."""
        self._delay = max(0.0, seconds)


def post_form(
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """POST `params` form-encoded to `url`; returns (status code, body text)."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            target,
            body=urlencode(params),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()
