"""`StreamHeads`: the sockets of one process share one reading of a stream's head.

The catch-up of every open socket asks for its stream's newest event id every
`WS_CATCH_UP_SECONDS`; these tests count the readings that reach the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from command_center.asgi import application
from incidents import live
from incidents.events import stream_head
from incidents.live import StreamHeads, heads_of_loop
from tests.faults.test_lost_frames import session_cookie

SCREENS = 20


class Log:
    """A stand-in for the event log: counts readings; each takes a moment, as a query does."""

    def __init__(self) -> None:
        self.heads: dict[str, int] = {}
        self.readings: Counter[str] = Counter()

    async def read(self, stream: str) -> int:
        self.readings[stream] += 1
        await asyncio.sleep(0.01)
        return self.heads.get(stream, 0)


async def test_five_hundred_sockets_asking_at_once_cost_one_reading_per_stream() -> None:
    log = Log()
    log.heads = {"district:1": 40, "incident:7": 9}
    heads = StreamHeads(ttl=15, read=log.read)
    streams = ["district:1"] * 450 + ["incident:7"] * 50
    answers = await asyncio.gather(*(heads.head(stream) for stream in streams))
    assert answers == [40] * 450 + [9] * 50
    assert log.readings == {"district:1": 1, "incident:7": 1}


async def test_a_reading_older_than_its_ttl_is_read_again() -> None:
    log = Log()
    log.heads = {"district:1": 40}
    heads = StreamHeads(ttl=0.05, read=log.read)
    assert await heads.head("district:1") == 40
    log.heads["district:1"] = 42  # events written since
    assert await heads.head("district:1") == 40  # within the ttl: the reading stands
    await asyncio.sleep(0.06)
    assert await heads.head("district:1") == 42
    assert log.readings["district:1"] == 2


async def test_a_failed_reading_is_not_kept_and_the_next_asker_reads_again() -> None:
    calls = 0

    async def flaky(stream: str) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database restarting")
        return 5

    heads = StreamHeads(ttl=15, read=flaky)
    with pytest.raises(ConnectionError):
        await heads.head("district:1")
    assert await heads.head("district:1") == 5


async def test_old_readings_are_forgotten_when_there_are_many_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(StreamHeads, "PRUNE_ABOVE", 3)
    log = Log()
    heads = StreamHeads(ttl=0.02, read=log.read)
    for n in range(3):
        await heads.head(f"incident:{n}")

    async def failing(stream: str) -> int:
        raise ConnectionError("database restarting")

    heads.read = failing
    with pytest.raises(ConnectionError):
        await heads.head("incident:failed")  # leaves a lock and no reading
    heads.read = log.read
    await asyncio.sleep(0.03)
    await heads.head("incident:99")  # the fourth: the three stale ones go
    assert set(heads.heads) == {"incident:99"}
    assert set(heads.locks) == {"incident:99"}


async def test_each_event_loop_has_its_own_heads(settings: Any) -> None:
    settings.WS_CATCH_UP_SECONDS = 30
    mine = heads_of_loop()
    assert heads_of_loop() is mine
    assert mine.ttl == 15

    def in_another_loop() -> StreamHeads:
        async def ask() -> StreamHeads:
            return heads_of_loop()

        return asyncio.run(ask())

    other = await asyncio.to_thread(in_another_loop)
    assert other is not mine
    assert asyncio.get_running_loop() in live._heads


# --- the sockets ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_open_dashboards_of_one_process_share_their_catch_up_reading(
    district: Any, settings: Any
) -> None:
    """Twenty screens on one stream, catching up every second for three seconds: the log is
    read about once per half second, not twenty times a second."""
    settings.WS_CATCH_UP_SECONDS = 1
    readings: Counter[str] = Counter()

    def counted(stream: str) -> int:
        readings[stream] += 1
        return stream_head(stream)

    cookie = await sync_to_async(session_cookie)("command")
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", cookie)]
    with mock.patch.object(live, "stream_head", counted):
        sockets = [WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)]
        sockets += [
            WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
            for _ in range(SCREENS - 1)
        ]
        for ws in sockets:
            connected, _ = await ws.connect(timeout=5)
            assert connected
            hello = await ws.receive_json_from(timeout=5)
            await ws.send_json_to({"type": "resume", "after": hello["head"]})
        for ws in sockets:
            await ws.send_json_to({"type": "ping"})
            assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
        readings.clear()  # connecting and resuming read the head once each: not counted
        await asyncio.sleep(3.2)
        for ws in sockets:
            await ws.disconnect()
    # Each socket's catch-up asked three times (60 readings unshared); shared, a reading
    # serves every socket for half a second: 7 at most in 3.2 s.
    assert readings, "the catch-up never read the log"
    assert sum(readings.values()) <= 7, readings


async def test_the_catch_up_stops_quietly_when_the_client_is_gone(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A send to a client that left raises (uvicorn: `ClientDisconnected`, an OSError): the
    catch-up ends there instead of logging a traceback every period for a dead socket."""
    settings.WS_CATCH_UP_SECONDS = 0.01
    consumer = live.LiveConsumer()
    consumer.stream, consumer.last_id, consumer.holding = "district.1", 0, False
    consumer.channel_name = "specific..gone"
    consumer.sending = asyncio.Lock()
    sends = 0

    async def gone() -> None:
        nonlocal sends
        sends += 1
        raise ConnectionResetError("client disconnected")

    async def ahead(stream: str) -> int:
        return 5

    consumer.replay = gone  # type: ignore[method-assign]
    with (
        mock.patch.object(live, "heads_of_loop", return_value=StreamHeads(0, ahead)),
        caplog.at_level(logging.INFO, logger="incidents.live"),
    ):
        await asyncio.wait_for(consumer._catch_up_forever(), timeout=5)
    assert sends == 1
    assert "the client is gone" in caplog.text
    assert "Traceback" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)
