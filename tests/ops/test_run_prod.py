"""`scripts/run_prod.py` (`make run-prod`): the production stack on one machine.

It refuses to start without PostgreSQL and Redis. Given them (a throwaway PostgreSQL
database made here, Redis under a prefix of its own), it migrates, collects the static files
and runs two ASGI processes, a Celery worker and beat: `/readyz` turns 200 once the workers
beat; a case registered through the API reaches a WebSocket client and `/metrics`; static
files come hashed, compressed and cached for long; SIGTERM stops every process it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from tests.conftest import in_ci, redis_or_skip
from tests.e2e.conftest import BASE_DIR, _free_port, _manage, api_post
from tests.factories import credit_code, intake_payload

SCRIPT = BASE_DIR / "scripts" / "run_prod.py"
POSTGRES_DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hub"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
READY_TIMEOUT_S = 240.0


def bare_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTEST"))}
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "SMS_BACKEND",
        "PUBLIC_BASE_URL",
        "SECURE_SSL_REDIRECT",
        "EMBEDDED_SWEEP",
        "SILENCED_SYSTEM_CHECKS",
        "CHANNEL_PREFIX",
        "LOG_FORMAT",
    ):
        env.pop(name, None)
    env["DATA_DIR"] = str(tmp)
    return env


@pytest.mark.parametrize(
    ("database", "redis_url", "says"),
    [
        ("", "redis://127.0.0.1:6379/0", "DATABASE_URL must name the PostgreSQL"),
        ("sqlite:///hub.sqlite3", "redis://127.0.0.1:6379/0", "DATABASE_URL must name"),
        ("postgres://postgres@127.0.0.1:5432/hub", "", "REDIS_URL must name the Redis"),
    ],
)
def test_it_refuses_to_start_without_postgresql_and_redis(
    tmp_path: Path, database: str, redis_url: str, says: str
) -> None:
    env = {**bare_env(tmp_path), "DATABASE_URL": database, "REDIS_URL": redis_url}
    done = subprocess.run(  # noqa: S603 (fixed command)
        [sys.executable, str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert says in done.stderr
    assert not (tmp_path / "secret_key").exists()


# --- the whole stack ---------------------------------------------------------------------


def server_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else POSTGRES_DEFAULT_URL


def with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@pytest.fixture
def throwaway_database() -> Iterator[str]:
    """A new PostgreSQL database (dropped afterwards): its URL."""
    admin = with_name(server_url(), "postgres")
    name = f"hub_runprod_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        message = f"PostgreSQL is not usable at {admin}: {exc}"
        if in_ci():
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    try:
        yield with_name(server_url(), name)
    finally:
        with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def figures(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, _, body = get(f"{base}/metrics")
    assert status == 200, body
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def wait_for(what: str, check: Any, timeout: float, output: Path) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        time.sleep(0.5)
    tail = output.read_text(errors="replace")[-6000:]
    pytest.fail(f"{what} not within {timeout:.0f} s (last: {last!r}); output:\n{tail}")


@pytest.mark.own_databases
@pytest.mark.redis
def test_the_production_stack_serves_counts_and_stops(throwaway_database: str) -> None:
    redis_or_skip(REDIS_URL)
    tmp = Path(tempfile.mkdtemp(prefix="hub-runprod-"))
    prefix = f"test-runprod-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **bare_env(tmp),
        "DATABASE_URL": throwaway_database,
        "REDIS_URL": REDIS_URL,
        "CHANNEL_PREFIX": prefix,
        "PORT": str(port),
        "WEB_WORKERS": "2",
        "HEARTBEAT_SECONDS": "2",
        "CELERY_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    # The demo's people, on that database (in development mode, without Redis).
    setup = {**env, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "command_center.settings"}
    del setup["REDIS_URL"]
    _manage(setup, "migrate", "--noinput", "-v0")
    _manage(setup, "seed_demo", "--cases", "0")
    command_token = _manage(setup, "issue_token", "command").strip()
    clerk_token = _manage(setup, "issue_token", "clerk_lianshi").strip()

    output = tmp / "run-prod.log"
    with output.open("wb") as out:
        stack = subprocess.Popen(  # noqa: S603 (fixed command)
            [sys.executable, str(SCRIPT)],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started: set[int] = set()
    try:

        def ready() -> dict[str, Any] | None:
            if stack.poll() is not None:
                pytest.fail(f"run_prod exited {stack.returncode}:\n{output.read_text()[-6000:]}")
            status, _, body = get(f"{base}/readyz")
            return json.loads(body) if status == 200 else None

        body = wait_for("/readyz 200", ready, READY_TIMEOUT_S, output)
        checks = body["checks"]
        assert checks["database"]["detail"] == "postgresql"
        assert checks["redis"]["detail"] == "PONG"
        assert checks["workers"]["beats"]["celery"]["fresh"] is True
        log = output.read_text()
        assert "assumed SECRET_KEY" in log
        assert (tmp / "secret_key").stat().st_mode & 0o777 == 0o600
        for name in ("web", "worker", "beat"):
            assert re.search(rf"^{name}\s+\| ", log, re.MULTILINE), name
        started = descendants(stack.pid)
        assert len(started) >= 5  # uvicorn + 2 workers, Celery worker (+ pool), beat

        before = figures(base)
        published = before[("hub_events_published_total", ())]
        ticket = api_post(base, command_token, "/api/v1/ws-ticket", {})["ticket"]

        async def scenario() -> tuple[str, float]:
            ws_url = f"ws://127.0.0.1:{port}/ws/dashboard/?ticket={ticket}"
            async with websockets.connect(ws_url) as ws:
                assert json.loads(await ws.recv())["type"] == "hello"
                clients = await asyncio.to_thread(
                    wait_for,
                    "the socket counted",
                    lambda: figures(base)[("hub_websocket_clients", ())] == 1,
                    10,
                    output,
                )
                assert clients
                payload = intake_payload(
                    employer={"name": "湖州宏达建筑劳务有限公司", "credit_code": credit_code()}
                )
                made = await asyncio.to_thread(
                    api_post, base, clerk_token, "/api/v1/cases", payload
                )
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=15))
                    if frame.get("type") == "event" and frame["kind"] == "case.registered":
                        assert frame["data"]["case_number"] == made["case_number"]
                        return made["case_number"], time.monotonic()

        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, scenario()).result()

        after = wait_for(
            "the events counted",
            lambda: (f := figures(base))[("hub_events_published_total", ())] > published and f,
            10,
            output,
        )
        assert after[("hub_ops_source_up", (("source", "counters"),))] == 1
        assert after[("hub_queue_depth", (("queue", "event_relay"),))] == 0
        wait_for(
            "the closed socket uncounted",
            lambda: figures(base)[("hub_websocket_clients", ())] == 0,
            10,
            output,
        )

        # Static files: hashed names, compressed, cached for long (WhiteNoise, manifest).
        _, _, page = get(f"{base}/accounts/login/")
        asset = re.search(rb'/static/[^"\']+\.[0-9a-f]{12}\.css', page)
        assert asset, page[:2000]
        status, headers, _ = get(base + asset.group(0).decode(), {"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers.get("content-encoding") == "gzip"
        assert "immutable" in headers.get("cache-control", "")
    except BaseException:
        print(output.read_text(errors="replace")[-10000:])
        raise
    finally:
        started |= descendants(stack.pid)
        stack.send_signal(signal.SIGTERM)
        try:
            code = stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.kill()
            raise
        finally:
            leftovers = [pid for pid in started if alive(pid)]
            for pid in leftovers:
                os.kill(pid, signal.SIGKILL)
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)
            shutil.rmtree(tmp, ignore_errors=True)
    assert code == 0
    assert leftovers == []
