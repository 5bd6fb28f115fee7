"""Celery tasks: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from alerts.services import alerts_tick, outbox_send
from alerts.services.risk import district_ids, risk_score, warnings_sweep


@shared_task(name="alerts.tasks.send_outbox")
def send_outbox() -> int:
    """Send what the outbox holds (queued after each commit that adds messages, and by beat)."""
    return outbox_send()


@shared_task(name="alerts.tasks.tick")
def tick() -> int:
    """Escalate unacknowledged alerts and chase missing daily reports (beat, every 15 s)."""
    return alerts_tick()


@shared_task(name="alerts.tasks.score_risk")
def score_risk(district_id: int, subject_ids: list[int] | None = None) -> int:
    """Score subjects after their readings were stored (all those due when none are named)."""
    return risk_score(district_id=district_id, subject_ids=subject_ids).scored


@shared_task(name="alerts.tasks.risk_sweep")
def risk_sweep() -> int:
    """Beat: score whatever is due in every district, and mark late warnings overdue."""
    scored = sum(risk_score(district_id=d).scored for d in district_ids())
    return scored + warnings_sweep()
