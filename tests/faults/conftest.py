"""Faults survived with nothing lost: shared machinery.

The fault tests run the hub's real processes (uvicorn, Celery) on a PostgreSQL database of
their own, made once for the whole folder (`fault_db`: migrated, seeded with the demo's
reference data, its quiet settings), since migrating costs most of a test's time. Each test
works on cases and messages of its own and reads the outcome with plain SQL.

`CuttableProxy` stands between a process and the real Redis: cutting it closes every
connection and refuses new ones, as a Redis that went down; restoring it serves again on the
same port. The shared Redis server itself is never stopped.

Without PostgreSQL (or Redis) these tests are skipped with the reason, except under CI=true,
where they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.alerts.test_worker_crash import (
    DatabaseUnavailable,
    HubDatabase,
    database_create,
    run_python,
)
from tests.conftest import in_ci, redis_or_skip
from tests.e2e.conftest import _free_port, _wait_until_up, serve, stop

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

TOKENS_SCRIPT = """
import json
import sys

import django

django.setup()

from django.contrib.auth.models import User

from incidents.services import token_issue

print(json.dumps({
    name: token_issue(user_id=User.objects.get(username=name).pk, name="faults")
    for name in sys.argv[1:]
}))
"""


def skip_or_fail(message: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true, so this fault test may not be skipped: {message}")
    pytest.skip(message)


@dataclass
class FaultHub:
    """The fault tests' PostgreSQL database, its environment and API tokens."""

    db: HubDatabase
    tokens: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return dict(self.db.env)

    @property
    def data_dir(self) -> Path:
        return self.db.data_dir

    def query(self, statement: Any, params: Any = ()) -> list[tuple[Any, ...]]:
        return self.db.query(statement, params)

    def district_id(self) -> int:
        return int(self.query("SELECT id FROM incidents_district ORDER BY id LIMIT 1")[0][0])


@contextlib.contextmanager
def postgres_database(label: str) -> Iterator[HubDatabase]:
    """A migrated, seeded PostgreSQL database of the hub, dropped after (skipped without a
    server, failing under CI=true)."""
    try:
        db = database_create("postgresql", label=label)
    except DatabaseUnavailable as exc:
        skip_or_fail(f"{exc}; set TEST_POSTGRES_URL or start PostgreSQL")
        raise  # not reached
    try:
        yield db
    finally:
        db.drop()


def terminate_backends(db: HubDatabase) -> int:
    """Terminate every backend connected to `db`; how many there were.

    Run from the server's maintenance database, so the controlling connection is not one of
    them (and is excluded by pid besides)."""
    with psycopg.connect(db.admin_url, connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (db.name,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


@pytest.fixture(scope="session")
def fault_db() -> Iterator[FaultHub]:
    """A migrated, seeded PostgreSQL database shared by the fault tests (dropped after)."""
    with postgres_database("faults") as db:
        output = run_python(db.env, TOKENS_SCRIPT, "command", "clerk_lianshi")
        tokens = json.loads(output.strip().splitlines()[-1])
        yield FaultHub(db=db, tokens=tokens)


@pytest.fixture
def redis_url() -> str:
    """The real Redis (skipped without it, failing under CI=true)."""
    redis_or_skip(REDIS_URL)
    return REDIS_URL


# --- a Redis that can go down ------------------------------------------------------------


class CuttableProxy:
    """A loopback TCP proxy to `host:port`: `cut()` closes every connection and refuses new
    ones (the port is closed), `restore()` listens on the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.connections = 0  # accepted so far

    @classmethod
    def to_url(cls, url: str) -> tuple[CuttableProxy, str]:
        """A started proxy to the Redis of `url`, and the same URL through the proxy."""
        parts = urlsplit(url)
        proxy = cls(parts.hostname or "127.0.0.1", parts.port or 6379).start()
        netloc = f"127.0.0.1:{proxy.port}"
        if parts.username or parts.password:
            netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
        return proxy, parts._replace(netloc=netloc).geturl()

    def start(self) -> CuttableProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.05)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def cut(self) -> None:
        """Close the port and every connection through it."""
        listener, self._listener = self._listener, None
        if self._accepting is not None:
            self._accepting.join(2)
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        """Serve again, on the same port."""
        self.start()

    def stop(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(upstream)
                    return
                self._sockets.update((client, upstream))
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# --- the hub's server process ---------------------------------------------------------------


@dataclass
class Server:
    """One uvicorn process of the hub, its output in `log_path`."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @classmethod
    def start(cls, env: dict[str, str], log_dir: Path, label: str) -> Server:
        port = _free_port()
        log_path = log_dir / f"server-{label}-{port}.log"
        process = serve(env, port, log_path)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process, log_path)
        return cls(url, log_path, process)

    def stop(self) -> None:
        if self.process.poll() is None:
            stop(self.process)

    def output(self, chars: int = 6000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


def http_json(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
) -> tuple[int, Any]:
    """One request: (status, parsed JSON body or text). Network errors propagate (OSError)."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers=sent,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.1) -> Any:
    """Poll `check()` until it returns something true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def unique_prefix(label: str) -> str:
    return f"faults-{label}-{uuid.uuid4().hex[:8]}"
