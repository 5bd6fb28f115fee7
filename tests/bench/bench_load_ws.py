"""Load: many live dashboards on two ASGI processes while cases arrive through the API.

What runs:

- the hub as in production, on loopback: TWO uvicorn processes serving the hub's ASGI
  application (`tests/bench/load_app.py`: the application itself plus a count of the
  sockets' replays from the event log) with DEBUG off, the Redis channel layer (`pubsub` by
  default) under a CHANNEL_PREFIX of their own, and a fresh PostgreSQL database made for the
  run and dropped after it, migrated and seeded with the demo district and its people
  (`seed_demo --cases 0`);
- this process, the load driver (asyncio): `--clients` WebSocket clients on
  `/ws/dashboard/?ticket=...`, half on each process, as the district-wide people (command,
  inspector, reviewer in turn, one-time tickets, permessage-deflate as browsers offer it),
  each doing what the hub's page does after the hello (`resume` from the head). Then it
  registers cases through `POST /api/v1/cases` as `clerk_lianshi` (bearer token, an
  `Idempotency-Key` each) at `--rate` per second for `--seconds`, on a fixed schedule (a slow
  answer does not delay the next request), alternating between the two processes. Every
  client must receive every event of the district's stream, the `case.registered` of every
  case among them.

Baseline, same run: before the load, one client on each process for `--baseline-seconds`
at the same rate (the latency of a case's frame with nobody else listening), and the
memory of the two warm processes with no client.

Measured:

- latency of a frame = its arrival at a client (`time.perf_counter` in the client's reader
  task) minus T0, taken just before the POST that registered its case is sent (its TCP
  connection already open): intake, commit, relay through Redis and delivery. p50, p95,
  p99 and max over every (client, `case.registered` frame) pair; the same over every event
  frame of the run's cases;
- the API's latency (POST sent to response read) and how late the driver sent them;
- errors: refused or failed POSTs, refused handshakes, sockets the server closed, error
  frames, and the delivery check: at the end, the district stream is read back from the
  database and every client's frames are compared with it (event ids after the client's
  hello, up to the stream's head when the last POST returned): missing, duplicated and
  out-of-order frames. Replays from the log (counted in the servers' logs) are not errors;
  errors, tracebacks and warnings in the servers' logs are reported, the first two as errors;
- memory per connection: the servers' resident memory (VmRSS of both processes) once the
  clients are connected minus before they connected, divided by the clients; again after
  the run; and after they left;
- CPU (Linux /proc): both servers' and this process's, as a share of one core, during the
  baseline and the load; the load average at the start and the end.

Run: `make load` (LOAD_CLIENTS, LOAD_SECONDS, LOAD_RATE), `make bench`, or
`env -u DATABASE_URL .venv/bin/python tests/bench/bench_load_ws.py --help`. Needs
PostgreSQL (BENCH_POSTGRES_URL, `--sqlite` to use a SQLite file instead) and Redis
(BENCH_REDIS_SERVER). Exits 1 when any error was counted or a frame was lost.
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
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_live_fanout import (  # noqa: E402
    REDIS_SERVER,
    SETTLE_S,
    BenchError,
    Client,
    Counter,
    Database,
    Server,
    clients_close,
    clients_open,
    cores,
    database_create,
    hub_env,
    load_average,
    manage,
    ms,
    percentile,
    raise_fd_limit,
    ratio,
    redis_check,
    redis_flush,
    terminated,
)
from tests.bench.load_app import REPLAY_MARK  # noqa: E402
from tests.bench.table import record  # noqa: E402
from tests.factories import credit_code, intake_payload  # noqa: E402

BENCH = "load_ws"
APP_TARGET = "tests.bench.load_app:application"
PROBE = "/api/v1/openapi.json"  # answers 200 without a session or static files
VIEWERS = ("command", "inspector", "reviewer")  # district-wide: every event of the district
REGISTRAR = "clerk_lianshi"
HEADLINE_KIND = "case.registered"
POST_TIMEOUT_S = 30.0
DRAIN_EVERY_S = 1.0
ERROR_RE = re.compile(r"\b(ERROR|CRITICAL)\b|^Traceback")


# --- what the clients received ----------------------------------------------------------------


@dataclass
class Seen:
    """One client's event frames in arrival order (ids, arrival times) and its other frames."""

    head: int
    server: str
    ids: array[int] = field(default_factory=lambda: array("q"))
    at: array[float] = field(default_factory=lambda: array("d"))
    other: dict[str, int] = field(default_factory=dict)


