"""Reads of alerts, rosters and daily reports, filtered by what the person may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from alerts.domain.delivery import SmsStatus
from alerts.models import Alert, DutyShift, SmsMessage
from alerts.services.common import FOUR_DEPARTMENTS, local_day, sensitive_period
from alerts.services.zero_reports import DailyReportStatus, daily_report_status
from incidents.models import Incident, Unit
from incidents.policy import Actor

BOARD_ROWS = 10


def alerts_visible(actor: Actor, qs: QuerySet[Alert] | None = None) -> QuerySet[Alert]:
    """Command staff and reviewers see the district's alerts; others their own unit's."""
    qs = (qs if qs is not None else Alert.objects.all()).filter(district_id=actor.district_id)
    if actor.district_wide:
        return qs
    return qs.filter(unit_id=actor.unit_id) if actor.unit_id else qs.none()


def alert_rows(qs: QuerySet[Alert]) -> QuerySet[Alert]:
    """Alerts with what their rows show: unit, subject, who acknowledged, and messages."""
    return qs.select_related("unit", "incident", "case", "acknowledged_by").prefetch_related(
        Prefetch("messages", queryset=SmsMessage.objects.select_related("officer").order_by("pk"))
    )


def incident_alerts(actor: Actor, incident: Incident) -> list[Alert]:
    return list(alert_rows(alerts_visible(actor).filter(incident=incident)).order_by("pk"))


@dataclass(frozen=True)
class AlertBoard:
    period: str | None
    co_location: list[dict[str, Any]]
    waiting: list[Alert]
    waiting_count: int
    exhausted: list[Alert]
    exhausted_count: int
    given_up_today: int
    reports: DailyReportStatus | None


def alert_board(actor: Actor, *, now: datetime | None = None) -> AlertBoard:
    """What the dashboard shows of alerting: the period in force and who is co-located,
    alerts waiting for an acknowledgement, alerts nobody acknowledged, SMS given up today,
    and daily reports in a sensitive period."""
    now = now or timezone.now()
    day = local_day(now)
    period = sensitive_period(actor.district_id, day)
    visible = alerts_visible(actor)
    waiting = visible.filter(state=Alert.State.OPEN)
    exhausted = visible.filter(state=Alert.State.EXHAUSTED, raised_at__gte=now - timedelta(days=1))
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    given_up = SmsMessage.objects.filter(
        district_id=actor.district_id,
        status=SmsStatus.FAILED,
        status_at__gte=start,
        alert__in=visible,
    ).count()
    co_location: list[dict[str, Any]] = []
    if period is not None:
        shifts = DutyShift.objects.filter(
            day=day, unit__district_id=actor.district_id, unit__code__in=FOUR_DEPARTMENTS
        ).select_related("unit", "officer")
        by_unit: dict[Unit, dict[str, str]] = {}
        for shift in shifts:
            by_unit.setdefault(shift.unit, {})[shift.rung] = shift.officer.name
        co_location = [
            {"unit": unit, **rungs}
            for unit, rungs in sorted(by_unit.items(), key=lambda x: x[0].code)
        ]
    return AlertBoard(
        period=period.name if period else None,
        co_location=co_location,
        waiting=list(alert_rows(waiting).order_by("-raised_at")[:BOARD_ROWS]),
        waiting_count=waiting.count(),
        exhausted=list(alert_rows(exhausted).order_by("-raised_at")[:BOARD_ROWS]),
        exhausted_count=exhausted.count(),
        given_up_today=given_up,
        reports=daily_report_status(actor.district_id, day) if period is not None else None,
    )
