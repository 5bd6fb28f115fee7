"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from playbooks.services import playbooks_tick


@shared_task(name="playbooks.tasks.sweep_checklists")
def sweep_checklists() -> int:
    """Mark late checklist steps and start sensitive-period checklists (every
    CLOCK_SWEEP_SECONDS)."""
    return playbooks_tick()
