"""Redis goes down under a running hub; nothing is lost and no live screen keeps a gap.

The fault: a real uvicorn process of the hub (PostgreSQL, the Redis pub/sub channel layer,
no embedded sweep: production's shape) reaches Redis through a proxy the test cuts, closing
every connection and refusing new ones, then restores. The real Redis is never touched.

The proof:
- while Redis is down, cases registered over the API (201) and their transitions (200)
  succeed and are in the database, each with its events; `/readyz` says Redis is down while
  `/healthz` stays up;
- a dashboard socket opened before the cut still gets the new events while Redis is down,
  though nothing is published: its periodic catch-up (`WS_CATCH_UP_SECONDS`) reads them from
  the log. Once Redis returns the relay publishes the backlog (the socket drops what it
  already has) and new events flow through the channel layer again;
- that socket ends with every event of its stream after its `hello`, once each, in id
  order, each frame's predecessor in the stream being the frame before it (the log's `prev`
  chain, without a gap);
- a socket opened afterwards that resumes from the same point gets the very same frames;
- the relay's cursor ends at the log's last event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.factories import credit_code, intake_payload
from tests.faults.conftest import (
    CuttableProxy,
    FaultHub,
    Server,
    http_json,
    wait_until,
)

pytestmark = [pytest.mark.own_databases, pytest.mark.redis]

CASES_WHILE_DOWN = 3
# The relay's catch-up runs this often in each ASGI process (the default is 5 s).
RELAY_SWEEP_SECONDS = "1"
CATCH_UP_TIMEOUT_S = 20.0


def register(server: Server, token: str) -> str:
    payload = intake_payload(
        employer={"name": "湖州宏达建筑劳务有限公司", "credit_code": credit_code()},
    )
    status, body = http_json(
        "POST",
        f"{server.url}/api/v1/cases",
        token=token,
        body=payload,
        headers={"Idempotency-Key": f"redis-down-{uuid.uuid4().hex}"},
    )
    assert status == 201, (status, body)
    return str(body["case_number"])


def accept(server: Server, token: str, number: str) -> None:
    status, body = http_json(
        "POST",
        f"{server.url}/api/v1/cases/{number}/transitions",
        token=token,
        body={"action": "accept", "reason": "Redis down, work goes on"},
    )
    assert status == 200, (status, body)
    assert body["state"] == "accepted", body


def relay_cursor(hub: FaultHub) -> int:
    """How far the district's log was handed to the channel layer."""
    rows = hub.query(
        "SELECT published_id FROM incidents_eventrelay WHERE district_id = %s",
        (hub.district_id(),),
    )
    return int(rows[0][0]) if rows else 0


def stream_log(hub: FaultHub, stream: str, after: int) -> list[tuple[int, int]]:
    """(event id, prev) of the stream's entries after `after`, in id order."""
    rows = hub.query(
        "SELECT event_id, prev FROM incidents_streamentry"
        " WHERE stream = %s AND event_id > %s ORDER BY event_id",
        (stream, after),
    )
    return [(int(a), int(b)) for a, b in rows]


