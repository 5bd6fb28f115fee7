"""Live fan-out: how fast one registered case reaches N open dashboards, beside a bare
Channels fan-out measured in the same run.

What runs:

- the app under test: ONE uvicorn process serving `command_center.asgi:application` on a
  throwaway database (a fresh PostgreSQL database when one answers at 127.0.0.1:5432, else a
  SQLite file in a temporary folder), migrated and seeded with `seed_demo --cases 0`, with
  the Redis channel layer on its own Redis database (flushed before and after);
- this process, the load driver: N WebSocket clients on `/ws/dashboard/?ticket=...` as the
  command staff user `command` (one-time tickets, no Origin), each reading the hello and
  then every frame. A round registers one case through `POST /api/v1/cases` as
  `clerk_lianshi` (bearer token); that emits `case.registered` and `case.dispatched` to the
  district stream, which every client reads;
- the baseline: the same number of clients on a bare Channels consumer
  (`tests/bench/bare_fanout_app.py`: joins one group, forwards, no auth, no database) served
  by uvicorn the same way on the same channel layer and Redis config. A round is two
  `channel_layer.group_send` calls from this process carrying frames of the same shape.
  Both servers run side by side and their rounds alternate (app, bare, bare, app, ...), so
  a change in the machine's load hits both alike. One unmeasured warm-up round each first.

Latency of a frame = the moment a client's reader task got it from its socket minus T0, on
one monotonic clock (`time.perf_counter`) in this process. T0 is taken immediately before
the trigger is sent: the POST's bytes (its TCP connection already open) for the app, the
first `group_send` for the baseline. The app's figure therefore includes the HTTP intake
(`case_register`, its commit and the after-commit relay). The table reports the
`case.registered` frame over all (client, round) pairs; "missing" counts frames of either
kind that never reached a client connected at T0 (after a final grace period). Beside the
latencies: connect time, server CPU idle and per round (Linux /proc), database sessions
per connect (PostgreSQL only), the driver's own CPU.

Capacity (on by default, `--quick` bounds it, `--no-capacity` skips it): two app processes
share Redis and the database, new dashboards go half to each, the count rises step by step
(50, 100, 150, 200, 300, ...; the clients of a step stay for the next), and the headline is
the largest count at which 95% of all event frames (both kinds) arrive within 250 ms of T0
with none missing and no client dropped. It stops at the first failing step, or before a
step that would likely overrun `--budget` (290 s for the whole run by default). The load
driver shares the machine's cores with the servers, Redis and PostgreSQL; the load average
is printed at the start and the end.

Run: `make bench`, or `env -u DATABASE_URL .venv/bin/python tests/bench/bench_live_fanout.py`
(`--help` for options: `--clients`, `--rounds`, `--layers pubsub,core`, `--quick`...).
Exits non-zero when a frame is missing, a client was dropped or a server failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import table  # noqa: E402
from tests.bench.bare_fanout_app import (  # noqa: E402
    BARE_GROUP,
    BARE_PATH,
    MESSAGE_TYPE,
    hub_channel_layers,
)
from tests.factories import credit_code, intake_payload  # noqa: E402

PYTHON = Path(sys.executable)
UVICORN = PYTHON.parent / "uvicorn"
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("BENCH_REDIS_SERVER", "redis://127.0.0.1:6379")
APP_TARGET = "command_center.asgi:application"
BARE_TARGET = "tests.bench.bare_fanout_app:application"
VIEWER = "command"  # command staff: the dashboard reads the district stream
REGISTRAR = "clerk_lianshi"
KINDS = ("case.registered", "case.dispatched")
HEADLINE_KIND = "case.registered"

BOOT_TIMEOUT_S = 60.0
SETUP_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 60.0
HELLO_TIMEOUT_S = 30.0
POST_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 20.0
# Pause between the last connect and the first round: beyond the hub's 2 s hold of live
# frames after a hello without a resume (incidents.live.RESUME_GRACE_SECONDS), in case.
SETTLE_S = 2.5
GROUPS_DRAIN_S = 10.0  # how long disconnected consumers get to leave their core-layer groups
# Server log lines worth reporting (uvicorn's own and the hub's logging format).
PROBLEM_RE = re.compile(r"\b(ERROR|CRITICAL|WARNING|Traceback|Exception)\b")


class BenchError(Exception):
    """The benchmark could not run (a service missing, a server that did not boot...)."""


# --- statistics ----------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (nan when empty)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Result:
    """What one phase measured."""

    label: str
    clients: int
    rounds: int
    headline_ms: list[float] = field(default_factory=list)  # HEADLINE_KIND, all pairs
    all_ms: list[float] = field(default_factory=list)  # every event frame
    expected: int = 0
    missing: int = 0
    missing_by_kind: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    disorder: int = 0
    error_frames: dict[str, int] = field(default_factory=dict)
    connect_s: float = 0.0
    connect_failures: list[str] = field(default_factory=list)
    trigger_ms: list[float] = field(default_factory=list)
    idle_cpu: float = math.nan  # server CPU (share of one core), clients connected, no events
    server_cpu_ms: float = math.nan  # server CPU per round, trigger to last frame
    driver_cpu_ms: float = math.nan  # this process's CPU per round, likewise
    db_per_connect: float = math.nan  # database sessions opened per WebSocket connect
    db_idle_per_s: float = math.nan  # database sessions opened per second while idle

    def headline(self, q: float) -> float:
        return percentile(sorted(self.headline_ms), q)

    def overall(self, q: float) -> float:
        return percentile(sorted(self.all_ms), q)

    def within(self, slo_ms: float) -> float:
        """Share of all expected event frames that arrived within `slo_ms` (missing count late)."""
        if not self.expected:
            return math.nan
        return sum(1 for ms in self.all_ms if ms <= slo_ms) / self.expected

    @property
    def failed(self) -> bool:
        return bool(self.missing or self.dropped or self.connect_failures or self.disorder)


# --- services and subprocesses ---------------------------------------------------------


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError as exc:
        return f"(no log: {exc})"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards `needed` (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def redis_flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_group_members(url: str, prefix: str) -> dict[str, int]:
    """Members of each channels_redis core-layer group (`<prefix>:group:*` sorted sets)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        counts = {
            key.decode(): int(client.zcard(key))
            for key in client.scan_iter(match=f"{prefix}:group:*", count=1000)
        }
    finally:
        client.close()
    return {key: n for key, n in counts.items() if n}