class Inboxes:
    """Compacts the clients' inboxes as frames arrive, so 500 clients x a few thousand frames
    cost a few bytes each: an event frame becomes (id, time); what an id means (kind, case
    number) is kept once for all clients."""

    def __init__(self) -> None:
        self.seen: dict[int, Seen] = {}
        self.meaning: dict[int, tuple[str, str]] = {}

    def add(self, clients: Sequence[Client]) -> None:
        for client in clients:
            self.seen.setdefault(
                id(client), Seen(head=int(client.hello.get("head") or 0), server=client.server)
            )

    def drain(self, clients: Sequence[Client]) -> None:
        """Move what the clients' reader tasks collected into the compact form (sync: the
        readers cannot append meanwhile)."""
        for client in clients:
            inbox = client.inbox
            if not inbox:
                continue
            batch = inbox[:]
            del inbox[:]
            seen = self.seen[id(client)]
            for at, raw in batch:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    frame = {"type": "not JSON"}
                if not isinstance(frame, dict):
                    frame = {"type": "not an object"}
                event_id = frame.get("id")
                if frame.get("type") == "event" and isinstance(event_id, int):
                    seen.ids.append(event_id)
                    seen.at.append(at)
                    if event_id not in self.meaning:
                        data = frame.get("data") or {}
                        self.meaning[event_id] = (
                            str(frame.get("kind")),
                            str(data.get("case_number") or ""),
                        )
                else:
                    label = f"{frame.get('type')}: {frame.get('code', '')}".strip()
                    seen.other[label] = seen.other.get(label, 0) + 1

    def reached(self, clients: Sequence[Client], head: int) -> bool:
        """Every open client has been sent an event at or after `head`."""
        return all(
            (seen := self.seen[id(c)]).ids and max(seen.ids) >= head for c in clients if c.open
        )


@dataclass
class Delivery:
    """The delivery check and the frames' latencies, over one phase's clients."""

    clients: int = 0
    expected: int = 0
    delivered: int = 0
    missing: int = 0
    missing_by_kind: dict[str, int] = field(default_factory=dict)
    duplicated: int = 0
    out_of_order: int = 0
    other_frames: dict[str, int] = field(default_factory=dict)
    headline_ms: list[float] = field(default_factory=list)  # HEADLINE_KIND frames
    all_ms: list[float] = field(default_factory=list)  # every event frame of a timed case

    @property
    def lost(self) -> int:
        return self.missing + self.duplicated + self.out_of_order


def analyse(
    log: Sequence[tuple[int, str, str]],
    seen: Sequence[Seen],
    t0_of_case: dict[str, float],
    meaning: dict[int, tuple[str, str]],
) -> Delivery:
    """Compare each client's frames with the stream's log (id, kind, case number), ids after
    the client's hello and up to the log's last id; latencies from the POSTs' T0."""
    result = Delivery(clients=len(seen))
    log_ids = [event_id for event_id, _kind, _case in log]
    kind_of = {event_id: kind for event_id, kind, _case in log}
    last = log_ids[-1] if log_ids else 0
    for client in seen:
        for label, n in client.other.items():
            result.other_frames[label] = result.other_frames.get(label, 0) + n
        expected = {i for i in log_ids if i > client.head}
        result.expected += len(expected)
        got: set[int] = set()
        highest = client.head
        for event_id, at in zip(client.ids, client.at, strict=True):
            if event_id > last:
                continue  # after the checked window
            if event_id in got:
                result.duplicated += 1
                continue
            if event_id <= highest:
                result.out_of_order += 1  # older than one already sent, or before the hello
            highest = max(highest, event_id)
            got.add(event_id)
            if event_id not in expected:
                continue
            result.delivered += 1
            kind, case = meaning.get(event_id, ("", ""))
            t0 = t0_of_case.get(case)
            if t0 is None:
                continue
            ms = (at - t0) * 1000
            result.all_ms.append(ms)
            if kind == HEADLINE_KIND:
                result.headline_ms.append(ms)
        for event_id in expected - got:
            result.missing += 1
            kind = kind_of[event_id]
            result.missing_by_kind[kind] = result.missing_by_kind.get(kind, 0) + 1
    return result


# --- the servers and the database ---------------------------------------------------------


