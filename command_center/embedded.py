"""Background work for the embedded mode, run by the ASGI server's own process.

Production runs the clock sweep from Celery beat; a laptop or a demo has no beat, so
`LifespanApp` starts a loop on ASGI startup that calls the same service every
`CLOCK_SWEEP_SECONDS`, and stops it on shutdown.

In every mode each ASGI process also runs the event relay's catch-up every
`RELAY_SWEEP_SECONDS`: events committed while the channel layer was down reach live
screens soon after it returns, even if no new event comes to push them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

log = logging.getLogger(__name__)


async def sweep_forever(interval: float) -> None:
    from incidents.services import clocks_sweep, idempotency_purge, presence_purge

    while True:
        try:
            marked = await sync_to_async(clocks_sweep, thread_sensitive=False)()
            if marked:
                log.info("clock sweep marked %d clocks overdue", marked)
            await sync_to_async(idempotency_purge, thread_sensitive=False)()
            await sync_to_async(presence_purge, thread_sensitive=False)()
        except Exception:
            log.exception("clock sweep failed; retrying next round")
        await asyncio.sleep(interval)


async def relay_forever(interval: float) -> None:
    from incidents.events import events_relay_all

    while True:
        try:
            relayed = await sync_to_async(events_relay_all, thread_sensitive=False)()
            if relayed:
                log.info("relay caught up %d events", relayed)
        except Exception:
            log.exception("event relay failed; retrying next round")
        await asyncio.sleep(interval)


class LifespanApp:
    """Wraps the ASGI app: answers lifespan events and owns the background loops."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if settings.EMBEDDED_SWEEP and settings.CLOCK_SWEEP_SECONDS > 0:
                    self.tasks.append(
                        asyncio.create_task(sweep_forever(settings.CLOCK_SWEEP_SECONDS))
                    )
                if settings.RELAY_SWEEP_SECONDS > 0:
                    self.tasks.append(
                        asyncio.create_task(relay_forever(settings.RELAY_SWEEP_SECONDS))
                    )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self.tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await send({"type": "lifespan.shutdown.complete"})
                return
