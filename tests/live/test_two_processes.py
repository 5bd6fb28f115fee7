"""Production's shape: two ASGI server processes sharing Redis and one database.

A client connected to one process sees, live, a case registered through the other, after
sitting idle longer than redis-py 8's default 5-second socket timeout (the trap of
channels_redis issue 422), with each of the two Redis channel layers.

Needs Redis at REDIS_URL (default redis://127.0.0.1:6379/0); skipped without it, except
under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import redis_or_skip
from tests.e2e.conftest import LiveHub, api_post, discard, new_hub, serve, stop
from tests.e2e.conftest import _free_port as free_port
from tests.e2e.conftest import _wait_until_up as wait_until_up
from tests.factories import credit_code, intake_payload

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
IDLE_SECONDS = 7  # longer than redis-py 8's default socket timeout (5 s)


@pytest.fixture(scope="module")
def seeded() -> Iterator[LiveHub]:
    """One migrated, seeded database (SQLite file) that both processes share."""
    redis_or_skip(REDIS_URL)
    hub = new_hub(cases=0)
    try:
        yield hub
    finally:
        discard(hub)


class Pair:
    def __init__(self, hub: LiveHub, layer: str) -> None:
        self.env = {
            **hub.env,
            "REDIS_URL": REDIS_URL,
            "CHANNEL_LAYER": layer,
            "CHANNEL_PREFIX": f"test{uuid.uuid4().hex[:10]}",
            "EMBEDDED_SWEEP": "false",
            "DEBUG": "true",
        }
        self.hub = hub
        self.urls: list[str] = []
        self.processes: list[Any] = []
        self.logs: list[Path] = []

    def start(self) -> None:
        for n in range(2):
            port = free_port()
            log = self.hub.data_dir / f"server-{n}-{port}.log"
            process = serve(self.env, port, log)
            self.processes.append(process)
            self.logs.append(log)
            self.urls.append(f"http://127.0.0.1:{port}")
        for url, process, log in zip(self.urls, self.processes, self.logs, strict=True):
            wait_until_up(url, process, log)

    def stop(self) -> None:
        for process in self.processes:
            stop(process)

    def output(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-3000:] for log in self.logs)


async def next_frame(ws: Any, kind: str, within: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
        frame = json.loads(raw)
        if frame.get("type") == "event" and frame["kind"] == kind:
            return frame


@pytest.mark.parametrize("layer", ["pubsub", "core"])
def test_an_event_made_through_one_process_reaches_a_client_of_the_other(
    seeded: LiveHub, layer: str
) -> None:
    pair = Pair(seeded, layer)
    command_token = seeded.manage("issue_token", "command").strip()
    clerk_token = seeded.manage("issue_token", "clerk_lianshi").strip()
    pair.start()
    try:
        first, second = pair.urls
        ticket = api_post(first, command_token, "/api/v1/ws-ticket", {})["ticket"]

        async def scenario() -> tuple[dict[str, Any], dict[str, Any], str]:
            ws_url = first.replace("http://", "ws://") + f"/ws/dashboard/?ticket={ticket}"
            async with websockets.connect(ws_url) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello", hello
                await asyncio.sleep(IDLE_SECONDS)  # idle: the socket-timeout trap
                payload = intake_payload(
                    employer={"name": "湖州宏达建筑劳务有限公司", "credit_code": credit_code()}
                )
                made = await asyncio.to_thread(
                    api_post, second, clerk_token, "/api/v1/cases", payload
                )
                frame = await next_frame(ws, "case.registered")
                return hello, frame, made["case_number"]

        # In a thread of its own: a browser test may have left an event loop running here.
        with ThreadPoolExecutor(max_workers=1) as pool:
            hello, frame, number = pool.submit(asyncio.run, scenario()).result()
    except Exception:
        print(pair.output())
        raise
    finally:
        pair.stop()
    assert frame["data"]["case_number"] == number
    assert frame["id"] > hello["head"]
    assert "TimeoutError" not in pair.output()
