"""Ops tests start from empty figures, in memory (no Redis) unless a test names one."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from command_center.ops import health, store


@pytest.fixture(autouse=True)
def fresh_figures(settings: Any) -> Iterator[None]:
    settings.REDIS_URL = ""
    settings.EMBEDDED_SWEEP = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_IPS = ["127.0.0.1", "::1"]
    store.reset()
    health._last_warning.clear()
    yield
    store.reset()


@pytest.fixture
def redis_prefix(settings: Any) -> Iterator[str]:
    """The real Redis of REDIS_URL (skipped without it, failing under CI=true), under a
    prefix of this test's own; its keys are deleted afterwards."""
    import os

    import redis

    from tests.conftest import redis_or_skip

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    redis_or_skip(url)
    prefix = f"test-ops-{uuid.uuid4().hex[:10]}"
    settings.REDIS_URL = url
    settings.CHANNEL_PREFIX = prefix
    settings.EMBEDDED_SWEEP = False
    settings.CELERY_BROKER_URL = url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{prefix}:"}
    yield prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()
