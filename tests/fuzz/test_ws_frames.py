"""Fuzzed frames on every live socket (the real ASGI application, in-memory channel layer).

Connected as a person the socket admits, each example sends a few frames: text that is not
JSON, JSON of every shape, deeply nested arrays, huge frames, binary frames, unknown types,
and the known types (`ping`, `resume`, `chat`, `ack`, `step`) with fields of any type.
After each frame a `ping` must come back as its `pong` (the socket stayed open and
answers); every frame the server sent between is a JSON object with a `type`; and a frame
answered with an `error` frame changed nothing in the database (no chat line, no
acknowledgement, no step moved).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import given, note
from hypothesis import strategies as st

from command_center.asgi import application
from incidents import demo
from tests.fuzz.conftest import World, fuzz_settings, snapshot

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "http://testserver"
TYPES = ["ping", "resume", "chat", "ack", "step", "hello", "event", "", "Chat", "x" * 100]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
typed_frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | st.text(max_size=20)},
    optional={
        "after": json_values,
        "text": st.text(max_size=3000) | json_values,
        "note": st.text(max_size=50) | json_values,
        "step_id": st.integers(min_value=-3, max_value=50) | json_values,
        "state": st.sampled_from(["open", "in_progress", "done", "skipped"]) | json_values,
        "number": json_values,
        "expected_revision": st.integers(min_value=-2, max_value=5) | json_values,
        "ref": json_values,
    },
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# A frame: ("text", str) or ("bytes", bytes), never empty (the test communicator sends no
# empty frame).
frames = st.one_of(
    typed_frames.map(lambda f: ("text", json.dumps(f))),
    json_values.map(lambda v: ("text", json.dumps(v))),
    st.text(min_size=1, max_size=200).map(lambda t: ("text", t)),
    st.integers(min_value=10, max_value=8000).map(lambda d: ("text", nested(d))),
    st.integers(min_value=16 * 1024 - 20, max_value=40_000).map(
        lambda n: ("text", json.dumps({"type": "chat", "text": "x" * n}))
    ),
    st.binary(min_size=1, max_size=100).map(lambda b: ("bytes", b)),
)


def session_cookie(username: str) -> bytes:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(path: str, cookie: bytes) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", SITE.encode()), (b"cookie", cookie)]
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    hello = await ws.receive_json_from(timeout=5)
    assert hello["type"] == "hello", hello
    return ws


async def answers_until_pong(ws: WebsocketCommunicator, ref: str) -> list[dict[str, Any]]:
    """The frames the server sent up to the `pong` of `ref` (which proves it still reads)."""
    seen: list[dict[str, Any]] = []
    while True:
        output = await ws.receive_output(timeout=5)
        assert output["type"] == "websocket.send", f"the socket closed: {output}"
        frame = json.loads(output["text"])
        assert isinstance(frame, dict), frame
        assert isinstance(frame.get("type"), str), frame
        if frame["type"] == "pong" and frame.get("ref") == ref:
            return seen
        seen.append(frame)


async def send_frames(
    path: str, cookie: bytes, batch: list[tuple[str, Any]], log: list[str]
) -> None:
    ws = await connect(path, cookie)
    try:
        for number, (kind, payload) in enumerate(batch):
            log.append(f"frame {number}: {kind} {str(payload)[:300]!r}")
            before = await sync_to_async(snapshot)()
            if kind == "text":
                await ws.send_to(text_data=payload)
            else:
                await ws.send_to(bytes_data=payload)
            probe = f"probe-{number}"
            await ws.send_json_to({"type": "ping", "ref": probe})
            answers = await answers_until_pong(ws, probe)
            errors = [a for a in answers if a["type"] == "error"]
            log.append(f"answers: {answers!r:.500}")
            if errors:
                assert all(isinstance(e.get("detail"), str) and e["detail"] for e in errors)
                assert await sync_to_async(snapshot)() == before, errors
    finally:
        await ws.disconnect()


@pytest.fixture
def many_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-socket frame budget (5 a second) would answer most fuzz frames `slow_down`;
    here every frame is read."""
    monkeypatch.setattr("incidents.live.FRAMES_PER_SECOND", 10_000.0)


@pytest.fixture
def cookies(world: World) -> dict[str, bytes]:
    demo.load_province([world.district])
    return {u: session_cookie(u) for u in ("command", "liaison_lianshi", "province_command")}


def sockets(world: World) -> list[tuple[str, str]]:
    room = f"/ws/incidents/{world.incident.pk}/"
    return [
        ("/ws/dashboard/", "command"),
        ("/ws/dashboard/", "liaison_lianshi"),
        (room, "command"),
        (room, "liaison_lianshi"),
        ("/ws/province/", "province_command"),
    ]


@pytest.mark.parametrize("index", range(5), ids=["dash", "dash-unit", "room", "room-unit", "prov"])
def test_fuzzed_frames_get_an_answer_and_a_refused_one_changes_nothing(
    world: World, cookies: dict[str, bytes], many_frames: None, index: int
) -> None:
    path, user = sockets(world)[index]

    @fuzz_settings(quick=6)
    @given(batch=st.lists(frames, min_size=1, max_size=4))
    def fuzz(batch: list[tuple[str, Any]]) -> None:
        log: list[str] = []
        try:
            async_to_sync(send_frames)(path, cookies[user], batch, log)
        finally:
            for line in log:
                note(line)

    fuzz()


async def test_a_deeply_nested_frame_is_refused_as_bad_json(
    world: World, cookies: dict[str, bytes]
) -> None:
    ws = await connect("/ws/dashboard/", cookies["command"])
    await ws.send_to(text_data=nested(5000))
    error = await ws.receive_json_from(timeout=5)
    assert (error["type"], error["code"]) == ("error", "bad_frame")
    await ws.send_json_to({"type": "ping", "ref": "alive"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
    await ws.disconnect()
