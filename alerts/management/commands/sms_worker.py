"""Send the SMS outbox and sweep alert escalations: a worker for hosts without Celery.

Production normally runs these as Celery tasks (`alerts.tasks`); this command does the same
work in a plain loop, and any number of copies may run beside Celery workers: they claim
messages with leases, so none is sent twice.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from alerts.services import alerts_tick, outbox_send
from alerts.tasks import risk_sweep
from command_center.ops.store import worker_beat


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
        last_tick = last_risk = 0.0
        last_beat = -float("inf")
        while True:
            if time.monotonic() - last_beat >= settings.HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                worker_beat("sms_worker", interval=settings.HEARTBEAT_SECONDS)  # for /readyz
            sent = outbox_send(max_batches=1)
            if time.monotonic() - last_tick >= settings.ALERT_SWEEP_SECONDS:
                last_tick = time.monotonic()
                alerts_tick()
            # Without Celery, this worker also scores what is due and marks late warnings.
            if (
                settings.RISK_SWEEP_SECONDS > 0
                and time.monotonic() - last_risk >= settings.RISK_SWEEP_SECONDS
            ):
                last_risk = time.monotonic()
                risk_sweep()
            if sent:
                self.stdout.write(f"sent {sent}")
            if options["once"] and not sent:
                return
            if stopping:
                return
            if not sent:
                time.sleep(options["interval"])