def redis_check(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        raise BenchError(f"Redis is not reachable at {url}: {exc}") from exc
    finally:
        client.close()


@dataclass
class Database:
    url: str
    vendor: str
    drop: Callable[[], None]
    # Sessions opened on the database so far (PostgreSQL's pg_stat_database), else None.
    sessions: Callable[[], int | None] = lambda: None


def database_create(tmp: Path, *, force_sqlite: bool) -> Database:
    """A fresh PostgreSQL database when the server answers, else a SQLite file in `tmp`."""
    if not force_sqlite:
        try:
            import psycopg
            from psycopg import sql

            with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
                name = f"hub_bench_{os.getpid()}"
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except Exception as exc:
            print(f"PostgreSQL not usable at {PG_ADMIN_URL} ({exc}); using SQLite.", flush=True)
        else:

            def drop() -> None:
                with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )

            def sessions() -> int | None:
                try:
                    with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True) as conn:
                        row = conn.execute(
                            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)
                        ).fetchone()
                except Exception:
                    return None
                return int(row[0]) if row and row[0] is not None else None

            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            return Database(url=url, vendor=f"postgresql ({name})", drop=drop, sessions=sessions)
    path = tmp / "hub.sqlite3"
    return Database(url=f"sqlite:///{path}", vendor="sqlite", drop=lambda: None)


