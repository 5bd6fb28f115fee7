"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from alerts.services import alerts_tick, outbox_send


@shared_task(name="alerts.tasks.send_outbox")
def send_outbox() -> int:
    """Send what the outbox holds (queued after each commit that adds messages, and by beat)."""
    return outbox_send()


@shared_task(name="alerts.tasks.tick")
def tick() -> int:
    """Escalate unacknowledged alerts and chase missing daily reports (beat, every 15 s)."""
    return alerts_tick()
