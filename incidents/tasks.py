"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from incidents.services import clocks_sweep, idempotency_purge


@shared_task(name="incidents.tasks.sweep_clocks")
def sweep_clocks() -> int:
    """Mark passed clocks overdue (scheduled by beat every CLOCK_SWEEP_SECONDS)."""
    return clocks_sweep()


@shared_task(name="incidents.tasks.purge_idempotency")
def purge_idempotency() -> int:
    """Forget old idempotency answers (scheduled hourly by beat)."""
    return idempotency_purge()