def rss_kib(server: Server) -> float:
    """The process's resident memory (VmRSS) in KiB, nan when unknown."""
    if server.process is None:
        return math.nan
    try:
        for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


TICKETS_SNIPPET = """
import json
from django.contrib.auth import get_user_model
from django.db import transaction
from incidents.services.integrations import ws_ticket_issue
names = {users!r}
ids = dict(get_user_model().objects.filter(username__in=names).values_list("username", "pk"))
with transaction.atomic():
    keys = [ws_ticket_issue(user_id=ids[names[i % len(names)]])[0] for i in range({count})]
print("TICKETS " + json.dumps(keys))
"""

STREAM_SNIPPET = """
import json
from incidents.models import StreamEntry
rows = (
    StreamEntry.objects.filter(stream={stream!r}, event_id__gt={after})
    .order_by("event_id")
    .values_list("event_id", "event__kind", "event__data")
)
print("STREAM " + json.dumps(
    [[i, k, str((d or {{}}).get("case_number") or "")] for i, k, d in rows], ensure_ascii=False
))
"""


def tickets_issue(env: dict[str, str], count: int) -> list[str]:
    """`count` one-time WebSocket tickets for the district-wide VIEWERS in turn."""
    out = manage(env, "shell", "-c", TICKETS_SNIPPET.format(users=VIEWERS, count=count))
    for line in out.splitlines():
        if line.startswith("TICKETS "):
            keys: list[str] = json.loads(line[len("TICKETS ") :])
            if len(keys) == count:
                return keys
    raise BenchError(f"the ticket snippet did not print {count} tickets:\n{out[-2000:]}")


def stream_log(env: dict[str, str], stream: str, after: int) -> list[tuple[int, str, str]]:
    """The stream's events after `after` from the database: (id, kind, case number)."""
    out = manage(env, "shell", "-c", STREAM_SNIPPET.format(stream=stream, after=after))
    for line in out.splitlines():
        if line.startswith("STREAM "):
            return [(int(i), str(k), str(c)) for i, k, c in json.loads(line[len("STREAM ") :])]
    raise BenchError(f"the stream snippet printed nothing:\n{out[-2000:]}")


@dataclass
class LogFindings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replays: dict[str, int] = field(default_factory=dict)


def log_findings(servers: Sequence[Server]) -> LogFindings:
    """Errors and warnings in the servers' logs (summed up, repeats counted) and replays."""
    found = LogFindings()
    for server in servers:
        for problem in server.problems():
            text = f"{server.label}: {problem}"
            summary = problem.split("× ", 1)[-1] if re.match(r"^\d+× ", problem) else problem
            (found.errors if ERROR_RE.search(summary) else found.warnings).append(text)
        with contextlib.suppress(OSError):
            for line in server.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
                if REPLAY_MARK in line:
                    why = line.split(REPLAY_MARK, 1)[1].split()[0]
                    found.replays[why] = found.replays.get(why, 0) + 1
    return found


# --- the load -----------------------------------------------------------------------------


@dataclass
class Post:
    server: str
    due: float  # when the schedule wanted it sent
    t0: float = math.nan
    done: float = math.nan
    status: int = 0
    case_number: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 201 and bool(self.case_number)

    @property
    def ms(self) -> float:
        return (self.done - self.t0) * 1000


@dataclass
class Phase:
    """What one phase (the baseline or the load) measured."""

    label: str
    clients_asked: int
    seconds: float
    connected: int = 0
    connect_s: float = math.nan
    refused: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    delivery: Delivery = field(default_factory=Delivery)
    missing_in_log: list[str] = field(default_factory=list)  # 201 cases with no event
    window_s: float = math.nan  # first POST to last frame
    server_cpu: float = math.nan  # both servers, share of one core, over the window
    driver_cpu: float = math.nan
    connect_cpu_ms: float = math.nan  # servers' CPU per connection made
    rss_before: float = math.nan  # KiB, both servers
    rss_connected: float = math.nan
    rss_after: float = math.nan
    rss_left: float = math.nan

    @property
    def failed_posts(self) -> list[Post]:
        return [p for p in self.posts if not p.ok]

    def post_ms(self, q: float) -> float:
        return percentile(sorted(p.ms for p in self.posts if p.ok), q)

    @property
    def lag_ms(self) -> float:
        return max(((p.t0 - p.due) * 1000 for p in self.posts if p.ok), default=math.nan)

    @property
    def rate(self) -> float:
        ok = [p for p in self.posts if p.ok]
        if len(ok) < 2:
            return math.nan
        return (len(ok) - 1) / (ok[-1].t0 - ok[0].t0)

    def per_connection(self, rss: float) -> float:
        return (rss - self.rss_before) / self.connected if self.connected else math.nan

    def errors(self) -> dict[str, int]:
        other = sum(self.delivery.other_frames.values())
        return {
            "failed or refused POSTs": len(self.failed_posts),
            "cases without a `case.registered` event in the log": len(self.missing_in_log),
            "refused handshakes": len(self.refused),
            "sockets closed by the server": len(self.dropped),
            "error or unexpected frames": other,
            "missing frames": self.delivery.missing,
            "duplicated frames": self.delivery.duplicated,
            "out-of-order frames": self.delivery.out_of_order,
        }


