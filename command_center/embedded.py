"""Background work for the embedded mode, run by the ASGI server's own process.

Production runs the clock sweep, the SMS outbox and the alert escalations from Celery; a
laptop or a demo has no Celery worker, so `LifespanApp` starts loops on ASGI startup that
call the same services (the clock sweep every `CLOCK_SWEEP_SECONDS`; the outbox as soon as a
commit queues a message, else every `SMS_SWEEP_SECONDS`), and stops them on shutdown.

In every mode each ASGI process also runs the event relay's catch-up every
`RELAY_SWEEP_SECONDS`: events committed while the channel layer was down reach live
screens soon after it returns, even if no new event comes to push them out.

Each loop records its rounds (`command_center.ops.store.loop_beat`) for `/readyz`; with
Redis, each process also publishes its count of open sockets for `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from command_center.ops import store

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def db_call(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`func` for a loop, run in a worker thread as Django runs a request: connections too
    old or broken are closed before and after. Without that, a loop's thread keeps the
    connection a database restart dropped and fails every round after, for good."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


async def sweep_forever(interval: float) -> None:
    from incidents.services import clocks_sweep, idempotency_purge, presence_purge
    from playbooks.services import playbooks_tick

    store.loop_started("clock_sweep", interval=interval)
    while True:
        try:
            marked = await db_call(clocks_sweep)()
            if marked:
                log.info("clock sweep marked %d clocks overdue", marked)
            late = await db_call(playbooks_tick)()
            if late:
                log.info("checklist sweep marked %d steps late", late)
            await db_call(idempotency_purge)()
            await db_call(presence_purge)()
            store.loop_beat("clock_sweep", interval=interval)
        except Exception:
            log.exception("clock sweep failed; retrying next round")
        await asyncio.sleep(interval)


async def relay_forever(interval: float) -> None:
    from incidents.events import events_relay_all

    store.loop_started("relay", interval=interval)
    while True:
        try:
            relayed = await db_call(events_relay_all)()
            if relayed:
                log.info("relay caught up %d events", relayed)
            store.loop_beat("relay", interval=interval)
        except Exception:
            log.exception("event relay failed; retrying next round")
        await asyncio.sleep(interval)


async def alerts_forever(interval: float) -> None:
    """Send SMS as soon as a commit queues some (or every `interval`), and sweep alerts."""
    from alerts.services import alerts_tick, outbox_send
    from alerts.services.outbox import outbox_kicked
    from alerts.tasks import risk_sweep

    last_tick = last_risk = 0.0
    loop = asyncio.get_running_loop()
    store.loop_started("alerts", interval=interval)
    while True:
        try:
            await db_call(outbox_send)()
            if loop.time() - last_tick >= settings.ALERT_SWEEP_SECONDS:
                last_tick = loop.time()
                await db_call(alerts_tick)()
            if (
                settings.RISK_SWEEP_SECONDS > 0
                and loop.time() - last_risk >= settings.RISK_SWEEP_SECONDS
            ):
                last_risk = loop.time()
                await db_call(risk_sweep)()
            store.loop_beat("alerts", interval=interval)
        except Exception:
            log.exception("alert sweep failed; retrying next round")
        waited = 0.0
        while waited < interval and not outbox_kicked():
            await asyncio.sleep(0.2)
            waited += 0.2


async def reports_forever(interval: float) -> None:
    """Close finished months' rankings and draft the day's situation report when due."""
    from command_center.reports import rankings_close_all
    from command_center.situation import situation_drafts_sweep

    store.loop_started("reports", interval=interval)
    while True:
        try:
            closed = await db_call(rankings_close_all)()
            if closed:
                log.info("closed %d ranking months", closed)
            await db_call(situation_drafts_sweep)()
            store.loop_beat("reports", interval=interval)
        except Exception:
            log.exception("report sweep failed; retrying next round")
        await asyncio.sleep(interval)


async def sockets_published_forever() -> None:
    """Keep this process's count of open sockets in Redis (promptly after a change, and
    before its key expires), for the sum `/metrics` reports."""
    last = -float("inf")
    loop = asyncio.get_running_loop()
    while True:
        force = loop.time() - last >= store.WS_PUBLISH_SECONDS
        if await sync_to_async(store.ws_publish, thread_sensitive=False)(force=force) or force:
            last = loop.time()
        await asyncio.sleep(1.0)


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
                if settings.EMBEDDED_SWEEP and settings.SMS_SWEEP_SECONDS > 0:
                    self.tasks.append(
                        asyncio.create_task(alerts_forever(settings.SMS_SWEEP_SECONDS))
                    )
                if settings.EMBEDDED_SWEEP and settings.RANKING_CLOSE_SECONDS > 0:
                    self.tasks.append(
                        asyncio.create_task(
                            reports_forever(min(settings.RANKING_CLOSE_SECONDS, 600))
                        )
                    )
                if settings.RELAY_SWEEP_SECONDS > 0:
                    self.tasks.append(
                        asyncio.create_task(relay_forever(settings.RELAY_SWEEP_SECONDS))
                    )
                if settings.REDIS_URL:
                    self.tasks.append(asyncio.create_task(sockets_published_forever()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self.tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await sync_to_async(store.ws_forget, thread_sensitive=False)()
                await send({"type": "lifespan.shutdown.complete"})
                return