def hub_env(db: Database, redis_url: str, data_dir: Path, layer: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "CHANNEL_LAYER",
        "EMBEDDED_SWEEP",
        "SECURE_SSL_REDIRECT",
        "WS_TICKET_SECONDS",
        "CSRF_TRUSTED_ORIGINS",
        "DJANGO_SETTINGS_MODULE",
    ):
        env.pop(name, None)
    env.update(
        {
            "DATABASE_URL": db.url,
            "DATA_DIR": str(data_dir),
            "DEBUG": "true",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "WS_TICKET_SECONDS": "600",
            "EMBEDDED_SWEEP": "false",
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER": layer,
            "DJANGO_SETTINGS_MODULE": "command_center.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = SETUP_TIMEOUT_S) -> str:
    command = [str(PYTHON), "manage.py", *args]
    shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in args)
    try:
        done = subprocess.run(  # noqa: S603 (fixed command, no shell)
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`manage.py {shown}` took over {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(
            f"`manage.py {shown}` failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


TICKETS_SNIPPET = """
import json
from django.contrib.auth import get_user_model
from django.db import transaction
from incidents.services.integrations import ws_ticket_issue
user_id = get_user_model().objects.get(username={user!r}).pk
with transaction.atomic():
    keys = [ws_ticket_issue(user_id=user_id)[0] for _ in range({count})]
print("TICKETS " + json.dumps(keys))
"""


def tickets_issue(env: dict[str, str], count: int) -> list[str]:
    """`count` one-time WebSocket tickets for VIEWER, made by a Django shell on the same env."""
    if count <= 0:
        return []
    out = manage(env, "shell", "-c", TICKETS_SNIPPET.format(user=VIEWER, count=count))
    for line in out.splitlines():
        if line.startswith("TICKETS "):
            keys: list[str] = json.loads(line[len("TICKETS ") :])
            if len(keys) != count:
                raise BenchError(f"asked for {count} tickets, got {len(keys)}")
            return keys
    raise BenchError(f"the ticket snippet printed no tickets:\n{out[-2000:]}")


class Server:
    """One uvicorn process with its own log file."""

    def __init__(self, label: str, target: str, env: dict[str, str], log_dir: Path) -> None:
        self.label = label
        self.target = target
        self.env = env
        self.log_path = log_dir / f"{label}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, probe: str) -> None:
        self.port = free_port()
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(  # noqa: S603 (fixed command, no shell)
                [
                    str(UVICORN),
                    self.target,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--lifespan",
                    "on",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self._wait_up(probe)

    def _wait_up(self, probe: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.label} exited with {self.process.returncode} before serving; "
                    f"the end of its log ({self.log_path}):\n{tail(self.log_path)}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                try:
                    conn.request("GET", probe)
                    status = conn.getresponse().status
                finally:
                    conn.close()
                if status == 200:
                    return
                last = f"status {status}"
                if status >= 500:
                    break
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise BenchError(
            f"{self.label} did not answer GET {probe} with 200 within {BOOT_TIMEOUT_S:.0f} s "
            f"(last: {last}); the end of its log ({self.log_path}):\n{tail(self.log_path)}"
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc), nan when unknown."""
        if self.process is None:
            return math.nan
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return math.nan

    def stop(self) -> str | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; says so when it had to kill."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return None
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            return None
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        last = [
            line
            for line in tail(self.log_path, 20000).splitlines()
            if "WebSocket /" not in line and "connection " not in line
        ][-2:]
        return (
            f"{self.label} (pid {process.pid}) did not stop within {STOP_TIMEOUT_S:.0f} s of "
            f"SIGTERM and was killed; its last lines: {' / '.join(last)}"
        )

    def problems(self) -> list[str]:
        """Errors and warnings in the log, each traceback summed up, repeats counted."""
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        found: dict[str, int] = {}
        i = 0
        while i < len(lines):
            if not PROBLEM_RE.search(lines[i]):
                i += 1
                continue
            summary, i = summarize_problem(lines, i)
            found[summary] = found.get(summary, 0) + 1
        return [f"{n}× {text}" if n > 1 else text for text, n in found.items()]


FRAME_RE = re.compile(r'\s+File "([^"]+)", line (\d+), in (\S+)')
STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")
# Channel names and other ids, so that the same problem on many sockets counts as one.
ID_RE = re.compile(r"[0-9a-f]{16,}")


def summarize_problem(lines: Sequence[str], i: int) -> tuple[str, int]:
    """The problem starting at line `i` in one line, and the index after it.

    A traceback becomes its exception line plus the innermost frame and the innermost frame
    of this repository (outside .venv), where the trouble surfaced.
    """
    summary = ID_RE.sub("…", STAMP_RE.sub("", lines[i].strip()))
    j = i + 1
    if summary.startswith("Traceback"):
        j = i  # a bare traceback: summarise it below
    if j < len(lines) and lines[j].startswith("Traceback"):
        inner = project = ""
        j += 1
        while j < len(lines) and (not lines[j].strip() or lines[j][0].isspace()):
            frame = FRAME_RE.match(lines[j])
            if frame:
                path = frame.group(1)
                where = f"{path.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}"
                where += f":{frame.group(2)} {frame.group(3)}"
                inner = where
                if "site-packages" not in path and path.startswith(str(ROOT)):
                    project = where
            j += 1
        exception = lines[j].strip() if j < len(lines) else "?"
        summary += f" → {exception} (at {inner}"
        summary += f"; last project frame {project})" if project and project != inner else ")"
        j += 1
    return summary[:500], max(j, i + 1)


# --- the load driver --------------------------------------------------------------------------


class Counter:
    """Counts frames received by all clients; lets a round wait for a total."""

    def __init__(self) -> None:
        self.count = 0
        self.target: int | None = None
        self.reached = asyncio.Event()

    def hit(self) -> None:
        self.count += 1
        if self.target is not None and self.count >= self.target:
            self.reached.set()

    async def wait(self, target: int, within_s: float) -> bool:
        if self.count >= target:
            return True
        self.target = target
        self.reached.clear()
        try:
            await asyncio.wait_for(self.reached.wait(), within_s)
            return True
        except TimeoutError:
            return False
        finally:
            self.target = None


class Client:
    """One WebSocket client: its hello, then every frame with the time it was read."""

    def __init__(self, ws: Any, hello: dict[str, Any], server: str, counter: Counter) -> None:
        self.ws = ws
        self.hello = hello
        self.server = server
        self.inbox: list[tuple[float, str]] = []
        self.closing = False
        self.reported = False
        self.ended: str | None = None  # why the connection ended, when it did
        self.task = asyncio.create_task(self._read(counter))

    async def _read(self, counter: Counter) -> None:
        from websockets.exceptions import ConnectionClosed

        clock = time.perf_counter
        inbox = self.inbox
        try:
            async for raw in self.ws:
                inbox.append((clock(), raw))
                counter.hit()
        except ConnectionClosed:
            pass
        except Exception as exc:
            self.ended = f"reader failed: {exc!r}"
        if self.ended is None:
            self.ended = f"closed, code {self.ws.close_code} {self.ws.close_reason!r}".strip()

    @property
    def open(self) -> bool:
        return self.ended is None

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), CLOSE_TIMEOUT_S)
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def clients_open(
    urls: Sequence[tuple[str, str]],
    counter: Counter,
    concurrency: int,
    *,
    compression: str,
    resume: bool,
) -> tuple[list[Client], list[str]]:
    """Open one client per (url, server label), at most `concurrency` handshakes at a time.

    With `resume`, each client does what the hub's page script does after the hello (sends
    `{"type": "resume", "after": head}`), then a ping: its pong, answered in turn, says the
    resume is done and the socket is live.
    """
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one(url: str, label: str) -> Client | None:
        async with gate:
            ws = None
            try:
                ws = await connect(
                    url,
                    proxy=None,
                    open_timeout=CONNECT_TIMEOUT_S,
                    ping_interval=None,  # like a browser: the server pings, the client answers
                    close_timeout=5,
                    compression=None if compression == "none" else compression,
                )
                raw = await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT_S)
                hello = json.loads(raw)
                if hello.get("type") != "hello":
                    raise BenchError(f"first frame is not a hello: {raw[:300]}")
                early: list[tuple[float, str]] = []
                if resume:
                    await ws.send(json.dumps({"type": "resume", "after": hello.get("head", 0)}))
                    await ws.send(json.dumps({"type": "ping", "ref": "live"}))
                    while True:
                        raw = await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT_S)
                        frame = json.loads(raw)
                        if frame.get("type") == "pong" and frame.get("ref") == "live":
                            break
                        if frame.get("type") == "error":
                            raise BenchError(f"resume refused: {raw[:300]}")
                        early.append((time.perf_counter(), raw))
                client = Client(ws, hello, label, counter)
                client.inbox.extend(early)
                return client
            except Exception as exc:
                failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()
                return None

    made = await asyncio.gather(*(one(url, label) for url, label in urls))
    return [c for c in made if c is not None], failures


async def clients_close(clients: Sequence[Client]) -> None:
    gate = asyncio.Semaphore(500)

    async def one(client: Client) -> None:
        async with gate:
            await client.close()

    await asyncio.gather(*(one(c) for c in clients))


@dataclass
class Round:
    key: str  # the case number the frames carry in their data
    t0: float
    done: float
    present: list[Client]


Trigger = Callable[[int], Awaitable[tuple[str, float, float]]]


class Fleet:
    """The clients of one server population, their trigger, and what their rounds measured."""

    def __init__(
        self,
        result: Result,
        servers: Sequence[Server],
        trigger: Trigger | None,
        db_sessions: Callable[[], int | None] = lambda: None,
        *,
        resume: bool = False,
    ) -> None:
        self.db_sessions = db_sessions
        self.resume = resume
        self.result = result
        self.servers = list(servers)
        self.trigger = trigger
        self.clients: list[Client] = []
        self.counter = Counter()
        self.target = 0  # frames expected so far, over all rounds
        self.rounds: list[Round] = []
        self.index = 0
        self.cpu_server = 0.0  # CPU seconds of the servers during measured rounds
        self.cpu_driver = 0.0  # CPU seconds of this process during measured rounds

    def server_cpu(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)

    async def connect(self, urls: Sequence[tuple[str, str]], args: argparse.Namespace) -> None:
        sessions0 = await asyncio.to_thread(self.db_sessions)
        started = time.perf_counter()
        made, failures = await clients_open(
            urls,
            self.counter,
            args.concurrency,
            compression=args.compression,
            resume=self.resume,
        )
        self.clients += made
        self.result.connect_failures += failures
        self.result.connect_s = time.perf_counter() - started
        sessions1 = await asyncio.to_thread(self.db_sessions)
        if sessions0 is not None and sessions1 is not None and made:
            self.result.db_per_connect = (sessions1 - sessions0) / len(made)
        print(
            f"  {self.result.label}: {len(made)} of {len(urls)} clients connected in "
            f"{self.result.connect_s:.1f} s",
            flush=True,
        )

    async def round(self, *, measured: bool, wait_s: float) -> bool:
        """One trigger; waits until every open client has its frames (or `wait_s`)."""
        assert self.trigger is not None
        present = [c for c in self.clients if c.open]
        self.target += len(KINDS) * len(present)
        server0, driver0 = self.server_cpu(), time.process_time()
        key, t0, done = await self.trigger(self.index)
        self.index += 1
        complete = await self.counter.wait(self.target, wait_s)
        if measured:
            self.rounds.append(Round(key, t0, done, present))
            self.cpu_server += self.server_cpu() - server0
            self.cpu_driver += time.process_time() - driver0
        for server in self.servers:
            if not server.alive():
                raise BenchError(
                    f"{server.label} died; the end of its log:\n{tail(server.log_path)}"
                )
        return complete

    async def settle(self, grace: float) -> None:
        """Give late frames `grace` seconds, then analyse every measured round."""
        await self.counter.wait(self.target, grace)
        analyse(self.result, self.clients, self.rounds)
        if self.rounds:
            self.result.server_cpu_ms = self.cpu_server / len(self.rounds) * 1000
            self.result.driver_cpu_ms = self.cpu_driver / len(self.rounds) * 1000

    def restart(self, result: Result) -> None:
        """A new measurement on the same clients (the capacity steps)."""
        self.result = result
        self.rounds = []
        self.cpu_server = self.cpu_driver = 0.0
        for client in self.clients:
            client.inbox.clear()


async def idle_cpu(fleets: Sequence[Fleet], seconds: float) -> None:
    """Each fleet's server CPU (share of one core) while the clients sit connected."""
    if seconds <= 0:
        return
    sessions0 = [await asyncio.to_thread(f.db_sessions) for f in fleets]
    before = [f.server_cpu() for f in fleets]
    await asyncio.sleep(seconds)
    for fleet, cpu0 in zip(fleets, before, strict=True):
        fleet.result.idle_cpu = (fleet.server_cpu() - cpu0) / seconds
    for fleet, db0 in zip(fleets, sessions0, strict=True):
        db1 = await asyncio.to_thread(fleet.db_sessions)
        if db0 is not None and db1 is not None:
            fleet.result.db_idle_per_s = (db1 - db0) / seconds


def analyse(result: Result, clients: Sequence[Client], done: Sequence[Round]) -> None:
    """Latencies, missing frames, order and drops, from the clients' inboxes."""
    by_client: dict[int, dict[tuple[str, str], float]] = {}
    for client in clients:
        seen: dict[tuple[str, str], float] = {}
        last_id = int(client.hello.get("head") or 0)
        for at, raw in client.inbox:
            try:
                frame = json.loads(raw)
            except ValueError:
                frame = {"type": "not JSON", "detail": raw[:80]}
            kind = frame.get("type")
            if kind == "event":
                if not isinstance(frame.get("id"), int) or frame["id"] <= last_id:
                    result.disorder += 1
                else:
                    last_id = frame["id"]
                data = frame.get("data") or {}
                seen.setdefault((str(data.get("case_number")), str(frame.get("kind"))), at)
            else:
                label = f"{kind}: {frame.get('code', '')} {frame.get('detail', '')}".strip()
                result.error_frames[label] = result.error_frames.get(label, 0) + 1
        by_client[id(client)] = seen
    for rnd in done:
        result.trigger_ms.append((rnd.done - rnd.t0) * 1000)
        for client in rnd.present:
            seen = by_client[id(client)]
            for kind in KINDS:
                result.expected += 1
                at = seen.get((rnd.key, kind))
                if at is None:
                    result.missing += 1
                    result.missing_by_kind[kind] = result.missing_by_kind.get(kind, 0) + 1
                    continue
                ms = (at - rnd.t0) * 1000
                result.all_ms.append(ms)
                if kind == HEADLINE_KIND:
                    result.headline_ms.append(ms)
    for client in clients:
        if client.ended is not None and not client.closing and not client.reported:
            client.reported = True
            result.dropped.append(f"{client.server}: {client.ended}")


# --- triggers ----------------------------------------------------------------------------------


class CaseTrigger:
    """Registers one case per round through the API, as REGISTRAR with a bearer token."""

    def __init__(self, servers: Sequence[Server], token: str, serial: Iterator[int]) -> None:
        self.servers = servers
        self.token = token
        self.serial = serial
        self.samples: dict[str, dict[str, Any]] = {}

    def _post(self, server: Server, body: bytes) -> tuple[float, float, int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=POST_TIMEOUT_S)
        try:
            conn.connect()
            t0 = time.perf_counter()
            conn.request(
                "POST",
                "/api/v1/cases",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                },
            )
            response = conn.getresponse()
            data = response.read()
            return t0, time.perf_counter(), response.status, data
        finally:
            conn.close()

    async def __call__(self, i: int) -> tuple[str, float, float]:
        server = self.servers[i % len(self.servers)]
        payload = intake_payload(
            employer={
                "name": f"湖州基准劳务{i}有限公司",
                "credit_code": credit_code(next(self.serial)),
            }
        )
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            t0, finished, status, data = await asyncio.to_thread(self._post, server, body)
        except OSError as exc:
            raise BenchError(
                f"POST /api/v1/cases to {server.label} failed: {exc!r}; the end of its log:\n"
                + tail(server.log_path)
            ) from exc
        if status != 201:
            raise BenchError(
                f"POST /api/v1/cases to {server.label} answered {status} (expected 201): "
                f"{data[:1000].decode('utf-8', 'replace')}"
            )
        return str(json.loads(data)["case_number"]), t0, finished


def sample_frames(clients: Sequence[Client]) -> dict[str, dict[str, Any]]:
    """One real frame of each kind, as the app sent it (the baseline sends the same shape)."""
    samples: dict[str, dict[str, Any]] = {}
    for client in clients:
        for _at, raw in client.inbox:
            frame = json.loads(raw)
            if frame.get("type") == "event" and frame.get("kind") in KINDS:
                samples.setdefault(frame["kind"], frame)
        if len(samples) == len(KINDS):
            break
    return samples


def synthetic_frame(kind: str) -> dict[str, Any]:
    return {
        "type": "event",
        "id": 0,
        "kind": kind,
        "at": "2026-01-01T09:00:00+08:00",
        "actor": REGISTRAR,
        "reason": "",
        "before": None,
        "after": "registered",
        "data": {
            "channel": "window",
            "town": "lianshi",
            "workers_count": 12,
            "amount_owed": "86000.00",
            "routing": "按属地派给练市镇",
            "case_number": "",
            "state": "registered",
            "unit_id": 1,
        },
    }


class GroupSendTrigger:
    """Sends the round's two frames with `group_send` on the layer the servers use."""

    def __init__(self, layer: Any, label: str, samples: dict[str, dict[str, Any]]) -> None:
        self.layer = layer
        self.label = label
        self.frames = [samples.get(kind) or synthetic_frame(kind) for kind in KINDS]
        self.next_id = 1

    async def __call__(self, i: int) -> tuple[str, float, float]:
        key = f"BARE-{self.label}-{i:05d}"
        messages = []
        for frame in self.frames:
            event = dict(frame, id=self.next_id, data=dict(frame["data"], case_number=key))
            messages.append(
                {
                    "type": MESSAGE_TYPE,
                    "stream": BARE_GROUP,
                    "prev": self.next_id - 1,
                    "event": event,
                }
            )
            self.next_id += 1
        t0 = time.perf_counter()
        for message in messages:
            await self.layer.group_send(BARE_GROUP, message)
        return key, t0, time.perf_counter()


def layer_config(env: dict[str, str]) -> dict[str, Any]:
    """The default channel layer's settings `command_center.settings` makes from `env`."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        config: dict[str, Any] = hub_channel_layers()["default"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return config


def layer_make(env: dict[str, str]) -> Any:
    """The channel layer `command_center.settings` builds for `env`, made in this process."""
    from django.utils.module_loading import import_string

    config = layer_config(env)
    return import_string(config["BACKEND"])(**config.get("CONFIG", {}))


async def layer_close(layer: Any) -> None:
    with contextlib.suppress(Exception):
        if hasattr(layer, "close_pools"):
            await layer.close_pools()
        else:
            await layer.flush()


# --- phases ---------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    db: Database
    redis_url: str
    data_dir: Path
    log_dir: Path
    token: str = ""
    serial: Iterator[int] = field(default_factory=lambda: iter(range(100_000, 9_000_000)))
    servers: list[Server] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    deadline: float = math.inf  # time.monotonic() by which the run should be over
    budget_cut: int | None = None  # the capacity step skipped for time, if any

    def server(self, label: str, target: str, env: dict[str, str], probe: str) -> Server:
        server = Server(label, target, env, self.log_dir)
        self.servers.append(server)
        server.start(probe)
        return server

    def stop(self, server: Server) -> None:
        if server.process is not None and not server.alive():
            self.problems.append(
                f"{server.label} exited with {server.process.returncode} during the run"
            )
        hung = server.stop()
        if hung:
            print(f"  {hung}", flush=True)
            self.problems.append(hung)
        for line in server.problems():
            self.problems.append(f"{server.label} log: {line}")

    async def check_groups_empty(self, label: str, env: dict[str, str]) -> None:
        """The core layer keeps groups in Redis: once every client has gone, none may remain."""
        prefix = str(layer_config(env).get("CONFIG", {}).get("prefix", "asgi"))
        deadline = time.monotonic() + GROUPS_DRAIN_S
        left: dict[str, int] = {}
        while time.monotonic() < deadline:
            left = await asyncio.to_thread(redis_group_members, self.redis_url, prefix)
            if not left:
                return
            await asyncio.sleep(0.5)
        self.problems.append(
            f"layer {label}: {sum(left.values())} channel(s) still in Redis groups "
            f"{GROUPS_DRAIN_S:.0f} s after every client disconnected (group_discard did not "
            f"happen): {dict(sorted(left.items())[:5])}"
        )

    async def layer_phase(self, layer: str) -> tuple[Result, Result]:
        """The app and the bare baseline side by side, their rounds interleaved."""
        args = self.args
        env = hub_env(self.db, self.redis_url, self.data_dir, layer)
        await asyncio.to_thread(redis_flush, self.redis_url)
        app_server = await asyncio.to_thread(
            self.server, f"app-{layer}", APP_TARGET, env, "/accounts/login/"
        )
        bare_server = await asyncio.to_thread(self.server, f"bare-{layer}", BARE_TARGET, env, "/")
        app = Fleet(
            Result(f"app ({layer})", args.clients, args.rounds),
            [app_server],
            CaseTrigger([app_server], self.token, self.serial),
            self.db.sessions,
            resume=True,
        )
        bare = Fleet(Result(f"bare ({layer})", args.clients, args.rounds), [bare_server], None)
        layer_obj = layer_make(env)
        try:
            tickets = await asyncio.to_thread(tickets_issue, env, args.clients)
            await app.connect(
                [(f"ws://{app_server.base}/ws/dashboard/?ticket={t}", "app") for t in tickets],
                args,
            )
            await bare.connect(
                [(f"ws://{bare_server.base}{BARE_PATH}", "bare")] * args.clients, args
            )
            await asyncio.sleep(SETTLE_S)
            # Warm-up, not measured: first requests, lazy Redis connections. The app's frames
            # give the baseline its frame shape.
            await app.round(measured=False, wait_s=args.round_timeout)
            bare.trigger = GroupSendTrigger(layer_obj, layer, sample_frames(app.clients))
            await bare.round(measured=False, wait_s=args.round_timeout)
            for i in range(args.rounds):
                for fleet in (app, bare) if i % 2 == 0 else (bare, app):
                    await asyncio.sleep(args.gap)
                    await fleet.round(measured=True, wait_s=args.round_timeout)
            await app.settle(args.grace)
            await bare.settle(args.grace)
            # Idle after the rounds: the clients are a minute or more old, so the sockets'
            # periodic re-checks are in their steady state.
            await idle_cpu([app, bare], args.idle)
        finally:
            await clients_close(app.clients + bare.clients)
            await layer_close(layer_obj)
            if layer == "core":
                await self.check_groups_empty(layer, env)
            await asyncio.to_thread(self.stop, app_server)
            await asyncio.to_thread(self.stop, bare_server)
        return app.result, bare.result

    async def capacity_phase(self, layer: str) -> list[Result]:
        """Dashboards on two app processes, more at each step, until the SLO is missed."""
        args = self.args
        env = hub_env(self.db, self.redis_url, self.data_dir, layer)
        await asyncio.to_thread(redis_flush, self.redis_url)
        apps = [
            await asyncio.to_thread(
                self.server, f"capacity-{layer}-{n}", APP_TARGET, env, "/accounts/login/"
            )
            for n in (1, 2)
        ]
        fleet = Fleet(
            Result("", 0, 0),
            apps,
            CaseTrigger(apps, self.token, self.serial),
            self.db.sessions,
            resume=True,
        )
        steps: list[Result] = []
        last_step_s = 0.0
        try:
            for step in args.capacity_steps:
                step_began = time.monotonic()
                # The next step adds clients and rounds: assume it takes twice the last one.
                if steps and step_began + 2 * last_step_s > self.deadline:
                    print(
                        f"  capacity: stopping before {step} clients (--budget "
                        f"{args.budget:.0f} s would likely be overrun)",
                        flush=True,
                    )
                    self.budget_cut = step
                    break
                fleet.restart(Result(f"capacity ({layer}) {step}", step, args.capacity_rounds))
                have = len(fleet.clients)
                tickets = await asyncio.to_thread(tickets_issue, env, step - have)
                await fleet.connect(
                    [
                        (f"ws://{apps[i % 2].base}/ws/dashboard/?ticket={t}", apps[i % 2].label)
                        for i, t in enumerate(tickets, start=have)
                    ],
                    args,
                )
                await asyncio.sleep(SETTLE_S)
                if not steps:
                    for _ in apps:  # warm up both processes
                        await fleet.round(measured=False, wait_s=args.round_timeout)
                        await asyncio.sleep(args.gap)
                for _ in range(args.capacity_rounds):
                    await fleet.round(measured=True, wait_s=args.round_timeout)
                    await asyncio.sleep(args.gap)
                await fleet.settle(args.grace)
                await idle_cpu([fleet], args.idle)
                result = fleet.result
                result.clients = sum(1 for c in fleet.clients if c.open)
                steps.append(result)
                last_step_s = time.monotonic() - step_began
                print(
                    f"  capacity: {step} clients: p95 {result.overall(95):.0f} ms, "
                    f"{result.within(args.slo_ms) * 100:.1f}% within {args.slo_ms:.0f} ms, "
                    f"missing {result.missing}, dropped {len(result.dropped)}",
                    flush=True,
                )
                if not passes(result, args.slo_ms):
                    break
        finally:
            await clients_close(fleet.clients)
            if layer == "core":
                await self.check_groups_empty(f"{layer}, capacity", env)
            for app in apps:
                await asyncio.to_thread(self.stop, app)
        return steps


def passes(result: Result, slo_ms: float) -> bool:
    return not result.failed and result.within(slo_ms) >= 0.95


# --- report ------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f} ms"


def ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "–"
    return f"{a / b:.2f}x"


def cores(value: float) -> str:
    return "–" if math.isnan(value) else f"{value * 100:.0f}% of a core"


def cpu_ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f} ms CPU"


def print_pair(layer: str, app: Result, bare: Result, vendor: str, compression: str) -> None:
    print(
        f"\n### Live fan-out, layer `{layer}`: {app.clients} dashboards, {app.rounds} rounds "
        f"({vendor}; client compression {compression})\n"
    )
    print(
        "Latency of the `case.registered` frame = a client's receive time minus T0, T0 taken "
        "just before the trigger is sent (app: the POST /api/v1/cases request, so intake is "
        "included; bare: `group_send`). All (client, round) pairs; app and bare rounds "
        "alternate, both servers up throughout.\n"
    )
    print(
        "| figure | app (`/ws/dashboard/`, 1 uvicorn) | bare baseline "
        "(`group_send` → forward) | ratio (app/bare) |"
    )
    print("|---|---|---|---|")
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        a, b = app.headline(q), bare.headline(q)
        print(f"| {name} | {ms(a)} | {ms(b)} | {ratio(a, b)} |")
        table.record(
            "live_fanout",
            f"`{layer}`: {name} latency of `case.registered` to {app.clients} dashboards "
            f"({app.rounds} rounds; missing {app.missing} of {app.expected})",
            ms(a),
            f"{ms(b)} (bare Channels fan-out)",
            ratio(a, b),
        )
    print(
        f"| missing frames (both kinds) | {app.missing} of {app.expected} | "
        f"{bare.missing} of {bare.expected} | – |"
    )
    print(
        f"| clients connected | {app.clients - len(app.connect_failures)} of {app.clients} "
        f"in {app.connect_s:.1f} s | {bare.clients - len(bare.connect_failures)} of "
        f"{bare.clients} in {bare.connect_s:.1f} s | {ratio(app.connect_s, bare.connect_s)} |"
    )
    a = percentile(sorted(app.trigger_ms), 50)
    b = percentile(sorted(bare.trigger_ms), 50)
    print(f"| trigger call, median (POST / group_send) | {ms(a)} | {ms(b)} | {ratio(a, b)} |")
    x, y = app.idle_cpu, bare.idle_cpu
    print(
        "| server CPU, idle after the rounds (clients connected) | "
        f"{cores(x)} | {cores(y)} | {ratio(x, y)} |"
    )
    if not math.isnan(app.db_per_connect):
        print(
            f"| database sessions opened per WebSocket connect | {app.db_per_connect:.1f} | 0 | – |"
        )
    if not math.isnan(app.db_idle_per_s):
        print(
            "| database sessions opened per second, idle after the rounds | "
            f"{app.db_idle_per_s:.1f} | 0 | – |"
        )
    for name, x, y in (
        ("server CPU per round (trigger to last frame)", app.server_cpu_ms, bare.server_cpu_ms),
        ("driver CPU per round (this process)", app.driver_cpu_ms, bare.driver_cpu_ms),
    ):
        print(f"| {name} | {cpu_ms(x)} | {cpu_ms(y)} | {ratio(x, y)} |")


def print_capacity(
    layer: str, steps: Sequence[Result], slo_ms: float, budget_cut: int | None
) -> str:
    print(
        f"\n### Capacity, layer `{layer}`: dashboards on 2 app processes (half each), "
        "one case per round\n"
    )
    print(
        f"Every event frame (both kinds), latency from T0 as above; a step passes when ≥95% "
        f"arrive within {slo_ms:.0f} ms and none is missing or dropped. Server CPU: both "
        "processes together. POST: the trigger's round trip. Connect: the clients added at "
        "that step.\n"
    )
    print(
        "| clients | rounds | p50 | p95 | p99 | max | within SLO | missing | dropped "
        "| POST, median | connect | servers idle | servers' CPU per round "
        "| driver's CPU per round |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    best = 0
    first_fail: Result | None = None
    for r in steps:
        if first_fail is None:
            if passes(r, slo_ms):
                best = r.clients
            else:
                first_fail = r
        print(
            f"| {r.clients} | {r.rounds} | {ms(r.overall(50))} | {ms(r.overall(95))} | "
            f"{ms(r.overall(99))} | {ms(r.overall(100))} | {r.within(slo_ms) * 100:.1f}% | "
            f"{r.missing} | {len(r.dropped)} | {ms(percentile(sorted(r.trigger_ms), 50))} | "
            f"{r.connect_s:.1f} s | {cores(r.idle_cpu)} | "
            f"{cpu_ms(r.server_cpu_ms)} | {cpu_ms(r.driver_cpu_ms)} |"
        )
    if not steps:
        return "capacity: not measured"
    if best == 0:
        headline = f"fewer than {steps[0].clients} dashboards (the first step failed)"
    elif first_fail is None and budget_cut is not None:
        headline = (
            f"at least {best} dashboards (every step run passed; {budget_cut} not tried "
            "within --budget)"
        )
    elif first_fail is None:
        headline = f"at least {best} dashboards (every step passed; raise --capacity-steps)"
    else:
        headline = (
            f"{best} dashboards (next step, {first_fail.clients}: p95 "
            f"{ms(first_fail.overall(95))}, {first_fail.within(slo_ms) * 100:.1f}% within "
            f"{slo_ms:.0f} ms, {first_fail.missing} missing)"
        )
    text = f"Capacity ({layer}, 2 processes, 95% of frames within {slo_ms:.0f} ms): {headline}"
    table.record(
        "live_fanout",
        f"`{layer}`: capacity on 2 app processes, 95% of frames within {slo_ms:.0f} ms",
        headline,
        "–",
        "–",
    )
    print(f"\n**{text}**")
    return text


def print_problems(results: Sequence[Result], problems: Sequence[str]) -> None:
    lines: list[str] = []
    for r in results:
        if r.missing:
            lines.append(
                f"{r.label}, {r.clients} clients: {r.missing} frames missing {r.missing_by_kind}"
            )
        if r.dropped:
            lines.append(
                f"{r.label}, {r.clients} clients: {len(r.dropped)} dropped, e.g. {r.dropped[:3]}"
            )
        if r.connect_failures:
            lines.append(
                f"{r.label}: {len(r.connect_failures)} connections failed, e.g. "
                f"{r.connect_failures[:3]}"
            )
        if r.disorder:
            lines.append(f"{r.label}: {r.disorder} frames out of order or repeated")
        if r.error_frames:
            lines.append(f"{r.label}: unexpected frames {dict(list(r.error_frames.items())[:5])}")
    lines.extend(problems)
    if lines:
        print("\n### Problems\n")
        for line in lines:
            print(f"- {line}")


# --- main ----------------------------------------------------------------------------------


def load_average() -> str:
    """The 1/5/15-minute load averages: the servers share the cores with whatever else runs."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="dashboards (default 1000)")
    parser.add_argument("--rounds", type=int, default=20, help="cases registered (default 20)")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between rounds")
    parser.add_argument(
        "--layers",
        default="pubsub",
        help="CHANNEL_LAYER variants: pubsub, core or pubsub,core (capacity uses the first)",
    )
    parser.add_argument(
        "--capacity",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the capacity on 2 app processes (default on)",
    )
    parser.add_argument(
        "--capacity-steps",
        default="50,100,150,200,300,400,500,750,1000,1500,2000",
        help="dashboard counts to try, rising",
    )
    parser.add_argument("--capacity-rounds", type=int, default=10)
    parser.add_argument(
        "--budget",
        type=float,
        default=290.0,
        help="seconds for the whole run: no capacity step starts that would likely overrun it",
    )
    parser.add_argument(
        "--quick", action="store_true", help="capacity steps up to 200 only, 5 rounds each"
    )
    parser.add_argument("--slo-ms", type=float, default=250.0)
    parser.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="permessage-deflate offered by the clients, as browsers do (default deflate)",
    )
    parser.add_argument(
        "--idle", type=float, default=4.0, help="seconds of idle CPU measured after the rounds"
    )
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
    parser.add_argument("--round-timeout", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=15.0, help="final wait for late frames")
    parser.add_argument("--redis-db", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true", help="use SQLite even if PostgreSQL is up")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs")
    args = parser.parse_args(argv)
    args.layers = [x.strip() for x in args.layers.split(",") if x.strip()]
    if not args.layers or any(x not in {"pubsub", "core"} for x in args.layers):
        parser.error("--layers takes pubsub, core or both")
    args.capacity_steps = sorted({int(x) for x in args.capacity_steps.split(",") if x.strip()})
    if args.quick:
        args.capacity_steps = [s for s in args.capacity_steps if s <= 200] or [50]
        args.capacity_rounds = min(args.capacity_rounds, 5)
    if args.clients < 1 or args.rounds < 1:
        parser.error("--clients and --rounds must be positive")
    return args


async def run(bench: Bench) -> tuple[list[Result], list[str]]:
    args = bench.args
    results: list[Result] = []
    headlines: list[str] = []
    for layer in args.layers:
        print(f"layer {layer}: app and bare baseline, rounds interleaved", flush=True)
        app, bare = await bench.layer_phase(layer)
        results += [app, bare]
        print_pair(layer, app, bare, bench.db.vendor, args.compression)
    if args.capacity:
        layer = args.layers[0]
        print(f"capacity ({layer}): steps {args.capacity_steps}", flush=True)
        steps = await bench.capacity_phase(layer)
        results += steps
        headlines.append(print_capacity(layer, steps, args.slo_ms, bench.budget_cut))
    return results, headlines


def terminated(signum: int, _frame: Any) -> None:
    """SIGTERM (a CI timeout, say) unwinds like Ctrl-C, so the servers are stopped."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, terminated)
    biggest = max([args.clients, *(args.capacity_steps if args.capacity else [])])
    limit = raise_fd_limit(biggest + 1024)
    if limit < biggest + 256:
        print(
            f"error: the open-file limit is {limit}; {biggest} clients need more", file=sys.stderr
        )
        return 2
    redis_url = f"{REDIS_SERVER}/{args.redis_db}"
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-fanout-"))
    log_dir = tmp / "logs"
    log_dir.mkdir()
    bench: Bench | None = None
    db: Database | None = None
    failed = True
    started = time.monotonic()
    try:
        redis_check(redis_url)
        redis_flush(redis_url)
        db = database_create(tmp, force_sqlite=args.sqlite)
        bench = Bench(args, db, redis_url, tmp, log_dir, deadline=started + args.budget)
        env = hub_env(db, redis_url, tmp, args.layers[0])
        print(f"database: {db.vendor}; redis: {redis_url}; logs: {log_dir}", flush=True)
        print(f"machine: {os.cpu_count()} cores, {load_average()}", flush=True)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "seed_demo", "--cases", "0")
        bench.token = (
            manage(env, "issue_token", REGISTRAR, "--name", "bench").strip().splitlines()[-1]
        )
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            results, headlines = runner.run(run(bench))
        print_problems(results, bench.problems)
        for line in headlines:
            print(f"\nSummary: {line}")
        failed = any(r.failed for r in results if not r.label.startswith("capacity")) or any(
            r.missing or r.dropped for r in results
        )
        print(f"\n(total {time.monotonic() - started:.0f} s; at the end: {load_average()})")
        if failed:
            print(
                "FAILED: frames missing, clients dropped or refused (see Problems).",
                file=sys.stderr,
            )
        return 1 if failed else 0
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    finally:
        if bench is not None:
            for server in bench.servers:
                server.stop()
        with contextlib.suppress(Exception):
            redis_flush(redis_url)
        if db is not None:
            try:
                db.drop()
            except Exception as exc:
                print(f"warning: could not drop the bench database: {exc}", file=sys.stderr)
        if args.keep_logs or failed:
            print(f"server logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