class Load:
    def __init__(self, args: argparse.Namespace, env: dict[str, str], tool_env: dict[str, str]):
        self.args = args
        self.env = env
        self.tool_env = tool_env  # for manage.py commands: DEBUG on, so no deploy checks
        self.servers: list[Server] = []
        self.token = ""
        self.serial = count(1_000_000)
        self.index = 0  # POSTs so far (they alternate between the servers)
        self.inboxes = Inboxes()
        self.counter = Counter()
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="post")
        self.t0_of_case: dict[str, float] = {}

    def server_cpu(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)

    def rss(self) -> float:
        return sum(rss_kib(s) for s in self.servers)

    def check_alive(self) -> None:
        for server in self.servers:
            if not server.alive():
                raise BenchError(f"{server.label} died during the run")

    # --- POSTs ---
    def _post(self, server: Server, body: bytes, post: Post) -> Post:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=POST_TIMEOUT_S)
        try:
            conn.connect()
            post.t0 = time.perf_counter()
            conn.request(
                "POST",
                "/api/v1/cases",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                    "Idempotency-Key": str(uuid.uuid4()),
                },
            )
            response = conn.getresponse()
            data = response.read()
            post.done = time.perf_counter()
            post.status = response.status
            if response.status == 201:
                post.case_number = str(json.loads(data)["case_number"])
            else:
                post.error = f"{response.status}: {data[:300].decode('utf-8', 'replace')}"
        except (OSError, ValueError, KeyError) as exc:
            post.error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        return post

    async def register(self, due: float) -> Post:
        server = self.servers[self.index % len(self.servers)]
        self.index += 1
        n = next(self.serial)
        body = json.dumps(
            intake_payload(
                employer={"name": f"湖州负载测试劳务{n}有限公司", "credit_code": credit_code(n)}
            ),
            ensure_ascii=False,
        ).encode()
        post = Post(server=server.label, due=due)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.pool, self._post, server, body, post)
        if post.ok:
            self.t0_of_case[post.case_number] = post.t0
        return post

    async def drive(self, seconds: float) -> list[Post]:
        """`rate` POSTs a second for `seconds` on a fixed schedule, none waiting for another."""
        rate = self.args.rate
        total = max(1, round(rate * seconds))
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.register(due)))
            if i % max(1, round(rate)) == 0:
                self.check_alive()
        return list(await asyncio.gather(*tasks))

    # --- a phase ---
    async def phase(self, label: str, clients: int, seconds: float) -> Phase:
        args = self.args
        result = Phase(label, clients, seconds)
        keys = await asyncio.to_thread(tickets_issue, self.tool_env, clients)
        urls = [
            (
                f"ws://{self.servers[i % 2].base}/ws/dashboard/?ticket={key}",
                self.servers[i % 2].label,
            )
            for i, key in enumerate(keys)
        ]
        result.rss_before = self.rss()
        cpu0 = self.server_cpu()
        began = time.perf_counter()
        made, result.refused = await clients_open(
            urls, self.counter, args.concurrency, compression=args.compression, resume=True
        )
        result.connect_s = time.perf_counter() - began
        result.connected = len(made)
        if made:
            result.connect_cpu_ms = (self.server_cpu() - cpu0) / len(made) * 1000
        print(
            f"  {label}: {len(made)} of {clients} clients connected in {result.connect_s:.1f} s",
            flush=True,
        )
        self.inboxes.add(made)
        drainer = asyncio.create_task(self._drain_forever(made))
        try:
            await asyncio.sleep(SETTLE_S)
            result.rss_connected = self.rss()
            cpu0, driver0, began = self.server_cpu(), time.process_time(), time.perf_counter()
            result.posts = await self.drive(seconds)
            await self.settle(result, made)
            result.window_s = time.perf_counter() - began
            result.server_cpu = (self.server_cpu() - cpu0) / result.window_s
            result.driver_cpu = (time.process_time() - driver0) / result.window_s
            result.rss_after = self.rss()
        finally:
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drainer
            self.inboxes.drain(made)
            result.dropped = [
                f"{c.server}: {c.ended}" for c in made if c.ended is not None and not c.closing
            ]
            await clients_close(made)
        await asyncio.sleep(SETTLE_S)
        result.rss_left = self.rss()
        self.check_alive()
        return result

    async def _drain_forever(self, clients: Sequence[Client]) -> None:
        while True:
            await asyncio.sleep(DRAIN_EVERY_S)
            self.inboxes.drain(clients)

    async def settle(self, result: Phase, clients: Sequence[Client]) -> None:
        """Wait (up to `--grace`) until every client has the stream's last event, then check
        every client's frames against the stream's log."""
        if not clients:
            return
        stream = str(clients[0].hello.get("stream"))
        after = min(int(c.hello.get("head") or 0) for c in clients)
        log = await asyncio.to_thread(stream_log, self.tool_env, stream, after)
        head = log[-1][0] if log else after
        deadline = time.monotonic() + self.args.grace
        while time.monotonic() < deadline:
            self.inboxes.drain(clients)
            if self.inboxes.reached(clients, head):
                break
            await asyncio.sleep(0.2)
        self.inboxes.drain(clients)
        registered = {case for _i, kind, case in log if kind == HEADLINE_KIND}
        result.missing_in_log = [
            p.case_number for p in result.posts if p.ok and p.case_number not in registered
        ]
        result.delivery = analyse(
            log,
            [self.inboxes.seen[id(c)] for c in clients],
            self.t0_of_case,
            self.inboxes.meaning,
        )


