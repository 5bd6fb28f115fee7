"""Celery tasks of the command centre: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from command_center.ops.store import worker_beat
from command_center.reports import rankings_close_all
from command_center.situation import situation_drafts_sweep


@shared_task(name="command_center.tasks.draft_situation_reports")
def draft_situation_reports() -> int:
    """Draft the day's situation report where a sensitive period needs one (beat, every 10
    minutes; drafting is idempotent)."""
    return situation_drafts_sweep()


@shared_task(name="command_center.tasks.heartbeat")
def heartbeat() -> None:
    """Show /readyz that beat schedules and a worker runs tasks (beat, every
    HEARTBEAT_SECONDS)."""
    worker_beat("celery", interval=settings.HEARTBEAT_SECONDS)


@shared_task(name="command_center.tasks.close_rankings")
def close_rankings() -> int:
    """Record the strikes of every finished month not closed yet (beat, hourly; idempotent)."""
    return rankings_close_all()
