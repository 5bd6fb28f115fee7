"""Send the SMS outbox and sweep alert escalations: a worker for hosts without Celery.

Production normally runs these as Celery tasks (`alerts.tasks`); this command does the same
work in a plain loop, and any number of copies may run beside Celery workers: they claim
messages with leases, so none is sent twice.

A lost database (a restart, a failover, a dropped connection) pauses the loop instead of
ending it: the round's error is logged, every connection is closed, and the next round
starts after a back-off (`--interval` doubled per failure, up to `RETRY_MAX_SECONDS`) on a
new connection. A message whose outcome the loss kept from being recorded is looked up at
the provider by its reference once its lease runs out, never sent blind a second time.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import Error as DatabaseError
from django.db import connections

from alerts.services import alerts_tick, outbox_send
from alerts.tasks import risk_sweep
from command_center.ops.store import worker_beat

log = logging.getLogger(__name__)

RETRY_MAX_SECONDS = 30.0


class Command(BaseCommand):
    help = "Send queued SMS and escalate unacknowledged alerts until stopped (or --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="drain once and exit")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between outbox polls"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.last_tick = self.last_risk = 0.0
        last_beat = -float("inf")
        failures = 0
        while True:
            try:
                sent = self.round()
            except DatabaseError as exc:
                if options["once"]:
                    raise
                failures += 1
                wait = min(options["interval"] * 2**failures, RETRY_MAX_SECONDS)
                log.warning("database unavailable (%s); retrying in %.1f s", str(exc).strip(), wait)
                self.stderr.write(f"database unavailable; retrying in {wait:.1f} s")
                connections.close_all()
                sent = 0
                self.pause(wait, lambda: stopping)
            else:
                failures = 0
                # For /readyz: beats only after a round that reached the database.
                if time.monotonic() - last_beat >= settings.HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    worker_beat("sms_worker", interval=settings.HEARTBEAT_SECONDS)
            if sent:
                self.stdout.write(f"sent {sent}")
            if options["once"] and not sent:
                return
            if stopping:
                return
            if not sent and not failures:
                time.sleep(options["interval"])

    def round(self) -> int:
        """Send one batch; sweep escalations and risk when they are due. Messages sent."""
        sent = outbox_send(max_batches=1)
        if time.monotonic() - self.last_tick >= settings.ALERT_SWEEP_SECONDS:
            self.last_tick = time.monotonic()
            alerts_tick()
        # Without Celery, this worker also scores what is due and marks late warnings.
        if (
            settings.RISK_SWEEP_SECONDS > 0
            and time.monotonic() - self.last_risk >= settings.RISK_SWEEP_SECONDS
        ):
            self.last_risk = time.monotonic()
            risk_sweep()
        return sent

    @staticmethod
    def pause(seconds: float, stopping: Callable[[], bool]) -> None:
        """Sleep `seconds`, waking early when the worker is told to stop."""
        deadline = time.monotonic() + seconds
        while not stopping() and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