# --- report -----------------------------------------------------------------------------


def mib(kib: float) -> str:
    return "–" if math.isnan(kib) else f"{kib / 1024:.1f} MiB"


def kib(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f} KiB"


def row(figure: str, value: str, baseline: str, rat: str) -> None:
    print(f"| {figure} | {value} | {baseline} | {rat} |")
    record(BENCH, figure, value, baseline, rat)


def report(
    args: argparse.Namespace,
    base: Phase,
    load: Phase,
    findings: LogFindings,
    setting: str,
    problems: Sequence[str],
) -> int:
    """Print the markdown report, record its rows; returns the number of errors."""
    n = load.connected
    print(
        f"\n### WebSocket load: {load.clients_asked} dashboards on 2 ASGI processes, "
        f"{args.rate:g} cases/s through the API for {load.seconds:g} s\n"
    )
    print(f"{setting}\n")
    print(
        "Latency of a frame = its arrival at a client minus T0, taken just before the POST "
        "that registered its case was sent (intake, commit, relay through Redis, delivery). "
        f"Baseline: the same rate for {base.seconds:g} s with one client on each process, "
        "earlier in the same run; memory baseline: the two processes warm, with no client.\n"
    )
    print(f"| figure | load ({n} clients) | baseline | ratio |")
    print("|---|---|---|---|")
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        a = percentile(sorted(load.delivery.headline_ms), q)
        b = percentile(sorted(base.delivery.headline_ms), q)
        row(f"`{HEADLINE_KIND}` frame latency {name}", ms(a), ms(b), ratio(a, b))
    a = percentile(sorted(load.delivery.all_ms), 95)
    b = percentile(sorted(base.delivery.all_ms), 95)
    row("every event frame, latency p95", ms(a), ms(b), ratio(a, b))
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        a, b = load.post_ms(q), base.post_ms(q)
        row(f"POST /api/v1/cases {name}", ms(a), ms(b), ratio(a, b))
    row(
        "cases registered (201), achieved rate",
        f"{len(load.posts) - len(load.failed_posts)} of {len(load.posts)}, {load.rate:.2f}/s",
        f"{len(base.posts) - len(base.failed_posts)} of {len(base.posts)}, {base.rate:.2f}/s",
        "–",
    )
    row("driver's lateness sending a POST, max", ms(load.lag_ms), ms(base.lag_ms), "–")
    row(
        "event frames delivered / expected",
        f"{load.delivery.delivered} / {load.delivery.expected}",
        f"{base.delivery.delivered} / {base.delivery.expected}",
        "–",
    )
    row(
        "clients connected, time",
        f"{load.connected} of {load.clients_asked} in {load.connect_s:.1f} s",
        f"{base.connected} of {base.clients_asked} in {base.connect_s:.1f} s",
        "–",
    )
    row(
        "servers' CPU per connection made",
        ms(load.connect_cpu_ms),
        ms(base.connect_cpu_ms),
        ratio(load.connect_cpu_ms, base.connect_cpu_ms),
    )
    row(
        "servers' RSS (both processes), clients connected",
        mib(load.rss_connected),
        f"{mib(load.rss_before)} warm, no client",
        ratio(load.rss_connected, load.rss_before),
    )
    idle_process = load.rss_before / 2
    for name, value in (
        ("memory per connection, once connected", load.per_connection(load.rss_connected)),
        ("memory per connection, after the run", load.per_connection(load.rss_after)),
    ):
        row(name, kib(value), f"{mib(idle_process)} a warm idle process", "–")
    row(
        "servers' RSS after the clients left",
        mib(load.rss_left),
        f"{mib(load.rss_before)} before they came",
        ratio(load.rss_left, load.rss_before),
    )
    row(
        "servers' CPU, both processes (first POST to last frame)",
        cores(load.server_cpu),
        cores(base.server_cpu),
        ratio(load.server_cpu, base.server_cpu),
    )
    row(
        "driver's CPU (this process)",
        cores(load.driver_cpu),
        cores(base.driver_cpu),
        ratio(load.driver_cpu, base.driver_cpu),
    )
    replays = sum(findings.replays.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(findings.replays.items()))
    row("replays from the log (server side, not errors)", f"{replays} {detail}".strip(), "–", "–")

    print("\n#### Errors (target: none)\n")
    print("| error | load | baseline |")
    print("|---|---|---|")
    total = 0
    for (name, x), y in zip(load.errors().items(), base.errors().values(), strict=True):
        print(f"| {name} | {x} | {y} |")
        total += x + y
    print(f"| errors in the servers' logs | {len(findings.errors)} | (whole run) |")
    total += len(findings.errors) + len(problems)
    record(BENCH, "errors (all kinds)", str(total), "0 (target)", "–")

    lines: list[str] = []
    for phase in (base, load):
        d = phase.delivery
        if d.missing:
            lines.append(f"{phase.label}: missing frames by kind {d.missing_by_kind}")
        if d.other_frames:
            lines.append(f"{phase.label}: other frames {d.other_frames}")
        for post in phase.failed_posts[:5]:
            lines.append(f"{phase.label}: POST to {post.server} failed: {post.error[:300]}")
        if phase.refused:
            lines.append(f"{phase.label}: handshakes refused, e.g. {phase.refused[:3]}")
        if phase.dropped:
            lines.append(f"{phase.label}: sockets closed, e.g. {phase.dropped[:3]}")
        if phase.missing_in_log:
            lines.append(f"{phase.label}: cases without an event {phase.missing_in_log[:5]}")
    lines += [f"error: {e}" for e in findings.errors]
    lines += [f"warning: {w}" for w in findings.warnings]
    lines += list(problems)
    if lines:
        print("\n#### Problems\n")
        for line in lines:
            print(f"- {line}")
    if load.driver_cpu > 0.8:
        print("\nNote: the driver used over 80% of a core; its own delays are in the latencies.")
    return total


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    # `run_all.py --quick` sets BENCH_QUICK=1: small sizes unless LOAD_* say otherwise.
    quick = os.environ.get("BENCH_QUICK") == "1"
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--clients",
        type=int,
        default=int(os.environ.get("LOAD_CLIENTS", "50" if quick else "500")),
        help="dashboards, half on each process (LOAD_CLIENTS, default 500; 50 with BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("LOAD_SECONDS", "20" if quick else "300")),
        help="seconds of registering cases (LOAD_SECONDS, default 300; 20 with BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("LOAD_RATE", "2")),
        help="cases registered per second (LOAD_RATE, default 2)",
    )
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=None,
        help="the baseline phase (one client per process); default a tenth of --seconds, 3 to 30 s",
    )
    parser.add_argument("--layer", choices=["pubsub", "core"], default="pubsub")
    parser.add_argument(
        "--compression",
        choices=["deflate", "none"],
        default="deflate",
        help="permessage-deflate offered by the clients, as browsers do (default deflate)",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
    parser.add_argument("--grace", type=float, default=20.0, help="final wait for late frames")
    parser.add_argument("--redis-db", type=int, default=6)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs")
    args = parser.parse_args(argv)
    if args.clients < 2 or args.seconds <= 0 or args.rate <= 0:
        parser.error("--clients must be at least 2, --seconds and --rate positive")
    if args.baseline_seconds is None:
        args.baseline_seconds = min(30.0, max(3.0, args.seconds / 10))
    return args


async def run(load: Load) -> tuple[Phase, Phase]:
    args = load.args
    print("baseline: one client on each process", flush=True)
    base = await load.phase("baseline", 2, args.baseline_seconds)
    print(f"load: {args.clients} clients, {args.rate:g} cases/s for {args.seconds:g} s", flush=True)
    return base, await load.phase("load", args.clients, args.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, terminated)
    limit = raise_fd_limit(args.clients + 1024)
    if limit < args.clients + 256:
        print(f"error: the open-file limit is {limit}, too low for {args.clients} clients")
        return 2
    redis_url = f"{REDIS_SERVER}/{args.redis_db}"
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-load-"))
    log_dir = tmp / "logs"
    log_dir.mkdir()
    db: Database | None = None
    load: Load | None = None
    failed = True
    started = time.monotonic()
    try:
        redis_check(redis_url)
        redis_flush(redis_url)
        db = database_create(tmp, force_sqlite=args.sqlite)
        if db.vendor == "sqlite" and not args.sqlite:
            raise BenchError("PostgreSQL is needed (set BENCH_POSTGRES_URL), or pass --sqlite")
        env = hub_env(db, redis_url, tmp, args.layer)
        env.update(
            {
                # Production's switches, as far as loopback allows: no TLS, so no redirect.
                "DEBUG": "false",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "SECURE_SSL_REDIRECT": "false",
                "PUBLIC_BASE_URL": "https://hub.example.gov.cn",
                "CHANNEL_PREFIX": f"load{os.getpid()}",
                # As production should: a bounded pool per process, so that overload makes
                # requests wait instead of exhausting PostgreSQL's connections.
                "DATABASE_POOL_SIZE": os.getenv("LOAD_POOL_SIZE", "16"),
            }
        )
        tool_env = dict(env, DEBUG="true", DATABASE_POOL_SIZE="0")
        load = Load(args, env, tool_env)
        setting = (
            f"{db.vendor}; Redis {redis_url}, layer `{args.layer}`, prefix "
            f"`{env['CHANNEL_PREFIX']}`; DEBUG off; client compression {args.compression}; "
            f"machine: {os.cpu_count()} cores, at the start {load_average()}"
        )
        print(setting, flush=True)
        manage(tool_env, "migrate", "--noinput", "-v0")
        manage(tool_env, "seed_demo", "--cases", "0")
        load.token = manage(tool_env, "issue_token", REGISTRAR, "--name", "load")
        load.token = load.token.strip().splitlines()[-1]
        print(f"  database ready in {time.monotonic() - started:.0f} s", flush=True)
        for n in (1, 2):
            server = Server(f"app-{n}", APP_TARGET, env, log_dir)
            load.servers.append(server)
            server.start(PROBE)
        print(f"  servers up at {time.monotonic() - started:.0f} s", flush=True)
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            base, result = runner.run(run(load))
        problems: list[str] = []
        for server in load.servers:
            hung = server.stop()
            if hung:
                problems.append(hung)
        findings = log_findings(load.servers)
        setting += f"; at the end {load_average()}"
        errors = report(args, base, result, findings, setting, problems)
        failed = errors > 0
        print(f"\n(total {time.monotonic() - started:.0f} s)")
        if failed:
            print(f"FAILED: {errors} errors (see the tables and Problems).", file=sys.stderr)
        return 1 if failed else 0
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the servers, dropping the database", file=sys.stderr)
        return 130
    finally:
        if load is not None:
            for server in load.servers:
                server.stop()
            load.pool.shutdown(wait=False, cancel_futures=True)
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
