"""The baseline of `bench_live_fanout.py`: the bare Channels fan-out, nothing of the hub.

`BareConsumer` joins one group on connect (no authentication, no database), greets the
client like the hub does, and forwards every `hub.event` message's `event` as one JSON text
frame, encoded the way `incidents.live.LiveConsumer` encodes. The channel layer is the one
`command_center.settings` builds from this process's environment (REDIS_URL, CHANNEL_LAYER,
CHANNEL_CAPACITY...), so the baseline runs on the same layer class and Redis config as the
app it is compared with.

Served like the hub: `uvicorn tests.bench.bare_fanout_app:application --lifespan on`.
Importing this module configures nothing: Django is set up on the first call, so the
benchmark driver can import `hub_channel_layers` and the names below.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BARE_GROUP = "bench.bare"
BARE_PATH = "/ws/bare/"
MESSAGE_TYPE = "hub.event"


def hub_channel_layers() -> dict[str, Any]:
    """CHANNEL_LAYERS exactly as `command_center/settings.py` builds them from os.environ."""
    layers: dict[str, Any] = runpy.run_path(str(ROOT / "command_center" / "settings.py"))[
        "CHANNEL_LAYERS"
    ]
    return layers


def _build() -> Any:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            CHANNEL_LAYERS=hub_channel_layers(),
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()

    from channels.generic.websocket import AsyncJsonWebsocketConsumer
    from channels.routing import URLRouter
    from django.urls import path

    class BareConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
        async def connect(self) -> None:
            await self.channel_layer.group_add(BARE_GROUP, self.channel_name)
            await self.accept()
            await self.send_json({"type": "hello", "stream": BARE_GROUP, "head": 0})

        async def disconnect(self, code: int) -> None:
            await self.channel_layer.group_discard(BARE_GROUP, self.channel_name)

        async def hub_event(self, message: dict[str, Any]) -> None:
            await self.send_json(message["event"])

        @classmethod
        async def encode_json(cls, content: Any) -> str:
            return json.dumps(content, ensure_ascii=False)

    return URLRouter([path(BARE_PATH.strip("/") + "/", BareConsumer.as_asgi())])


class BareApp:
    """Lifespan, a plain-text HTTP 200 (the readiness probe) and the one WebSocket route."""

    def __init__(self) -> None:
        self.router: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.router is None:
            self.router = _build()
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"bare fan-out app\n"})
            return
        await self.router(scope, receive, send)


application = BareApp()