class Reader:
    """A dashboard socket that records every frame with the time it came."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.hello: dict[str, Any] = {}
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None

    async def open(self, resume_after: int | None = None) -> None:
        self._ws = await websockets.connect(self.url)
        self.hello = json.loads(await self._ws.recv())
        assert self.hello["type"] == "hello", self.hello
        after = self.hello["head"] if resume_after is None else resume_after
        # Resuming at once ends the hold on live frames (no 2-second grace to wait out).
        await self._ws.send(json.dumps({"type": "resume", "after": after}))
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                self.frames.append((time.monotonic(), json.loads(raw)))

    def events(self, since: float = 0.0) -> list[dict[str, Any]]:
        return [f for at, f in self.frames if f.get("type") == "event" and at >= since]

    async def wait_for_id(self, event_id: int, within: float) -> None:
        deadline = time.monotonic() + within
        while not any(e["id"] >= event_id for e in self.events()):
            if time.monotonic() > deadline:
                got = [e["id"] for e in self.events()]
                pytest.fail(f"event {event_id} not received within {within:.0f} s; got {got}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


def ticket(server: Server, token: str) -> str:
    status, body = http_json("POST", f"{server.url}/api/v1/ws-ticket", token=token, body={})
    assert status == 201, (status, body)
    return str(body["ticket"])


def test_with_redis_down_intake_goes_on_and_live_screens_catch_up_without_a_gap(
    fault_db: FaultHub, redis_url: str, tmp_path: Path
) -> None:
    proxy, proxied_url = CuttableProxy.to_url(redis_url)
    env = {
        **fault_db.env,
        "REDIS_URL": proxied_url,
        "CHANNEL_LAYER": "pubsub",
        "CHANNEL_PREFIX": f"faults{uuid.uuid4().hex[:10]}",
        "EMBEDDED_SWEEP": "false",
        "RELAY_SWEEP_SECONDS": RELAY_SWEEP_SECONDS,
        "READYZ_TIMEOUT_SECONDS": "1",
        # Sockets compare their stream's head with what they were sent this often (30 s by
        # default): the backlog may be published before this process's subscription is back.
        "WS_CATCH_UP_SECONDS": "2",
        "DEBUG": "true",
    }
    clerk, command = fault_db.tokens["clerk_lianshi"], fault_db.tokens["command"]
    stream = f"district.{fault_db.district_id()}"
    server = Server.start(env, tmp_path, "redis-down")

    async def scenario() -> dict[str, Any]:
        live = Reader(f"{server.ws_url}/ws/dashboard/?ticket={ticket(server, command)}")
        await live.open()
        head = int(live.hello["head"])
        # The fast path works before the fault.
        before = await asyncio.to_thread(register, server, clerk)
        before_id = stream_log(fault_db, stream, head)[-1][0]
        await live.wait_for_id(before_id, within=10)

        proxy.cut()
        cut_at = time.monotonic()
        numbers = []
        for _ in range(CASES_WHILE_DOWN):
            number = await asyncio.to_thread(register, server, clerk)
            await asyncio.to_thread(accept, server, command, number)
            numbers.append(number)
        ready = await asyncio.to_thread(http_json, "GET", f"{server.url}/readyz")
        healthy = await asyncio.to_thread(http_json, "GET", f"{server.url}/healthz")
        # Still down: the screen gets the new events from the log, by its catch-up.
        last_down = stream_log(fault_db, stream, head)[-1][0]
        await live.wait_for_id(last_down, within=CATCH_UP_TIMEOUT_S)
        during = live.events(since=cut_at)
        unpublished = relay_cursor(fault_db) < last_down

        proxy.restore()
        # The relay publishes the backlog (which the socket already has: dropped, not resent).
        await asyncio.to_thread(
            wait_until,
            "the relay publishes the backlog",
            lambda: relay_cursor(fault_db) >= last_down,
            CATCH_UP_TIMEOUT_S,
        )
        # And the fast path carries new events again.
        after = await asyncio.to_thread(register, server, clerk)
        last_id = stream_log(fault_db, stream, head)[-1][0]
        await live.wait_for_id(last_id, within=CATCH_UP_TIMEOUT_S)
        # A page that reconnects resumes from where it stood.
        again = Reader(f"{server.ws_url}/ws/dashboard/?ticket={ticket(server, command)}")
        await again.open(resume_after=head)
        await again.wait_for_id(last_id, within=10)
        await asyncio.sleep(1)  # anything extra (a duplicate) would come now
        await live.close()
        await again.close()
        return {
            "head": head,
            "before": before,
            "numbers": numbers,
            "ready": ready,
            "healthy": healthy,
            "during": during,
            "unpublished": unpublished,
            "after": after,
            "live": live.events(),
            "again": again.events(),
        }

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            seen = pool.submit(asyncio.run, scenario()).result()
    except BaseException:
        print(server.output())
        raise
    finally:
        server.stop()
        proxy.stop()

    # Intake and transitions went on: the cases are in the database, accepted.
    numbers = seen["numbers"]
    states = dict(
        fault_db.query(
            "SELECT number, state FROM incidents_case WHERE number = ANY(%s)", (numbers,)
        )
    )
    assert states == dict.fromkeys(numbers, "accepted")
    # Readiness said so; liveness stayed up.
    ready_status, ready_body = seen["ready"]
    assert ready_status == 503, ready_body
    assert ready_body["checks"]["redis"]["ok"] is False, ready_body
    assert ready_body["checks"]["database"]["ok"] is True, ready_body
    assert seen["healthy"] == (200, {"status": "ok"})
    # While Redis was down nothing was published, yet the screen got every new event.
    assert seen["unpublished"]
    assert {e["data"].get("case_number") for e in seen["during"]} == set(numbers)

    log = stream_log(fault_db, stream, seen["head"])
    log_ids = [event_id for event_id, _ in log]
    # The log chains without a gap from the socket's hello.
    assert [prev for _, prev in log] == [seen["head"], *log_ids[:-1]]
    # Every event of the stream once, in order, to the socket that lived through the fault
    # and to the one that resumed.
    for name in ("live", "again"):
        ids = [e["id"] for e in seen[name]]
        assert ids == log_ids, (name, ids, log_ids)
    by_case: dict[str, list[str]] = {}
    for event in seen["live"]:
        by_case.setdefault(event["data"].get("case_number", ""), []).append(event["kind"])
    assert by_case[seen["before"]]
    assert by_case[seen["after"]]
    for number in numbers:
        assert "case.registered" in by_case[number], by_case
        assert len(by_case[number]) >= 2, by_case  # registered, then accepted
    # The relay's cursor caught up with the log.
    top = fault_db.query(
        "SELECT MAX(id) FROM incidents_event WHERE district_id = %s", (fault_db.district_id(),)
    )
    assert relay_cursor(fault_db) == top[0][0]
