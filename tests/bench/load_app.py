"""The hub's ASGI application as `bench_load_ws.py` serves it: unchanged, plus a count of
the live sockets' replays from the event log.

A dashboard socket replays its stream from the log when the channel layer lost a frame
(a frame names a predecessor the client was not sent) or when more frames arrived during
the resume hold than it keeps. Both are correct behaviour, invisible to the client, and
worth counting under load: each is logged here at INFO as one `LOAD-REPLAY <why>` line,
which the load test counts in the server's log. The check costs one comparison per frame.

Served like the hub: `uvicorn tests.bench.load_app:application --lifespan on`.
"""

from __future__ import annotations

import logging
from typing import Any

from command_center.asgi import application
from incidents.live import LiveConsumer

__all__ = ["REPLAY_MARK", "application"]

REPLAY_MARK = "LOAD-REPLAY"
log = logging.getLogger("bench.load")

_deliver = LiveConsumer._deliver
_release_held = LiveConsumer._release_held


async def _deliver_counted(self: LiveConsumer, message: dict[str, Any]) -> None:
    if message["event"]["id"] > self.last_id and message.get("prev", 0) > self.last_id:
        log.info("%s gap stream=%s last_id=%s", REPLAY_MARK, self.stream, self.last_id)
    await _deliver(self, message)


async def _release_held_counted(self: LiveConsumer) -> None:
    if self.holding and self.overflowed:
        log.info("%s overflow stream=%s", REPLAY_MARK, self.stream)
    await _release_held(self)


LiveConsumer._deliver = _deliver_counted  # type: ignore[method-assign]
LiveConsumer._release_held = _release_held_counted  # type: ignore[method-assign]
