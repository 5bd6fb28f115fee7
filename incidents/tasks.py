"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from incidents.events import events_relay_all
from incidents.services import clocks_sweep, idempotency_purge, presence_purge
from incidents.services.event_chain import chains_check


@shared_task(name="incidents.tasks.sweep_clocks")
def sweep_clocks() -> int:
    """Mark passed clocks overdue (scheduled by beat every CLOCK_SWEEP_SECONDS)."""
    return clocks_sweep()


@shared_task(name="incidents.tasks.purge_idempotency")
def purge_idempotency() -> int:
    """Forget old idempotency answers (scheduled hourly by beat)."""
    return idempotency_purge()


@shared_task(name="incidents.tasks.relay_events")
def relay_events() -> int:
    """Publish events the after-commit fast path left behind (scheduled every 5 s)."""
    return events_relay_all()


@shared_task(name="incidents.tasks.purge_presence")
def purge_presence() -> int:
    """Forget incident-room presence of sockets whose process died (scheduled each minute)."""
    return presence_purge()


@shared_task(name="incidents.tasks.verify_event_chains")
def verify_event_chains() -> int:
    """Recompute the event log's hash chains (scheduled every EVENT_CHAIN_CHECK_SECONDS)."""
    return chains_check()
